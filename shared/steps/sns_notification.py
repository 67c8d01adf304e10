"""sns-notification: one summary per finished run, with per-step timings and, on failure, the root cause.

Before publishing a failure, the clean-up of the state the run failed in runs (`shared/steps/on_failure.py`: e.g.
an in-flight copy is cancelled to free its slot); what it did is in the audit trail and the message.
A claim on the run (conditional write) keeps concurrent deliveries from both publishing; a claim older than
CLAIM_TTL is considered abandoned (crash between claim and publish) and the check's retry takes it over.
A failed publish releases the claim and retries with backoff, within NOTIFY_ATTEMPTS: a topic that refuses for
hours must not be retried forever.
"""

from __future__ import annotations

from datetime import timedelta

from shared import evidence, report
from shared.errors import PipelineError
from shared.model import Run, RunStatus
from shared.steps.on_failure import clean_up
from shared.steps.trigger_watch import open_deferred_now
from shared.steps.turn import StepTurn

CLAIM_TTL = timedelta(minutes=5)
NOTIFY_ATTEMPTS = 8


def act(turn: StepTurn) -> None:
    run = turn.run
    if run.notified_at is not None:
        turn.ignore("already notified")
        return
    now = turn.now()
    if run.notify_claimed_at is not None and now - run.notify_claimed_at < CLAIM_TTL:
        turn.ignore("another delivery is notifying")
        return
    claimed = turn.claim("notification claimed", notify_claimed_at=now, next_check_at=now + CLAIM_TTL)
    if claimed is None:
        turn.ignore("lost the notification claim to a concurrent delivery")
        return
    cleaned = clean_up(turn.moved(claimed))
    message = report.summary(claimed) + "".join(f"\nClean-up: {line}" for line in cleaned)
    turn.deps.notifier.notify(
        report.subject(claimed),
        message,
        {"pipeline": claimed.pipeline, "status": claimed.status.value, "run_id": claimed.run_id},
    )
    keep_evidence(turn.moved(claimed))
    outcome_metric = "RunsSucceeded" if claimed.status is RunStatus.SUCCEEDED else "RunsFailed"
    turn.deps.metric(outcome_metric, 1)
    turn.deps.pipeline_metric(outcome_metric, claimed.pipeline, 1)  # the per-pipeline "no successful run" alarm
    turn.moved(claimed).claim(f"{claimed.status.value} notification published", kind="notified", notified_at=turn.now())
    try:  # a snapshot trigger deferred while this run held the target opens now, not at the check's next tick
        open_deferred_now(turn.deps, turn.pipeline, turn.step)
    except PipelineError as exc:
        turn.deps.log.warning("deferred trigger not opened; the check will", extra={"code": exc.code})


def keep_evidence(turn: StepTurn) -> None:
    """Write the run's evidence to the evidence bucket, when the stack names one. A failed write is audited on the
    run, never retried at the notification's expense (`aurora-restore show RUN --evidence` rebuilds it)."""
    store = turn.deps.evidence
    if store is None:
        return
    record = evidence.build(turn.run, turn.deps.config.pipeline(turn.run.pipeline))
    try:
        store.put(evidence.object_key(turn.run), record.model_dump_json(indent=2))
    except PipelineError as exc:
        turn.remark("error", f"evidence not written: {exc.message}", code=exc.code)


def on_error(turn: StepTurn, error: PipelineError) -> Run | None:
    """Release the claim so the check retries shortly, with backoff; give up after NOTIFY_ATTEMPTS."""
    run = turn.run
    if run.attempts + 1 >= NOTIFY_ATTEMPTS:
        turn.deps.metric("NotificationsAbandoned", 1)
        message = f"notification abandoned after {NOTIFY_ATTEMPTS} attempts: {error.message}"
        return turn.note("error", message, notification_abandoned=True)
    delay = timedelta(seconds=60 * 2 ** min(run.attempts, 5))
    return turn.note(
        "retry",
        f"notification failed, retry in {int(delay.total_seconds())}s: {error.message}",
        notify_claimed_at=None,
        attempts=run.attempts + 1,
        next_check_at=turn.now() + delay,
    )
