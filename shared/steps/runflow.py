"""How a step moves a run: advance (transition), wait (look again later), retry or fail. All writes are
conditional on the run's (status, version), so a duplicate or stale delivery changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.errors import PipelineError, StaleRunError
from shared.events import OutgoingEvent, PipelineDetail, RunCheckDueDetail, RunFinishedDetail
from shared.model import AuditKind, AuditRecord, Run, RunError, RunStatus, StepTiming
from shared.naming import lock_key_for
from shared.steps.context import Deps
from shared.transitions import STATES, DetailType, can_transition

# A terminal run whose Run{Succeeded,Failed} event got lost is re-notified by the check after this long.
NOTIFY_FALLBACK = timedelta(minutes=2)
# The first look after entering a state leaves the event path time to act before the check steps in.
FIRST_LOOK_FLOOR = timedelta(seconds=120)
NOTIFY_ATTEMPTS = 8


def audit(
    deps: Deps,
    run: Run,
    kind: AuditKind,
    step: str,
    message: str,
    trigger: str | None = None,
    code: str | None = None,
    to_status: RunStatus | None = None,
) -> AuditRecord:
    return AuditRecord(
        subject=run.run_id,
        at=deps.clock.now(),
        kind=kind,
        step=step,
        message=message,
        run_id=run.run_id,
        pipeline=run.pipeline,
        from_status=run.status,
        to_status=to_status,
        trigger=trigger,
        code=code,
    )


def state_fields(deps: Deps, run: Run, status: RunStatus, now: datetime) -> dict[str, Any]:
    if status.is_terminal:
        return {"next_check_at": now + NOTIFY_FALLBACK, "attempts": 0, "checks": 0, "ended_at": now}
    policy = deps.pipeline(run.pipeline).policy(status)
    first_look = max(timedelta(seconds=policy.min_poll_seconds), FIRST_LOOK_FLOOR)
    return {
        "state_entered_at": now,
        "deadline_at": now + timedelta(minutes=policy.deadline_minutes),
        "next_check_at": now + first_look,
        "attempts": 0,
        "checks": 0,
        "last_error": None,
    }


def detail_for(run: Run, detail_type: DetailType, message: str = "") -> PipelineDetail:
    common = {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "correlation_id": run.correlation_id,
        "occurred_at": run.updated_at,
        "run_version": run.version,
    }
    if detail_type is DetailType.RUN_CHECK_DUE:
        return RunCheckDueDetail(status=run.status, **common)
    if detail_type in (DetailType.RUN_SUCCEEDED, DetailType.RUN_FAILED):
        return RunFinishedDetail(status=run.status, message=message, **common)
    return PipelineDetail(**common)


def emit(deps: Deps, run: Run, detail_type: DetailType, message: str = "") -> None:
    deps.bus.publish(
        [OutgoingEvent(detail_type=detail_type, detail=detail_for(run, detail_type, message), resources=[])]
    )


def _write(deps: Deps, run: Run, updates: dict[str, Any], record: AuditRecord, release_lock: str | None) -> Run | None:
    """Conditional write; when only the version moved (e.g. the check took a lease), re-apply once on top."""
    try:
        return deps.store.write(run.model_copy(update=updates), (run.status, run.version), record, release_lock)
    except StaleRunError as stale:
        if stale.current_status != run.status.value:
            return None
        current = deps.store.get_run(run.run_id)
        if current is None or current.status != run.status:
            return None
        try:
            return deps.store.write(
                current.model_copy(update=updates), (current.status, current.version), record, release_lock
            )
        except StaleRunError:
            return None


def ignore(deps: Deps, run: Run, step: str, reason: str, trigger: str | None) -> None:
    deps.log.info("ignored", extra={"run_id": run.run_id, "step": step, "reason": reason})
    deps.store.audit(audit(deps, run, "ignored", step, reason, trigger))


def advance(
    deps: Deps,
    run: Run,
    to: RunStatus,
    step: str,
    message: str,
    trigger: str | None,
    **changes: Any,
) -> Run | None:
    """Move the run to `to`, record timings, audit and emit the state's event. None when the run moved on."""
    if not can_transition(run.status, to):
        raise ValueError(f"illegal transition {run.status} -> {to}")
    now = deps.clock.now()
    timings = dict(run.timings)
    if run.status.value in timings:
        timings[run.status.value] = timings[run.status.value].model_copy(update={"ended_at": now})
    if not to.is_terminal:
        timings[to.value] = StepTiming(started_at=now)
    updates: dict[str, Any] = {"status": to, "updated_at": now, "timings": timings}
    updates.update(state_fields(deps, run, to, now))
    updates.update(changes)
    record = audit(deps, run, "transition", step, message, trigger, to_status=to)
    release = lock_key_for(run.target_region, run.target_cluster_id) if to.is_terminal else None
    stored = _write(deps, run, updates, record, release)
    if stored is None:
        ignore(deps, run, step, f"run already moved on; {run.status}->{to} not applied", trigger)
        return None
    deps.log.info("transition", extra={"run_id": run.run_id, "from": run.status.value, "to": to.value})
    event = STATES[to].entered_event
    if event is not None:
        emit_safely(deps, stored, event, message)
    return stored


def wait(
    deps: Deps, run: Run, step: str, delay_seconds: float, message: str, trigger: str | None, **changes: Any
) -> Run | None:
    """Nothing to do yet: look again after `delay_seconds` (bounded by the state's policy and deadline)."""
    now = deps.clock.now()
    if now >= run.deadline_at:
        return fail(deps, run, step, deadline_error(deps, run), trigger)
    policy = deps.pipeline(run.pipeline).policy(run.status)
    delay = min(max(delay_seconds, policy.min_poll_seconds), policy.max_poll_seconds)
    next_at = min(now + timedelta(seconds=delay), run.deadline_at)
    updates = {"next_check_at": next_at, "updated_at": now, "checks": run.checks + 1, **changes}
    record = audit(deps, run, "decision", step, f"{message}; next look in {int(delay)}s", trigger)
    return _write(deps, run, updates, record, None)


def deadline_error(deps: Deps, run: Run) -> PipelineError:
    policy = deps.pipeline(run.pipeline).policy(run.status)
    last = f" Last error: {run.last_error.message}" if run.last_error else ""
    return PipelineError(
        "DeadlineExceeded",
        f"{run.status.value} did not finish within {policy.deadline_minutes} minutes.{last}",
    )


def record_error(deps: Deps, run: Run, step: str, error: PipelineError, trigger: str | None) -> Run | None:
    """Transient errors retry with exponential backoff within the state's budget; others fail the run now."""
    now = deps.clock.now()
    if run.status.is_terminal:
        # Only the notification acts on finished runs: release its claim so the check retries it shortly,
        # within a budget (a topic that refuses for hours must not be retried forever).
        if run.attempts + 1 >= NOTIFY_ATTEMPTS:
            deps.metric("NotificationsAbandoned", 1)
            message = f"notification abandoned after {NOTIFY_ATTEMPTS} attempts: {error.message}"
            return touch(deps, run, step, "error", message, trigger, notification_abandoned=True)
        delay = timedelta(seconds=60 * 2 ** min(run.attempts, 5))
        message = f"notification failed, retry in {int(delay.total_seconds())}s: {error.message}"
        return touch(
            deps,
            run,
            step,
            "retry",
            message,
            trigger,
            notify_claimed_at=None,
            attempts=run.attempts + 1,
            next_check_at=now + delay,
        )
    policy = deps.pipeline(run.pipeline).policy(run.status)
    attempts = run.attempts + 1
    run_error = RunError(
        step=step, status=run.status, code=error.code, message=error.message, transient=error.transient, at=now
    )
    if error.transient and attempts < policy.max_attempts and now < run.deadline_at:
        delay = min(policy.backoff_base_seconds * 2 ** (attempts - 1), policy.max_poll_seconds)
        next_at = min(now + timedelta(seconds=delay), run.deadline_at)
        updates = {"attempts": attempts, "last_error": run_error, "next_check_at": next_at, "updated_at": now}
        message = f"attempt {attempts}/{policy.max_attempts} failed, retry in {delay}s: {error.message}"
        deps.log.warning("retry scheduled", extra={"run_id": run.run_id, "step": step, "code": error.code})
        return _write(deps, run, updates, audit(deps, run, "retry", step, message, trigger, error.code), None)
    if error.transient:
        error = PipelineError(error.code, f"gave up after {attempts} attempts: {error.message}", transient=False)
    return fail(deps, run, step, error, trigger)


def fail(deps: Deps, run: Run, step: str, error: PipelineError, trigger: str | None) -> Run | None:
    now = deps.clock.now()
    failure = RunError(step=step, status=run.status, code=error.code, message=error.message, at=now)
    deps.log.error("run failed", extra={"run_id": run.run_id, "step": step, "code": error.code})
    return advance(
        deps,
        run,
        RunStatus.FAILED,
        step,
        f"{step} failed: {error.message}",
        trigger,
        failure=failure,
        last_error=failure,
    )


def touch(
    deps: Deps,
    run: Run,
    step: str,
    kind: AuditKind,
    message: str,
    trigger: str | None,
    *,
    rebase: bool = True,
    **changes: Any,
) -> Run | None:
    """Record a fact about the run without changing its state (e.g. a lease, a claim, a rotation)."""
    updates = {"updated_at": deps.clock.now(), **changes}
    record = audit(deps, run, kind, step, message, trigger)
    if not rebase:
        try:
            return deps.store.write(run.model_copy(update=updates), (run.status, run.version), record, None)
        except StaleRunError:
            return None
    return _write(deps, run, updates, record, None)


def emit_safely(deps: Deps, run: Run, detail_type: DetailType, message: str = "") -> None:
    """Publish after the state write. If it fails the run is still due for a check, which re-drives it."""
    try:
        emit(deps, run, detail_type, message)
    except PipelineError as exc:
        deps.log.warning(
            "event not published; the orchestrator check will re-drive the run",
            extra={"run_id": run.run_id, "detail_type": detail_type.value, "code": exc.code},
        )
