"""The run: one nightly restore of one pipeline, as stored in the state table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field

from shared.base_model import Model
from shared.cluster_settings import ClusterSettings, TargetSettings


class RunStatus(StrEnum):
    REQUESTED = "REQUESTED"
    COPYING = "COPYING"
    REPLACING_TARGET = "REPLACING_TARGET"
    RESTORING = "RESTORING"
    CONFIGURING_DB = "CONFIGURING_DB"
    VALIDATING = "VALIDATING"
    SWAPPING = "SWAPPING"
    ARCHIVING = "ARCHIVING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED)


# What opened a run: an RDS snapshot event, an operator's RestoreRequested, or the nightly watch's fallback when the
# night's RDS-EVENT-0169 never came (shared.steps.trigger_watch).
RunTrigger = Literal["rds-event", "restore-requested", "fallback"]

# Where a run's new cluster comes from, as chosen when the run leaves REQUESTED (shared.steps.restore_source): a
# restore from the run's copy of the snapshot, a copy-on-write clone of the source cluster, or a full-copy
# point-in-time restore of the source cluster.
RestoreFrom = Literal["snapshot-copy", "clone", "point-in-time"]


class StepTiming(Model):
    model_config = ConfigDict(extra="ignore")

    started_at: datetime
    ended_at: datetime | None = None

    @property
    def seconds(self) -> int | None:
        return None if self.ended_at is None else int((self.ended_at - self.started_at).total_seconds())


class RunError(Model):
    """What went wrong, in words an operator can act on. Never carries a secret."""

    model_config = ConfigDict(extra="ignore")

    step: str
    status: RunStatus
    code: str
    message: str
    transient: bool = False
    at: datetime


# ---- post-restore SQL progress (resumable long SQL) ---------------------------------------------------------------
class SqlProgress(Model):
    """How far the post-restore SQL of a run got, so a retry resumes after the last finished statement, and the
    statement in flight, so a later look can tell that its invocation died (Lambda timeout or crash) before it
    finished. Statements are numbered from 1; "the next statement" is number `done + 1`."""

    model_config = ConfigDict(extra="ignore")

    fingerprint: str  # of the statement list: a changed list starts over at statement 1
    total: int
    done: int = 0
    # The next statement, over all its attempts:
    full_attempts: int = 0  # starts with a whole invocation's time that ended before it finished
    first_started_at: datetime | None = None
    last_attempt_seconds: int | None = None  # whole seconds (DynamoDB stores no floats through boto3)
    # The next statement while an invocation runs it (cleared when that attempt ends either way):
    running_since: datetime | None = None
    running_until: datetime | None = None  # that invocation's own end: past it (and a grace), the invocation died
    running_fresh: bool = False  # it was the first statement of its invocation (had the whole invocation's time)
    connection_id: int | None = None  # the server thread running it, to cancel it if it outlives its invocation

    @property
    def next_statement(self) -> int:
        return self.done + 1

    @property
    def in_flight(self) -> bool:
        return self.running_since is not None


class CheckResult(Model):
    """One validation check run on the restored cluster before anyone sees it (the evidence of a restore)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    kind: Literal["no-rows", "min-rows", "freshness", "tls-login"]
    passed: bool
    detail: str  # what it found, in words an operator can act on (never a secret, at most a few sample values)


class SwapWindow(Model):
    """The cut-over of a `swap` run: the target name points at nothing from `vacated_at` (the old target renamed
    away) until `filled_at` (the new cluster renamed into place)."""

    model_config = ConfigDict(extra="ignore")

    vacated_at: datetime | None = None
    filled_at: datetime | None = None

    @property
    def seconds(self) -> int | None:
        if self.vacated_at is None or self.filled_at is None:
            return None
        return int((self.filled_at - self.vacated_at).total_seconds())


class ProgressSample(Model):
    """One look at an in-flight copy: when, and the PercentProgress AWS reported (shared.copy_pacing)."""

    model_config = ConfigDict(extra="ignore")

    at: datetime
    percent: int


class Run(Model):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    pipeline: str
    status: RunStatus
    version: int = 0
    created_at: datetime
    updated_at: datetime
    trigger: RunTrigger
    trigger_detail: str = ""
    correlation_id: str
    source_region: str
    source_snapshot_id: str
    source_snapshot_arn: str
    source_snapshot_created_at: datetime | None = None  # what "older than the target" compares (shared.steps.opening)
    target_region: str
    target_cluster_id: str
    copy_snapshot_id: str
    # Per-state bookkeeping: reset when the state changes.
    state_entered_at: datetime
    deadline_at: datetime
    next_check_at: datetime
    attempts: int = 0
    checks: int = 0
    last_error: RunError | None = None
    # Whole-run facts.
    timings: dict[str, StepTiming] = Field(default_factory=dict)
    failure: RunError | None = None
    copy_percent: int | None = None
    copy_samples: list[ProgressSample] = Field(default_factory=list)  # the last few looks at the copy's progress
    previous_target_settings: ClusterSettings | None = None  # read by delete-rds before deleting, for the restore
    restore_from: RestoreFrom | None = None  # chosen in REQUESTED; None (a run from before the choice): snapshot-copy
    previous_target: TargetSettings | None = None  # the target's own settings, read before the new cluster is made
    # `swap` cut-over: the new cluster is restored as `staging_cluster_id` and renamed into place; the old target is
    # renamed to `retired_cluster_id`. Both None for a `replace` run.
    staging_cluster_id: str | None = None
    retired_cluster_id: str | None = None
    master_rotated_at: datetime | None = None
    notified_at: datetime | None = None
    notify_claimed_at: datetime | None = None
    notification_abandoned: bool = False
    ended_at: datetime | None = None
    # Post-restore SQL (setup-db-users): resumes after the last finished statement.
    sql_progress: SqlProgress | None = None
    # Evidence of the restore: the validation checks' results and, for a `swap` cut-over, its window.
    validation: list[CheckResult] = Field(default_factory=list)
    swap: SwapWindow | None = None

    @property
    def new_cluster_id(self) -> str:
        """The identifier the run's new cluster has now: the staging one until the swap filled the target name."""
        if self.staging_cluster_id is None or (self.swap is not None and self.swap.filled_at is not None):
            return self.target_cluster_id
        return self.staging_cluster_id

    @property
    def pending_notification(self) -> bool:
        return self.status.is_terminal and self.notified_at is None and not self.notification_abandoned


AuditKind = Literal["transition", "decision", "ignored", "refused", "rejected", "error", "retry", "notified"]


class AuditRecord(Model):
    """One append-only line of the audit table."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(description="run id, or `pipeline#<name>` / `rejected` when no run exists")
    at: datetime
    kind: AuditKind
    step: str
    message: str
    run_id: str | None = None
    pipeline: str | None = None
    from_status: RunStatus | None = None
    to_status: RunStatus | None = None
    trigger: str | None = None
    code: str | None = None


# ---- Triggers: the per-pipeline watch item (shared.steps.trigger_watch, shared.steps.opening) --------------------
class DeferredTrigger(Model):
    """A snapshot trigger that found the target busy: its snapshot is restored once the active run has ended."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["rds-event", "fallback"]
    key: str  # the opening's trigger key (`snapshot:<arn>`), so the deferred run gets the id it would have had
    trigger: str
    snapshot_id: str
    snapshot_arn: str
    snapshot_created_at: datetime
    blocked_by: str | None  # the run that held the target
    deferred_at: datetime


class RetiredCluster(Model):
    """A cluster a `swap` (or a rollback) took out of the target's place: kept until `delete_after`, then deleted by
    the check (shared/steps/retired_clusters.py), only if it still carries the pipeline's ownership tag."""

    model_config = ConfigDict(extra="ignore")

    # retired: a replaced target (what a rollback brings back); staging: a failed run's staging cluster;
    # rolled-back: the cluster a rollback took out of the target's place.
    kind: Literal["retired", "staging", "rolled-back"] = "retired"
    cluster_id: str
    arn: str
    run_id: str  # the run whose swap retired it
    run_tag: str = ""  # the retired cluster's own run tag (what tells it apart once renamed)
    retired_at: datetime
    delete_after: datetime
    replaced_by: str | None = None  # the run tag of the cluster that took the target name (for a rollback)


class PipelineWatch(Model):
    """One item per pipeline in the state table: the night whose trigger is awaited, and a deferred trigger."""

    model_config = ConfigDict(extra="ignore")

    pipeline: str
    version: int = 0
    watching_since: datetime  # nights that started earlier are not the watch's concern (no fallback at deploy)
    updated_at: datetime
    night_start: datetime | None = None  # the awaited night: its trigger is expected from this time on
    night_due: datetime | None = None  # the next look: that night's trigger is overdue from then on
    deferred: DeferredTrigger | None = None
    retired: list[RetiredCluster] = Field(default_factory=list)  # kept for rollback, deleted after their time
