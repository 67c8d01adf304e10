"""copy-snapshot: copy the source snapshot into the target region, re-encrypted with the pipeline's key; or, when
the new cluster comes straight from the source cluster (a clone or a point-in-time restore, chosen here by
shared/steps/restore_source.py), no copy at all.

Two AWS limits stand in the way, both answered with `SnapshotQuotaExceeded`:
- the manual cluster snapshot quota of the target region (100 by default): checked before copying, and a full
  quota refuses the run with a clear reason instead of failing mid-run;
- "up to five snapshot copy requests in progress to a single destination Region per account" (Aurora UG, Copying
  a DB cluster snapshot, https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-copy-snapshot.html):
  not a failure but a queue. The copy waits for a slot (`ResourceBusy`: no retry attempt spent, the state's
  deadline bounds it) and starts when one frees. The message AWS gives for cluster copies is UNVERIFIED (reported
  for CopyDBSnapshot: "Cannot copy more than 5 snapshots across regions"), so the two are told apart by reading
  the quota, never by the wording.
A run that fails while its copy is in flight deletes that copy (`cancel_copy`, called by the notification step
through `shared/steps/on_failure.py`), which cancels it and frees its slot.
"""

from __future__ import annotations

from shared.errors import PipelineError, ResourceBusy, SafetyViolation, snapshot_already_exists
from shared.model import RunStatus
from shared.naming import TAG_RUN, TAG_SOURCE_SNAPSHOT, ownership_tags, strip_automated_prefix
from shared.ports import RdsGateway, SnapshotQuota, SnapshotView
from shared.steps import restore_source
from shared.steps.turn import StepTurn

# Statuses of a cluster snapshot copy that is still in flight (holds one of the 5 slots).
IN_FLIGHT = frozenset({"creating", "copying", "pending"})
SNAPSHOT_QUOTA_CODES = frozenset({"SnapshotQuotaExceeded", "SnapshotQuotaExceededFault"})


def quota_full(region: str, quota: SnapshotQuota, keep_last: int) -> PipelineError:
    return PipelineError(
        "SnapshotQuotaExceeded",
        f"snapshot quota reached: {quota.used} of {quota.max} manual cluster snapshots in {region} "
        f"(quota ManualClusterSnapshots) and the copy needs one more; delete old manual cluster snapshots or raise "
        f"the quota (this pipeline keeps retention.keep_last={keep_last}). Nothing was copied.",
    )


def quota_or_queue(rds: RdsGateway, region: str, error: PipelineError, keep_last: int) -> PipelineError:
    """`SnapshotQuotaExceeded` from CopyDBClusterSnapshot: a full quota fails the run; otherwise every copy slot of
    the destination region is taken, and the copy waits for one."""
    quota = rds.manual_snapshot_quota()
    if quota is not None and quota.full:
        return quota_full(region, quota, keep_last)
    return ResourceBusy(
        error.code,
        f"copy queued: 5 cross-region snapshot copies are already in flight to {region} (the AWS limit per "
        "destination region); it starts when a slot frees",
    )


def request_copy(turn: StepTurn) -> SnapshotView:
    """Start the copy, or find the one a previous (crashed or duplicate) attempt of this run started."""
    run, pipeline, deps = turn.run, turn.pipeline, turn.deps
    target = deps.rds_for(run.target_region)
    existing = target.find_cluster_snapshot(run.copy_snapshot_id)
    if existing is None:
        source = deps.rds_for(run.source_region).find_cluster_snapshot(run.source_snapshot_id)
        if source is None or source.status != "available":
            state = "no longer exists" if source is None else f"is {source.status!r}"
            raise PipelineError(
                "SourceSnapshotMissing", f"source snapshot {run.source_snapshot_id} {state} in {run.source_region}"
            )
        quota = target.manual_snapshot_quota()
        if quota is not None and quota.full:
            raise quota_full(run.target_region, quota, pipeline.retention.keep_last)
        tags = {
            **pipeline.tags,
            **ownership_tags(pipeline.name, run.run_id),
            TAG_SOURCE_SNAPSHOT: strip_automated_prefix(run.source_snapshot_id),
        }
        try:
            return target.copy_snapshot(
                source_arn=run.source_snapshot_arn,
                target_id=run.copy_snapshot_id,
                # An unencrypted Aurora snapshot cannot be encrypted by a copy (and KmsKeyId is refused);
                # restore-snapshot encrypts the cluster with the pipeline's key instead.
                kms_key_id=pipeline.kms_key_id if source.encrypted else None,
                source_region=run.source_region if pipeline.cross_region else None,
                tags=tags,
            )
        except PipelineError as exc:
            if exc.code in SNAPSHOT_QUOTA_CODES:
                raise quota_or_queue(target, run.target_region, exc, pipeline.retention.keep_last) from None
            if not snapshot_already_exists(exc):
                raise
            existing = target.find_cluster_snapshot(run.copy_snapshot_id)
            if existing is None:
                raise
    if existing.tags.get(TAG_RUN) != run.run_id:
        raise SafetyViolation(
            "CopyIdentifierTaken",
            f"snapshot {run.copy_snapshot_id} exists but was not made by run {run.run_id}; refusing to use it",
        )
    return existing


def cancel_copy(turn: StepTurn) -> str | None:
    """On a failed run: delete this run's copy if it is still in flight. "To cancel the copy operation once it is
    in progress, delete the target DB cluster snapshot ... while that DB cluster snapshot is in "copying" status"
    (CopyDBClusterSnapshot, RDS API Reference); that frees its slot for the pipelines queued behind it. Only the
    run's own copy (by tag), only in flight: a finished copy is left to retention. Returns what was done."""
    run = turn.run
    rds = turn.deps.rds_for(run.target_region)
    copy = rds.find_cluster_snapshot(run.copy_snapshot_id)
    if copy is None or copy.status not in IN_FLIGHT or copy.tags.get(TAG_RUN) != run.run_id:
        return None
    rds.delete_snapshot(copy.identifier)
    return (
        f"in-flight copy {copy.identifier} ({copy.status} at {copy.percent_progress}%) deleted: the copy is "
        f"cancelled and its slot in {run.target_region} freed"
    )


def act(turn: StepTurn) -> None:
    """Choose where the new cluster comes from (shared/steps/restore_source.py). A clone or a point-in-time restore
    needs no copy: the run moves on to replacing the target as it does once a copy is available."""
    run, pipeline = turn.run, turn.pipeline
    choice = restore_source.choose_for(turn)
    if choice.restore_from != restore_source.SNAPSHOT_COPY:
        turn.transition(
            RunStatus.REPLACING_TARGET, f"no snapshot copy: {choice.reason}", restore_from=choice.restore_from
        )
        return
    copy = request_copy(turn)
    where = f"{run.source_region} -> {run.target_region}" if pipeline.cross_region else run.target_region
    turn.transition(
        RunStatus.COPYING,
        f"copy {copy.identifier} requested ({where}, key {pipeline.kms_key_id}); {choice.reason}",
        copy_percent=copy.percent_progress,
        restore_from=choice.restore_from,
    )
