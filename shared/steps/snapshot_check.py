"""snapshot-check: find and validate the snapshot, open the run and take the target's lock.

A snapshot is accepted only when the ARN that names it (the RDS event's SourceArn, or a pinned ARN) is in the
configured source's region and account: the snapshot is described in this account, so an ARN of another account
would otherwise open a run on this account's snapshot of the same name. Opening itself (validation, no rollback of
the target: shared.steps.opening) and a busy target (shared.steps.deferral) are shared with the orchestrator
check's trigger watch.
"""

from __future__ import annotations

from datetime import datetime

from shared.config import PipelineConfig
from shared.events import RdsEventDetail, RestoreRequestedDetail
from shared.inbound import PipelineTrigger, RdsTrigger, Rejected, ScheduleTick
from shared.naming import TAG_PIPELINE
from shared.outcome import Outcome
from shared.ports import SnapshotView
from shared.steps.context import Deps
from shared.steps.deferral import answer_busy
from shared.steps.opening import STEP, Busy, Opened, Opening, open_run, record

AUTOMATED_CREATED = "RDS-EVENT-0169"
MANUAL_CREATED = "RDS-EVENT-0075"


def handle(deps: Deps, event: RdsTrigger | PipelineTrigger | ScheduleTick) -> Outcome:
    """Open a run for a new source snapshot, or for an operator's RestoreRequested."""
    if isinstance(event, RdsTrigger):
        opened = on_rds_snapshot(deps, event.rds.detail, event.time)
        return Outcome(step=STEP, result="opened" if opened else "none", run_id=",".join(opened) or None)
    if isinstance(event, PipelineTrigger) and isinstance(event.detail, RestoreRequestedDetail):
        run_id = on_restore_requested(deps, event.detail, event.event_id, event.time)
        return Outcome(step=STEP, result="opened" if run_id else "refused", run_id=run_id)
    raise Rejected(f"snapshot-check does not handle {event.trigger}")


def arn_account(arn: str) -> str:
    parts = arn.split(":", 6)
    return parts[4] if len(parts) == 7 else ""


def foreign_account(named_arn: str, snapshot: SnapshotView, pipeline: PipelineConfig | None = None) -> str | None:
    """Why a snapshot named by `named_arn` is not the configured source's, or None. The snapshot was described in
    this account, so its own ARN names this account (DescribeDBClusterSnapshots, DBClusterSnapshotArn)."""
    named = arn_account(named_arn)
    expected = (pipeline.source_account_id if pipeline else None) or arn_account(snapshot.arn)
    if named == expected:
        return None
    return (
        f"{named_arn} names account {named}, but the source's snapshots are in account {expected}: refused, "
        "nothing restored (an event or a pin from another account never opens a run on this account's snapshot "
        "of the same name)"
    )


def on_rds_snapshot(deps: Deps, detail: RdsEventDetail, event_time: datetime) -> list[str]:
    """An automated (or, where enabled, manual) snapshot of a configured source cluster was created."""
    trigger = f"{detail.EventID} {detail.SourceIdentifier or detail.SourceArn}"
    region, _account, resource_type, snapshot_id = detail.arn_parts
    snapshot = deps.rds_for(region).find_cluster_snapshot(snapshot_id) if resource_type == "cluster-snapshot" else None
    pipelines = deps.config.by_source(region, snapshot.cluster_id) if snapshot is not None else []
    if resource_type != "cluster-snapshot":
        ignored = f"not a cluster snapshot event: {detail.SourceArn}"
    elif snapshot is None:
        ignored = f"snapshot {snapshot_id} no longer exists in {region} (of this account)"
    elif foreign := foreign_account(detail.SourceArn, snapshot):
        names: list[str | None] = [p.name for p in pipelines]
        for name in names or [None]:
            record(deps, "refused", foreign, trigger=trigger, pipeline=name, code="ForeignSnapshot", notify=bool(name))
        return []
    elif snapshot.tags.get(TAG_PIPELINE):
        ignored = f"{snapshot_id} is a copy made by aurora-restore"
    elif not pipelines:
        ignored = f"cluster {snapshot.cluster_id} in {region} is not a source"
    else:
        ignored = ""
    if snapshot is None or ignored:
        record(deps, "ignored", ignored, trigger=trigger)
        return []
    opening = Opening("rds-event", f"snapshot:{snapshot.arn}", snapshot.created_at or event_time, trigger)
    opened = [_open_for(deps, pipeline, detail, snapshot, opening) for pipeline in pipelines]
    return [run_id for run_id in opened if run_id]


def _open_for(
    deps: Deps, pipeline: PipelineConfig, detail: RdsEventDetail, snapshot: SnapshotView, opening: Opening
) -> str | None:
    trigger = opening.trigger
    if detail.EventID == MANUAL_CREATED and not pipeline.trigger_on_manual_snapshots:
        record(
            deps, "ignored", "manual snapshots do not trigger this pipeline", trigger=trigger, pipeline=pipeline.name
        )
        return None
    foreign = foreign_account(detail.SourceArn, snapshot, pipeline)
    if foreign:
        record(deps, "refused", foreign, trigger=trigger, pipeline=pipeline.name, code="ForeignSnapshot", notify=True)
        return None
    result = open_run(deps, pipeline, snapshot, opening)
    if isinstance(result, Busy):
        answer_busy(deps, pipeline, snapshot, opening, result)
    return result.run_id if isinstance(result, Opened) else None


def on_restore_requested(
    deps: Deps, request: RestoreRequestedDetail, event_id: str, event_time: datetime
) -> str | None:
    """An operator asked for a (re)run, optionally pinning a snapshot (and, to go back in time, `allow_older`)."""
    trigger = f"RestoreRequested {request.request_id or event_id}"
    pipeline = deps.config.pipeline(request.pipeline)
    if pipeline is None:
        known = [p.name for p in deps.config.pipelines]
        unknown = f"unknown pipeline {request.pipeline!r}; configured pipelines: {known}"
        record(deps, "rejected", unknown, trigger=trigger, pipeline=request.pipeline, code="UnknownPipeline")
        return None
    snapshot, problem, code = _requested_snapshot(deps, pipeline, request.snapshot_identifier)
    if snapshot is None:
        record(deps, "refused", problem, trigger=trigger, pipeline=pipeline.name, code=code, notify=True)
        return None
    opening = Opening(
        "restore-requested",
        f"request:{request.request_id or event_id}",
        event_time,
        trigger,
        correlation_id=request.correlation_id,
        requested_by=request.requested_by,
        why=f"allow_older: the operator may roll the target back to {snapshot.identifier}"
        if request.allow_older
        else "",
        allow_older=request.allow_older,
    )
    result = open_run(deps, pipeline, snapshot, opening)
    if isinstance(result, Busy):
        answer_busy(deps, pipeline, snapshot, opening, result)
    return result.run_id if isinstance(result, Opened) else None


def _requested_snapshot(
    deps: Deps, pipeline: PipelineConfig, identifier: str | None
) -> tuple[SnapshotView | None, str, str]:
    """The snapshot a request asks for, or None, why not and the refusal's code."""
    source = deps.rds_for(pipeline.source_region)
    if identifier is None:
        newest = source.newest_automated_snapshot(pipeline.source_cluster_id)
        if newest is None:
            missing = f"no available automated snapshot of {pipeline.source_cluster_id} in {pipeline.source_region}"
            return None, missing, "SnapshotNotUsable"
        return newest, "", ""
    snapshot_id = identifier
    if identifier.startswith("arn:"):
        parts = identifier.split(":", 6)
        if len(parts) != 7 or parts[5] != "cluster-snapshot":
            return None, f"{identifier!r} is not a DB cluster snapshot ARN", "SnapshotNotUsable"
        if parts[3] != pipeline.source_region:
            return (
                None,
                f"snapshot {identifier} is not in the source region {pipeline.source_region}",
                "SnapshotNotUsable",
            )
        snapshot_id = parts[6]
    snapshot = source.find_cluster_snapshot(snapshot_id)
    if snapshot is None:
        return None, f"snapshot {identifier!r} not found in {pipeline.source_region}", "SnapshotNotUsable"
    if identifier.startswith("arn:") and (foreign := foreign_account(identifier, snapshot, pipeline)):
        return None, foreign, "ForeignSnapshot"
    return snapshot, "", ""
