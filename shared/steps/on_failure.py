"""What a failed run must not leave behind, per state it failed in; each clean-up is owned by that state's step.

Every failure path (a step's error, `retry_or_fail` giving up, the orchestrator check's deadline) ends in
`StepTurn.fail`, which is generic and knows no AWS resource. The notification step acts exactly once on every
finished run (its claim), whatever failed it, so it calls `clean_up` before publishing: the clean-up runs within
seconds of the failure (RunFailed) or at the check's next look, and its outcome is in the audit trail and the
notification. A clean-up that cannot finish is recorded and reported, never blocks the notification.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.errors import PipelineError
from shared.model import RunStatus
from shared.steps import copy_snapshot
from shared.steps.staging_cleanup import remove_staging
from shared.steps.turn import StepTurn

Cleanup = Callable[[StepTurn], str | None]  # returns what it did, or None when there was nothing to do

CLEANUPS: dict[RunStatus, Cleanup] = {
    # An in-flight copy holds one of the 5 cross-region copy slots of its region until it finishes: cancel it.
    # REQUESTED too: a copy requested just before a crash exists before the run records COPYING.
    RunStatus.REQUESTED: copy_snapshot.cancel_copy,
    RunStatus.COPYING: copy_snapshot.cancel_copy,
    # `swap`: a failure before the swap removes the staging cluster (or keeps it, quarantined, if configured); the
    # old target was never touched. After the target was renamed away, nothing is deleted and the operator is told.
    RunStatus.REPLACING_TARGET: remove_staging,
    RunStatus.RESTORING: remove_staging,
    RunStatus.CONFIGURING_DB: remove_staging,
    RunStatus.VALIDATING: remove_staging,  # a failed check: the unproven copy goes, the old target keeps serving
    RunStatus.SWAPPING: remove_staging,
}


def clean_up(turn: StepTurn) -> list[str]:
    """Run the clean-up of the state the run failed in; audit and return what happened (for the notification)."""
    run = turn.run
    if run.status is not RunStatus.FAILED or run.failure is None:
        return []
    action = CLEANUPS.get(run.failure.status)
    if action is None:
        return []
    try:
        done = action(turn)
    except PipelineError as exc:
        message = f"clean-up after the failure did not finish, do it by hand: {exc.message}"
        turn.remark("error", message, code=exc.code)
        return [message]
    if done is None:
        return []
    turn.remark("decision", f"clean-up after the failure: {done}")
    return [done]
