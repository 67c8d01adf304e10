"""Environment of a Lambda container, validated once (fail fast with every missing variable named)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import ConfigDict, Field, ValidationError

from shared.base_model import Model
from shared.errors import ConfigError


class Settings(Model):
    model_config = ConfigDict(frozen=True, extra="ignore")

    environment: str = Field(default="dev", alias="ENVIRONMENT")
    state_table_name: str = Field(alias="STATE_TABLE_NAME")
    audit_table_name: str = Field(alias="AUDIT_TABLE_NAME")
    idempotency_table_name: str | None = Field(default=None, alias="IDEMPOTENCY_TABLE_NAME")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    sns_topic_arn: str = Field(alias="SNS_TOPIC_ARN")
    target_region: str = Field(alias="TARGET_REGION")
    source_region: str | None = Field(default=None, alias="SOURCE_REGION")
    kms_key_id: str | None = Field(default=None, alias="KMS_KEY_ID")
    config_parameter_name: str | None = Field(default=None, alias="CONFIG_PARAMETER_NAME")
    config_seed_parameter_name: str | None = Field(default=None, alias="CONFIG_SEED_PARAMETER_NAME")
    pipelines_config: str | None = Field(default=None, alias="PIPELINES_CONFIG")
    evidence_bucket_name: str | None = Field(default=None, alias="EVIDENCE_BUCKET_NAME")  # empty: no evidence kept
    # Exact wake-ups (EventBridge Scheduler one-time schedules putting RunCheckDue on the pipeline bus). Unset: no
    # wake-ups, the periodic check alone finds due runs.
    wakeup_schedule_group: str | None = Field(default=None, alias="WAKEUP_SCHEDULE_GROUP")
    wakeup_role_arn: str | None = Field(default=None, alias="WAKEUP_ROLE_ARN")
    event_bus_arn: str | None = Field(default=None, alias="EVENT_BUS_ARN")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(env)
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]) for e in exc.errors())
        raise ConfigError(f"missing or invalid environment variables: {missing}") from None
    if not settings.config_parameter_name and not settings.pipelines_config:
        raise ConfigError("set CONFIG_PARAMETER_NAME (SSM parameter) or PIPELINES_CONFIG (inline JSON)")
    return settings
