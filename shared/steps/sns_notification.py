"""sns-notification: one summary per finished run, with per-step timings and, on failure, the root cause.

A claim on the run (conditional write) keeps concurrent deliveries from both publishing; a claim older than
CLAIM_TTL is considered abandoned (crash between claim and publish) and the check's retry takes it over.
"""

from __future__ import annotations

from datetime import timedelta

from shared import report
from shared.model import Run, RunStatus
from shared.steps import runflow
from shared.steps.context import Deps
from shared.transitions import Step

STEP = Step.SNS_NOTIFICATION.value
CLAIM_TTL = timedelta(minutes=5)


def advance(deps: Deps, run: Run, trigger: str | None) -> None:
    if run.notified_at is not None:
        runflow.ignore(deps, run, STEP, "already notified", trigger)
        return
    now = deps.clock.now()
    if run.notify_claimed_at is not None and now - run.notify_claimed_at < CLAIM_TTL:
        runflow.ignore(deps, run, STEP, "another delivery is notifying", trigger)
        return
    claimed = runflow.touch(
        deps,
        run,
        STEP,
        "decision",
        "notification claimed",
        trigger,
        rebase=False,
        notify_claimed_at=now,
        next_check_at=now + CLAIM_TTL,
    )
    if claimed is None:
        runflow.ignore(deps, run, STEP, "lost the notification claim to a concurrent delivery", trigger)
        return
    deps.notifier.notify(
        report.subject(claimed),
        report.summary(claimed),
        {"pipeline": claimed.pipeline, "status": claimed.status.value, "run_id": claimed.run_id},
    )
    deps.metric("RunsSucceeded" if claimed.status is RunStatus.SUCCEEDED else "RunsFailed", 1)
    runflow.touch(
        deps,
        claimed,
        STEP,
        "notified",
        f"{claimed.status.value} notification published",
        trigger,
        rebase=False,
        notified_at=deps.clock.now(),
    )
