"""Opening a run: validate the snapshot, never roll the target back, create the run and take the target's lock in
one transaction, emit RunRequested. snapshot-check opens runs for RDS events and RestoreRequested; the orchestrator
check's trigger watch (shared.steps.trigger_watch) opens the fallback run of a night whose trigger never came and
the run of a trigger that was deferred while the target was busy.

Rules (each with its reason in the audit):
- the run id derives from the trigger's key, and every snapshot trigger keys on the snapshot's ARN: an RDS event,
  the fallback and a deferred trigger for one snapshot open one run, whichever comes first; the rest are duplicates;
- a snapshot older than the one the target holds (the newest SUCCEEDED run of the pipeline) is refused: an event
  replayed late (e.g. a redrive after a configuration fix) must not roll the target back. Only an operator's
  RestoreRequested that pins the snapshot and says `allow_older: true` may;
- a target that is busy is the caller's to answer: shared.steps.deferral refuses the trigger and, for a newer
  snapshot, defers it until the target is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.clock import iso
from shared.config import PipelineConfig
from shared.errors import PipelineError, RunExistsError, TargetBusyError
from shared.model import AuditKind, AuditRecord, Run, RunStatus, RunTrigger, StepTiming
from shared.naming import copy_snapshot_id, lock_key_for, run_id_for
from shared.outside_run import UNMATCHED, pipeline_subject, record_outside_run
from shared.ports import SnapshotView
from shared.steps.context import Deps
from shared.steps.preflight_gate import check_opened_run
from shared.steps.turn import StepTurn, entry_fields
from shared.transitions import DetailType, Step

STEP = Step.SNAPSHOT_CHECK.value
# How many SUCCEEDED-or-not runs back the target's current snapshot is looked for (one run a night, plus reruns).
HISTORY = 50


@dataclass(frozen=True)
class Opening:
    """What asks for a run: the trigger's kind and key (the run id derives from them), and the audit's words."""

    kind: RunTrigger
    key: str
    at: datetime
    trigger: str
    correlation_id: str | None = None
    requested_by: str | None = None
    why: str = ""  # why this run starts, when the trigger alone does not say (fallback, deferral)
    allow_older: bool = False
    step: str = STEP

    @property
    def deferrable(self) -> bool:
        """An operator's request is answered now (refused and told), never queued behind the active run."""
        return self.kind != "restore-requested"


@dataclass(frozen=True)
class Opened:
    run_id: str


@dataclass(frozen=True)
class Duplicate:
    run_id: str


@dataclass(frozen=True)
class Busy:
    holder_run_id: str | None


@dataclass(frozen=True)
class Refused:
    code: str
    message: str


Result = Opened | Duplicate | Busy | Refused


def record(
    deps: Deps,
    kind: AuditKind,
    message: str,
    *,
    trigger: str,
    pipeline: str | None = None,
    code: str | None = None,
    notify: bool = False,
    step: str = STEP,
    deferred: bool = False,
) -> None:
    """Audit (and log, and optionally notify) a decision that does not belong to a run."""
    record_outside_run(
        deps.store,
        deps.log,
        deps.clock.now(),
        step=step,
        kind=kind,
        message=message,
        subject=pipeline_subject(pipeline) if pipeline else UNMATCHED,
        trigger=trigger,
        pipeline=pipeline,
        code=code,
    )
    if notify:
        try:
            closing = (
                "No run was started yet: it starts once the active run has ended."
                if deferred
                else "No run was started and nothing was changed."
            )
            deps.notifier.notify(
                f"aurora-restore [{pipeline}] run {'deferred' if deferred else 'refused'}",
                f"{message}\n\ntrigger: {trigger}\n{closing}",
                {"pipeline": pipeline or "", "status": "DEFERRED" if deferred else "REFUSED"},
            )
        except PipelineError as exc:
            deps.log.error("refusal notification failed", extra={"code": exc.code})


def validate(pipeline: PipelineConfig, snapshot: SnapshotView) -> str | None:
    if snapshot.cluster_id.lower() != pipeline.source_cluster_id.lower():
        return (
            f"snapshot {snapshot.identifier} belongs to cluster {snapshot.cluster_id}, not to the pipeline's "
            f"source {pipeline.source_cluster_id}"
        )
    if snapshot.status != "available":
        return f"snapshot {snapshot.identifier} is {snapshot.status!r}, not 'available'"
    if snapshot.engine and not snapshot.engine.startswith(pipeline.engine):
        return f"snapshot {snapshot.identifier} is {snapshot.engine}, the pipeline restores {pipeline.engine}"
    return None


def target_snapshot(deps: Deps, pipeline: PipelineConfig) -> Run | None:
    """The run whose snapshot the target holds: the pipeline's newest SUCCEEDED run (by-pipeline index)."""
    return next((r for r in deps.store.recent_runs(pipeline.name, HISTORY) if r.status is RunStatus.SUCCEEDED), None)


def rollback(snapshot: SnapshotView, held: Run | None) -> str | None:
    """Why restoring `snapshot` would roll the target back, or None. Compares snapshot creation times; a run from
    before they were recorded cannot be compared and does not block."""
    if held is None or held.source_snapshot_created_at is None or snapshot.created_at is None:
        return None
    if snapshot.created_at >= held.source_snapshot_created_at:
        return None
    return (
        f"snapshot {snapshot.identifier} (created {iso(snapshot.created_at)}) is older than "
        f"{held.source_snapshot_id} (created {iso(held.source_snapshot_created_at)}), which the target holds since "
        f"run {held.run_id}: a run never rolls the target back (an operator may, with a RestoreRequested that pins "
        "the snapshot and sets allow_older: true)"
    )


def open_run(deps: Deps, pipeline: PipelineConfig, snapshot: SnapshotView, opening: Opening) -> Result:
    """Validate the snapshot, create the run and take the target's lock in one transaction, emit RunRequested.
    Refusals and duplicates are audited here; a busy target is the caller's to answer (deferral.answer_busy)."""
    trigger, name = opening.trigger, pipeline.name
    problem = validate(pipeline, snapshot)
    if problem:
        record(deps, "refused", problem, trigger=trigger, pipeline=name, code="SnapshotNotUsable", notify=True,
               step=opening.step)  # fmt: skip
        return Refused("SnapshotNotUsable", problem)
    older = None if opening.allow_older else rollback(snapshot, target_snapshot(deps, pipeline))
    if older:
        # A replayed event is expected to be refused quietly; an operator or the fallback must hear of it.
        notify = opening.kind != "rds-event"
        record(deps, "refused", older, trigger=trigger, pipeline=name, code="OlderThanTarget", notify=notify,
               step=opening.step)  # fmt: skip
        return Refused("OlderThanTarget", older)
    now = deps.clock.now()
    run_id = run_id_for(pipeline.name, opening.key, opening.at)
    base = Run(
        run_id=run_id,
        pipeline=pipeline.name,
        status=RunStatus.REQUESTED,
        created_at=now,
        updated_at=now,
        trigger=opening.kind,
        trigger_detail=trigger + (f" by {opening.requested_by}" if opening.requested_by else ""),
        correlation_id=opening.correlation_id or run_id,
        source_region=pipeline.source_region,
        source_snapshot_id=snapshot.identifier,
        source_snapshot_arn=snapshot.arn,
        source_snapshot_created_at=snapshot.created_at,
        target_region=pipeline.target_region,
        target_cluster_id=pipeline.target_cluster_id,
        copy_snapshot_id=copy_snapshot_id(pipeline.name, run_id),
        state_entered_at=now,
        deadline_at=now,
        next_check_at=now,
        timings={RunStatus.REQUESTED.value: StepTiming(started_at=now)},
    )
    run = base.model_copy(update=entry_fields(pipeline, RunStatus.REQUESTED, now))
    message = f"run opened for snapshot {snapshot.identifier} -> {pipeline.target_cluster_id}"
    opened = AuditRecord(
        subject=run_id,
        at=now,
        kind="transition",
        step=opening.step,
        run_id=run_id,
        pipeline=pipeline.name,
        to_status=RunStatus.REQUESTED,
        trigger=trigger,
        message=f"{message}; {opening.why}" if opening.why else message,
    )
    try:
        deps.store.create_run(run, lock_key_for(pipeline.target_region, pipeline.target_cluster_id), opened)
    except RunExistsError:
        duplicate = f"duplicate trigger: run {run_id} already exists"
        record(deps, "ignored", duplicate, trigger=trigger, pipeline=name, step=opening.step)
        return Duplicate(run_id)
    except TargetBusyError as busy:
        return Busy(busy.holder_run_id)
    deps.log.info("run opened", extra={"run_id": run_id, "pipeline": pipeline.name, "trigger": opening.kind})
    turn = StepTurn(deps, run, opening.step, trigger)
    if check_opened_run(turn, pipeline, snapshot) is None:
        turn.emit(DetailType.RUN_REQUESTED)
    return Opened(run_id)
