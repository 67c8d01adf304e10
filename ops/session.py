"""Where the CLI's AWS resources are: the global options, completed from the stack's outputs, and the clients.

Names not given (option or environment variable) come from the stack's outputs (infra/template.src.yaml, Outputs),
looked up once, only when a command needs one."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ops.errors import NAMES_HINT, CliError

# Setting -> the stack output that names it (infra/template.src.yaml, Outputs).
STACK_OUTPUTS = {
    "state_table": "StateTableName",
    "audit_table": "AuditTableName",
    "bus": "EventBusName",
    "failed_queue": "FailedInvocationsQueueUrl",
    "config_parameter": "ConfigParameterName",
    "seed_parameter": "ConfigSeedParameterName",
    "topic": "NotificationTopicArn",
}


class StackNotFound(CliError):
    """The stack to read names from is missing or lacks an output."""


@dataclass
class Settings:
    """The global options (before or after the command), then whatever the stack's outputs add."""

    stack: str = field(default_factory=lambda: os.environ.get("AURORA_RESTORE_STACK", "aurora-restore"))
    region: str | None = field(default_factory=lambda: os.environ.get("TARGET_REGION") or None)
    endpoint_url: str | None = None
    output: str = "table"
    environment: str | None = field(default_factory=lambda: os.environ.get("ENVIRONMENT") or None)
    state_table: str | None = field(default_factory=lambda: os.environ.get("STATE_TABLE_NAME"))
    audit_table: str | None = field(default_factory=lambda: os.environ.get("AUDIT_TABLE_NAME"))
    bus: str | None = field(default_factory=lambda: os.environ.get("EVENT_BUS_NAME"))
    failed_queue: str | None = field(default_factory=lambda: os.environ.get("FAILED_INVOCATIONS_QUEUE_URL"))
    config_parameter: str | None = None
    seed_parameter: str | None = None
    topic: str | None = field(default_factory=lambda: os.environ.get("SNS_TOPIC_ARN"))
    _outputs: dict[str, str] | None = None

    @property
    def json(self) -> bool:
        return self.output == "json"

    def client(self, service: str, region: str | None = None) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service, region_name=region or self.region, endpoint_url=self.endpoint_url
        )

    def name(self, setting: str) -> str:
        """The setting's value; not given, the stack's output for it."""
        value = getattr(self, setting)
        if value:
            return str(value)
        outputs = self.stack_outputs()
        key = STACK_OUTPUTS[setting]
        if key not in outputs:
            raise StackNotFound(f"stack {self.stack!r} has no output {key}", NAMES_HINT)
        setattr(self, setting, outputs[key])
        return outputs[key]

    def stack_outputs(self, cloudformation: Any = None) -> dict[str, str]:
        if self._outputs is None:
            cloudformation = cloudformation or self.client("cloudformation")
            (stack,) = cloudformation.describe_stacks(StackName=self.stack)["Stacks"]
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return self._outputs


def fill_names_from_stack(settings: Settings, cloudformation: Any = None) -> None:
    """Every table and bus name not given on the command line or in the environment, from the stack's outputs."""
    missing = [s for s in ("state_table", "audit_table", "bus") if not getattr(settings, s)]
    if not missing:
        return
    try:
        settings.stack_outputs(cloudformation)
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        raise StackNotFound(f"stack {settings.stack!r}: {message}", NAMES_HINT) from None
    for setting in missing:
        settings.name(setting)
