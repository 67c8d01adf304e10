"""copy-snapshot: copy the source snapshot into the target region, re-encrypted with the pipeline's key."""

from __future__ import annotations

from shared.errors import PipelineError, SafetyViolation, snapshot_already_exists
from shared.model import RunStatus
from shared.naming import TAG_RUN, TAG_SOURCE_SNAPSHOT, ownership_tags, strip_automated_prefix
from shared.ports import SnapshotView
from shared.steps.turn import StepTurn


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


def act(turn: StepTurn) -> None:
    run, pipeline = turn.run, turn.pipeline
    copy = request_copy(turn)
    where = f"{run.source_region} -> {run.target_region}" if pipeline.cross_region else run.target_region
    turn.transition(
        RunStatus.COPYING,
        f"copy {copy.identifier} requested ({where}, key {pipeline.kms_key_id})",
        copy_percent=copy.percent_progress,
    )
