"""check-copy-status: Aurora emits no event when a cluster-snapshot copy ends, so the check looks, adaptively."""

from __future__ import annotations

from shared.errors import PipelineError
from shared.model import Run, RunStatus
from shared.steps import runflow
from shared.steps.context import Deps
from shared.steps.copy_snapshot import request_copy
from shared.transitions import Step

STEP = Step.CHECK_COPY_STATUS.value
IN_PROGRESS = {"creating", "copying", "pending"}


def next_look_seconds(elapsed: float, percent: int, min_poll: int, checks: int) -> float:
    """Look again when the observed rate says the copy should be done; before any progress, back off."""
    if 0 < percent < 100 and elapsed > 0:
        remaining = elapsed * (100 - percent) / percent
        return max(remaining, float(min_poll))
    return float(min_poll * 2 ** min(checks, 6))


def advance(deps: Deps, run: Run, trigger: str | None) -> None:
    pipeline = deps.pipeline(run.pipeline)
    copy = deps.rds_for(run.target_region).find_cluster_snapshot(run.copy_snapshot_id)
    if copy is None:
        request_copy(deps, pipeline, run)
        raise PipelineError(
            "CopyMissing", f"copy {run.copy_snapshot_id} was not found; requested it again", transient=True
        )
    if copy.status == "available":
        runflow.advance(
            deps, run, RunStatus.REPLACING_TARGET, STEP, f"copy {copy.identifier} available", trigger, copy_percent=100
        )
        return
    if copy.status in IN_PROGRESS:
        policy = pipeline.policy(run.status)
        elapsed = (deps.clock.now() - run.state_entered_at).total_seconds()
        delay = next_look_seconds(elapsed, copy.percent_progress, policy.min_poll_seconds, run.checks)
        runflow.wait(
            deps,
            run,
            STEP,
            delay,
            f"copy {copy.status} at {copy.percent_progress}%",
            trigger,
            copy_percent=copy.percent_progress,
        )
        return
    # failed/error/incompatible: drop the broken copy so a retry can start a fresh one
    deps.rds_for(run.target_region).delete_snapshot(copy.identifier)
    raise PipelineError("CopyFailed", f"copy {copy.identifier} ended in status {copy.status!r}", transient=True)
