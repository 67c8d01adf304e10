"""Domain errors. Adapters translate provider errors into these so the steps never see botocore or pymysql."""

from __future__ import annotations


class PipelineError(Exception):
    """Base for errors the pipeline records in state and audit.

    `code` is machine-readable (e.g. the AWS error code), `message` is written for an operator and must never
    contain a secret value; `transient` decides between retry-with-backoff and failing the run at once.
    """

    def __init__(self, code: str, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ResourceBusy(PipelineError):
    """AWS refused because the resource is busy, not broken: a backup, maintenance or modification in progress
    (`InvalidDBClusterStateFault`, `InvalidDBInstanceState`), or every copy slot taken. The default error policy
    (`StepTurn.retry_or_fail`) waits with backoff, spends no retry attempt, and fails only at the state's deadline."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, transient=True)


class ConfigError(PipelineError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidConfiguration", message, transient=False)


class StatementTimedOut(PipelineError):
    """A SQL statement ran past the time it was given and was cancelled on the server."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "StatementTimedOut", f"statement ran past its {seconds:.0f}s and was cancelled", transient=True
        )
        self.seconds = seconds


class SafetyViolation(PipelineError):
    """A deletion guard refused to act. Never retried: a human must look."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, transient=False)


class StaleRunError(Exception):
    """A conditional write lost: the run moved on (duplicate, stale or concurrent event)."""

    def __init__(self, run_id: str, current_status: str | None, current_version: int | None) -> None:
        super().__init__(f"run {run_id} is now {current_status} v{current_version}")
        self.run_id = run_id
        self.current_status = current_status
        self.current_version = current_version


class StaleWatchError(Exception):
    """A conditional write of a pipeline's watch item lost: another writer changed (or created) it first."""

    def __init__(self, pipeline: str) -> None:
        super().__init__(f"the watch of pipeline {pipeline} changed meanwhile")
        self.pipeline = pipeline


class TargetBusyError(Exception):
    """Another run already holds the target cluster's lock."""

    def __init__(self, target: str, holder_run_id: str | None) -> None:
        super().__init__(f"target {target} already has an active run {holder_run_id}")
        self.target = target
        self.holder_run_id = holder_run_id


class RunExistsError(Exception):
    """The run id (derived from the trigger) was opened before: a duplicate trigger."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id} already exists")
        self.run_id = run_id


def snapshot_already_exists(exc: PipelineError) -> bool:
    return exc.code == "DBClusterSnapshotAlreadyExistsFault"


def cluster_already_exists(exc: PipelineError) -> bool:
    return exc.code == "DBClusterAlreadyExistsFault"


class CannotCheck(Exception):
    """A preflight observation that could not be made (the API is not available here, or the caller lacks the
    permission to read it): the preflight says so as a warning, it never guesses."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
