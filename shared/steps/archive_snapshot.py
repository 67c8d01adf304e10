"""archive-snapshot: keep this pipeline's newest N copies, delete older ones; never touch anything else."""

from __future__ import annotations

from datetime import datetime

from shared.model import RunStatus
from shared.naming import MANAGED_BY, TAG_MANAGED_BY, TAG_PIPELINE
from shared.ports import SnapshotView
from shared.steps.turn import StepTurn


def to_delete(copies: list[SnapshotView], current_id: str, keep_last: int, now: datetime) -> list[SnapshotView]:
    """The copies beyond retention. The current run's copy counts first (it is the newest by definition)."""
    ordered = sorted(copies, key=lambda s: (s.identifier == current_id, s.created_at or now), reverse=True)
    return [s for s in ordered[keep_last:] if s.status == "available"]


def act(turn: StepTurn) -> None:
    run, pipeline = turn.run, turn.pipeline
    rds = turn.deps.rds_for(run.target_region)
    copies = [
        s for s in rds.list_manual_snapshots(TAG_PIPELINE, pipeline.name) if s.tags.get(TAG_MANAGED_BY) == MANAGED_BY
    ]
    doomed = to_delete(copies, run.copy_snapshot_id, pipeline.retention.keep_last, turn.now())
    for snapshot in doomed:
        rds.delete_snapshot(snapshot.identifier)
    kept = len(copies) - len(doomed)
    deleted = ", ".join(s.identifier for s in doomed) or "none"
    turn.transition(
        RunStatus.SUCCEEDED, f"retention keep_last={pipeline.retention.keep_last}: kept {kept}, deleted {deleted}"
    )
