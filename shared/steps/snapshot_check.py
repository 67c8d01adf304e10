"""snapshot-check: find and validate the snapshot, open the run and take the target's lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.config import PipelineConfig
from shared.errors import PipelineError, RunExistsError, TargetBusyError
from shared.events import RdsEventDetail, RestoreRequestedDetail
from shared.inbound import PipelineTrigger, RdsTrigger, Rejected, ScheduleTick
from shared.model import AuditKind, AuditRecord, Run, RunStatus, StepTiming
from shared.naming import TAG_PIPELINE, copy_snapshot_id, lock_key_for, run_id_for
from shared.outcome import Outcome
from shared.outside_run import UNMATCHED, pipeline_subject, record_outside_run
from shared.ports import SnapshotView
from shared.steps.context import Deps
from shared.steps.turn import StepTurn, entry_fields
from shared.transitions import DetailType, Step

STEP = Step.SNAPSHOT_CHECK.value
AUTOMATED_CREATED = "RDS-EVENT-0169"
MANUAL_CREATED = "RDS-EVENT-0075"


@dataclass(frozen=True)
class Opening:
    """What asks for a run: the trigger's kind and key (the run id derives from them), and the audit's words."""

    kind: Literal["rds-event", "restore-requested"]
    key: str
    at: datetime
    trigger: str
    correlation_id: str | None = None
    requested_by: str | None = None


def record(
    deps: Deps,
    kind: AuditKind,
    message: str,
    *,
    trigger: str,
    pipeline: str | None = None,
    code: str | None = None,
    notify: bool = False,
) -> None:
    """Audit (and log, and optionally notify) a decision that does not belong to a run."""
    record_outside_run(
        deps.store,
        deps.log,
        deps.clock.now(),
        step=STEP,
        kind=kind,
        message=message,
        subject=pipeline_subject(pipeline) if pipeline else UNMATCHED,
        trigger=trigger,
        pipeline=pipeline,
        code=code,
    )
    if notify:
        try:
            deps.notifier.notify(
                f"aurora-restore [{pipeline}] run refused",
                f"{message}\n\ntrigger: {trigger}\nNo run was started and nothing was changed.",
                {"pipeline": pipeline or "", "status": "REFUSED"},
            )
        except PipelineError as exc:
            deps.log.error("refusal notification failed", extra={"code": exc.code})


def handle(deps: Deps, event: RdsTrigger | PipelineTrigger | ScheduleTick) -> Outcome:
    """Open a run for a new source snapshot, or for an operator's RestoreRequested."""
    if isinstance(event, RdsTrigger):
        opened = on_rds_snapshot(deps, event.rds.detail, event.time)
        return Outcome(step=STEP, result="opened" if opened else "none", run_id=",".join(opened) or None)
    if isinstance(event, PipelineTrigger) and isinstance(event.detail, RestoreRequestedDetail):
        run_id = on_restore_requested(deps, event.detail, event.event_id, event.time)
        return Outcome(step=STEP, result="opened" if run_id else "refused", run_id=run_id)
    raise Rejected(f"snapshot-check does not handle {event.trigger}")


def on_rds_snapshot(deps: Deps, detail: RdsEventDetail, event_time: datetime) -> list[str]:
    """An automated (or, where enabled, manual) snapshot of a configured source cluster was created."""
    trigger = f"{detail.EventID} {detail.SourceIdentifier or detail.SourceArn}"
    region, _account, resource_type, snapshot_id = detail.arn_parts
    snapshot = deps.rds_for(region).find_cluster_snapshot(snapshot_id) if resource_type == "cluster-snapshot" else None
    pipelines = deps.config.by_source(region, snapshot.cluster_id) if snapshot is not None else []
    if resource_type != "cluster-snapshot":
        ignored = f"not a cluster snapshot event: {detail.SourceArn}"
    elif snapshot is None:
        ignored = f"snapshot {snapshot_id} no longer exists in {region}"
    elif snapshot.tags.get(TAG_PIPELINE):
        ignored = f"{snapshot_id} is a copy made by aurora-restore"
    elif not pipelines:
        ignored = f"cluster {snapshot.cluster_id} in {region} is not a source"
    else:
        ignored = ""
    if snapshot is None or ignored:
        record(deps, "ignored", ignored, trigger=trigger)
        return []
    opened = []
    opening = Opening("rds-event", f"snapshot:{snapshot.arn}", snapshot.created_at or event_time, trigger)
    for pipeline in pipelines:
        if detail.EventID == MANUAL_CREATED and not pipeline.trigger_on_manual_snapshots:
            record(
                deps,
                "ignored",
                "manual snapshots do not trigger this pipeline",
                trigger=trigger,
                pipeline=pipeline.name,
            )
            continue
        run_id = open_run(deps, pipeline, snapshot, opening)
        if run_id:
            opened.append(run_id)
    return opened


def on_restore_requested(
    deps: Deps, request: RestoreRequestedDetail, event_id: str, event_time: datetime
) -> str | None:
    """An operator asked for a (re)run, optionally pinning a snapshot."""
    trigger = f"RestoreRequested {request.request_id or event_id}"
    pipeline = deps.config.pipeline(request.pipeline)
    if pipeline is None:
        known = [p.name for p in deps.config.pipelines]
        unknown = f"unknown pipeline {request.pipeline!r}; configured pipelines: {known}"
        record(deps, "rejected", unknown, trigger=trigger, pipeline=request.pipeline, code="UnknownPipeline")
        return None
    snapshot, problem = _requested_snapshot(deps, pipeline, request.snapshot_identifier)
    if snapshot is None:
        record(deps, "refused", problem, trigger=trigger, pipeline=pipeline.name, code="SnapshotNotUsable", notify=True)
        return None
    opening = Opening(
        "restore-requested",
        f"request:{request.request_id or event_id}",
        event_time,
        trigger,
        correlation_id=request.correlation_id,
        requested_by=request.requested_by,
    )
    return open_run(deps, pipeline, snapshot, opening)


def _requested_snapshot(
    deps: Deps, pipeline: PipelineConfig, identifier: str | None
) -> tuple[SnapshotView | None, str]:
    source = deps.rds_for(pipeline.source_region)
    if identifier is None:
        newest = source.newest_automated_snapshot(pipeline.source_cluster_id)
        if newest is None:
            return None, f"no available automated snapshot of {pipeline.source_cluster_id} in {pipeline.source_region}"
        return newest, ""
    snapshot_id = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":", 6)
        if len(parts) != 7 or parts[5] != "cluster-snapshot":
            return None, f"{identifier!r} is not a DB cluster snapshot ARN"
        if parts[3] != pipeline.source_region:
            return None, f"snapshot {identifier} is not in the source region {pipeline.source_region}"
        snapshot_id = parts[6]
    snapshot = source.find_cluster_snapshot(snapshot_id)
    if snapshot is None:
        return None, f"snapshot {identifier!r} not found in {pipeline.source_region}"
    return snapshot, ""


def _validate(pipeline: PipelineConfig, snapshot: SnapshotView) -> str | None:
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


def open_run(deps: Deps, pipeline: PipelineConfig, snapshot: SnapshotView, opening: Opening) -> str | None:
    """Validate the snapshot, create the run and take the target's lock in one transaction, emit RunRequested."""
    trigger, name = opening.trigger, pipeline.name
    problem = _validate(pipeline, snapshot)
    if problem:
        record(deps, "refused", problem, trigger=trigger, pipeline=name, code="SnapshotNotUsable", notify=True)
        return None
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
        target_region=pipeline.target_region,
        target_cluster_id=pipeline.target_cluster_id,
        copy_snapshot_id=copy_snapshot_id(pipeline.name, run_id),
        state_entered_at=now,
        deadline_at=now,
        next_check_at=now,
        timings={RunStatus.REQUESTED.value: StepTiming(started_at=now)},
    )
    run = base.model_copy(update=entry_fields(pipeline, RunStatus.REQUESTED, now))
    opened = AuditRecord(
        subject=run_id,
        at=now,
        kind="transition",
        step=STEP,
        run_id=run_id,
        pipeline=pipeline.name,
        to_status=RunStatus.REQUESTED,
        trigger=trigger,
        message=f"run opened for snapshot {snapshot.identifier} -> {pipeline.target_cluster_id}",
    )
    try:
        deps.store.create_run(run, lock_key_for(pipeline.target_region, pipeline.target_cluster_id), opened)
    except RunExistsError:
        record(deps, "ignored", f"duplicate trigger: run {run_id} already exists", trigger=trigger, pipeline=name)
        return None
    except TargetBusyError as busy:
        busy_message = (
            f"target {pipeline.target_cluster_id} already has an active run {busy.holder_run_id}; "
            "only one run per target cluster at a time"
        )
        record(deps, "refused", busy_message, trigger=trigger, pipeline=name, code="TargetBusy", notify=True)
        return None
    deps.log.info("run opened", extra={"run_id": run_id, "pipeline": pipeline.name})
    StepTurn(deps, run, STEP, trigger).emit(DetailType.RUN_REQUESTED)
    return run_id
