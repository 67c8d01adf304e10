"""`aurora-restore rollback PIPELINE`: the retired target back under the target name (shared/steps/rollback.py).

Run here, with the operator's credentials, rather than through a pipeline event and a function: it is an attended
action that takes minutes (two renames), the operator sees each step as it happens and can stop and resume it (each
call observes RDS and does the next thing), and the functions' roles need no power to rename a cluster back over
the target outside a run. The guards are the same code the functions run (ownership tags, no active run), every
action is audited under `pipeline#<name>` and the start and end are notified on the pipeline's topic."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ops.errors import CliError
from ops.session import Settings
from shared.deps import ClientFactory, build_deps
from shared.errors import PipelineError
from shared.settings import Settings as FunctionSettings
from shared.steps.context import Deps
from shared.steps.rollback import Progress, advance_rollback


class _OperatorClients(ClientFactory):
    """The operator's clients (region, endpoint URL) in the functions' composition root."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    def client(self, service: str, region: str | None = None) -> Any:
        return self._settings.client(service, region)


def deps_of(settings: Settings) -> Deps:
    env = {
        "STATE_TABLE_NAME": settings.name("state_table"),
        "AUDIT_TABLE_NAME": settings.name("audit_table"),
        "EVENT_BUS_NAME": settings.name("bus"),
        "SNS_TOPIC_ARN": settings.name("topic"),
        "TARGET_REGION": settings.region or "",
        "CONFIG_PARAMETER_NAME": settings.name("config_parameter"),
        "CONFIG_SEED_PARAMETER_NAME": settings.name("seed_parameter"),
    }
    return build_deps(FunctionSettings.model_validate(env), _OperatorClients(settings))


def roll_back(
    deps: Deps,
    pipeline: str,
    report: Callable[[str], None],
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> Progress:
    """Advance the rollback until done or `timeout` seconds; each step's message goes to `report`."""
    config = deps.config.pipeline(pipeline)
    if config is None:
        raise CliError(f"no pipeline {pipeline} in the configuration", "list them: `aurora-restore config show`")
    waited = 0.0
    while True:
        try:
            progress = advance_rollback(deps, config)
        except PipelineError as exc:
            raise CliError(f"rollback refused [{exc.code}]: {exc.message}", "see `aurora-restore audit`") from None
        report(progress.message)
        if progress.done or waited >= timeout:
            return progress
        sleep(interval)
        waited += interval
