"""A step's turn on one run: the only way a step changes a run.

`StepTurn(deps, run, step, trigger)` carries what every call needs (the pipeline and its policy for the run's
state are looked up once) and names the lifecycle: `transition` to the next state, `wait` to look again later,
`retry_or_fail` on an error (a `ResourceBusy` error goes to `wait_while_busy`: busy is not broken), `fail`,
`ignore`, `note` a fact, `remark` on a finished run, `claim` the run for exclusive work, `emit` an event.
Every write is conditional on the run's (status, version), so a duplicate or stale delivery changes nothing.

Two budgets bound a state: `attempts` (errors, `max_attempts` of the state's policy) and the deadline (everything).
A retry spends an attempt; a wait, busy or not, spends none and only the deadline stops it.

When a turn decides to look again at a time (a `wait`, a retry's backoff, entering a state nothing will announce),
it asks for an exact wake-up at that time (`shared/wakeups.py`): a one-time schedule puts the run's RunCheckDue on
the bus then. A wait that an RDS event will end (`woken_by`) asks for none: the event wakes the step, and the
periodic check looks if the event is lost. Whatever the state, the rule is the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from shared.config import PipelineConfig, StepPolicy
from shared.errors import PipelineError, ResourceBusy, StaleRunError
from shared.events import OutgoingEvent, PipelineDetail, RunCheckDueDetail, RunFinishedDetail
from shared.model import AuditKind, AuditRecord, Run, RunError, RunStatus, StepTiming
from shared.naming import lock_key_for
from shared.routing import ROUTES
from shared.steps.context import Deps
from shared.transitions import STATES, DetailType, Step, can_transition
from shared.wakeups import minute_before, wakeup_name

# A terminal run whose Run{Succeeded,Failed} event got lost is re-notified by the check after this long.
NOTIFY_FALLBACK = timedelta(minutes=2)
# Kept back from a wait in place for the work after it (a look, the state write, the audit, a wake-up).
IN_PLACE_RESERVE_SECONDS = 20.0
# Longer waits are cheaper as a wake-up than as a Lambda kept waiting.
IN_PLACE_MAX_SECONDS = 150.0


def entry_fields(pipeline: PipelineConfig | None, status: RunStatus, now: datetime) -> dict[str, Any]:
    """Per-state bookkeeping of a run entering `status` (a terminal state needs no pipeline policy)."""
    if status.is_terminal:
        return {"next_check_at": now + NOTIFY_FALLBACK, "attempts": 0, "checks": 0, "ended_at": now}
    assert pipeline is not None
    policy = pipeline.policy(status)
    first_look = timedelta(seconds=policy.min_poll_seconds)
    return {
        "state_entered_at": now,
        "deadline_at": now + timedelta(minutes=policy.deadline_minutes),
        "next_check_at": now + first_look,
        "attempts": 0,
        "checks": 0,
        "last_error": None,
    }


def announced(status: RunStatus) -> bool:
    """Will something wake the owner of `status` without a look: its entry event, or an RDS event it listens to?"""
    if STATES[status].entered_event is not None:
        return True
    return any(wake.kind == "rds" for route in ROUTES if status in route.acts_in for wake in route.wakes)


def event_detail(run: Run, detail_type: DetailType, message: str = "") -> PipelineDetail:
    """The `detail` of a pipeline event about `run` as it is now."""
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


class StepTurn:
    """One step acting on one run, for one delivery (`trigger` names what woke it, for the audit)."""

    def __init__(
        self, deps: Deps, run: Run, step: Step | str, trigger: str | None, look_at: datetime | None = None
    ) -> None:
        self.deps = deps
        self.run = run
        self.step = step.value if isinstance(step, Step) else step
        self.trigger = trigger
        self.look_at = look_at  # a wake-up that came early names when the look is due (RunCheckDueDetail.look_at)

    def now(self) -> datetime:
        return self.deps.clock.now()

    @cached_property
    def pipeline(self) -> PipelineConfig:
        return self.deps.pipeline(self.run.pipeline)

    @cached_property
    def policy(self) -> StepPolicy:
        """Deadline, pacing and retry budget of the run's current state."""
        return self.pipeline.policy(self.run.status)

    def moved(self, run: Run) -> StepTurn:
        """The same turn, continued on the run as a write of this turn left it."""
        return StepTurn(self.deps, run, self.step, self.trigger)

    # ---- state changes ---------------------------------------------------------------------------------------
    def transition(self, to: RunStatus, message: str, **changes: Any) -> Run | None:
        """Move the run to `to`, record timings, audit and emit the state's event. None when the run moved on."""
        run = self.run
        if not can_transition(run.status, to):
            raise ValueError(f"illegal transition {run.status} -> {to}")
        now = self.now()
        timings = dict(run.timings)
        if run.status.value in timings:
            timings[run.status.value] = timings[run.status.value].model_copy(update={"ended_at": now})
        if not to.is_terminal:
            timings[to.value] = StepTiming(started_at=now)
        updates: dict[str, Any] = {"status": to, "updated_at": now, "timings": timings}
        updates.update(entry_fields(None if to.is_terminal else self.pipeline, to, now))
        updates.update(changes)
        record = self._audit("transition", message, to_status=to)
        release = lock_key_for(run.target_region, run.target_cluster_id) if to.is_terminal else None
        stored = self._write(updates, record, release)
        if stored is None:
            self.ignore(f"run already moved on; {run.status}->{to} not applied")
            return None
        self.deps.log.info("transition", extra={"run_id": run.run_id, "from": run.status.value, "to": to.value})
        left = stored.timings.get(run.status.value)
        if left is not None and left.seconds is not None:
            self.deps.state_metric(run.status.value, left.seconds)
        event = STATES[to].entered_event
        if event is not None:
            self.moved(stored).emit(event, message)
        elif not to.is_terminal and not announced(to):
            self._wake_up(stored)  # nothing will say when to look (e.g. a copy): look at the state's first look
        return stored

    def wait(
        self,
        delay_seconds: float,
        message: str,
        *,
        code: str | None = None,
        woken_by: str | None = None,
        finish_in_place: bool = False,
        **changes: Any,
    ) -> Run | None:
        """Nothing to do yet: look again after `delay_seconds` (bounded by the state's policy and deadline), woken
        exactly then. `woken_by` names the event that ends this wait (an RDS event such as RDS-EVENT-0171, or a pipeline
        event the step emitted): it wakes the step, so no wake-up is asked for; the periodic check looks if it is lost.
        `finish_in_place`: the step, woken up to two minutes early, waits the rest itself (`wait_here`), so its look
        lands at the second asked rather than somewhere in the scheduler's minute.
        `code` tags the audit line with the AWS error code that made the step wait, if any."""
        now = self.now()
        if now >= self.run.deadline_at:
            return self.fail(self.deadline_exceeded())
        policy = self.policy
        delay = min(max(delay_seconds, policy.min_poll_seconds), policy.max_poll_seconds)
        next_at = min(now + timedelta(seconds=delay), self.run.deadline_at)
        updates = {"next_check_at": next_at, "updated_at": now, "checks": self.run.checks + 1, **changes}
        look = f"next look in {int(delay)}s" if woken_by is None else f"woken by {woken_by}"
        stored = self._write(updates, self._audit("decision", f"{message}; {look}", code=code), None)
        return stored if woken_by is not None else self._wake_up(stored, early=finish_in_place)

    def wait_here(self, seconds: float) -> bool:
        """Wait `seconds` inside this invocation, if its time left allows (keeping IN_PLACE_RESERVE_SECONDS for the
        work after). False: too long here; `wait` instead. Lambda bills the time, not another invocation."""
        if seconds <= 0:
            return True
        if seconds > min(IN_PLACE_MAX_SECONDS, self.deps.time_left() - IN_PLACE_RESERVE_SECONDS):
            return False
        self.deps.clock.sleep(seconds)
        return True

    def wait_while_busy(self, error: ResourceBusy) -> Run | None:
        """AWS is busy with the resource (a backup, maintenance, every copy slot taken): waiting is not failing.
        No attempt is spent; look again with backoff (`backoff_base_seconds` doubling per look, within the poll
        bounds) until the state's deadline, whose failure then names this as the last error."""
        run, now = self.run, self.now()
        delay = self.policy.backoff_base_seconds * 2 ** min(run.checks, 6)
        last = RunError(
            step=self.step, status=run.status, code=error.code, message=error.message, transient=True, at=now
        )
        return self.wait(delay, f"busy, waiting (no attempt spent): {error.message}", code=error.code, last_error=last)

    def retry_or_fail(self, error: PipelineError) -> Run | None:
        """The default error policy. A busy resource waits (`wait_while_busy`); other transient errors retry with
        exponential backoff within the state's attempts and deadline; the rest fail the run now."""
        if isinstance(error, ResourceBusy):
            return self.wait_while_busy(error)
        run, now, policy = self.run, self.now(), self.policy
        attempts = run.attempts + 1
        if error.transient and attempts < policy.max_attempts and now < run.deadline_at:
            delay = min(policy.backoff_base_seconds * 2 ** (attempts - 1), policy.max_poll_seconds)
            run_error = RunError(
                step=self.step, status=run.status, code=error.code, message=error.message, transient=True, at=now
            )
            updates = {
                "attempts": attempts,
                "last_error": run_error,
                "next_check_at": min(now + timedelta(seconds=delay), run.deadline_at),
                "updated_at": now,
            }
            message = f"attempt {attempts}/{policy.max_attempts} failed, retry in {delay}s: {error.message}"
            self.deps.log.warning(
                "retry scheduled", extra={"run_id": run.run_id, "step": self.step, "code": error.code}
            )
            return self._wake_up(self._write(updates, self._audit("retry", message, code=error.code), None))
        if error.transient:
            error = PipelineError(error.code, f"gave up after {attempts} attempts: {error.message}", transient=False)
        return self.fail(error)

    def fail(self, error: PipelineError) -> Run | None:
        failure = RunError(
            step=self.step, status=self.run.status, code=error.code, message=error.message, at=self.now()
        )
        self.deps.log.error("run failed", extra={"run_id": self.run.run_id, "step": self.step, "code": error.code})
        return self.transition(
            RunStatus.FAILED, f"{self.step} failed: {error.message}", failure=failure, last_error=failure
        )

    def deadline_exceeded(self) -> PipelineError:
        last = f" Last error: {self.run.last_error.message}" if self.run.last_error else ""
        return PipelineError(
            "DeadlineExceeded",
            f"{self.run.status.value} did not finish within {self.policy.deadline_minutes} minutes.{last}",
        )

    # ---- facts without a state change ------------------------------------------------------------------------
    def ignore(self, reason: str) -> None:
        """This delivery changes nothing (duplicate, stale, early): audited so the trail explains it."""
        self.deps.log.info("ignored", extra={"run_id": self.run.run_id, "step": self.step, "reason": reason})
        self.remark("ignored", reason)

    def remark(self, kind: AuditKind, message: str, code: str | None = None) -> None:
        """An audit line only, the run untouched (e.g. what the notification step cleaned up on a failed run)."""
        self.deps.store.audit(self._audit(kind, message, code=code))

    def note(self, kind: AuditKind, message: str, **changes: Any) -> Run | None:
        """Record a fact on the run (a rotation, a retry of the notification). Re-applied on top of a
        version-only move (e.g. the check's lease); None when the run changed state meanwhile."""
        return self._write({"updated_at": self.now(), **changes}, self._audit(kind, message), None)

    def claim(self, message: str, kind: AuditKind = "decision", **changes: Any) -> Run | None:
        """Like `note`, but only on exactly the version this turn read: of two concurrent claims one wins."""
        updates = {"updated_at": self.now(), **changes}
        try:
            return self.deps.store.write(
                self.run.model_copy(update=updates), (self.run.status, self.run.version), self._audit(kind, message)
            )
        except StaleRunError:
            return None

    def emit(self, detail_type: DetailType, message: str = "") -> None:
        """Publish after the state write. If it fails the run is still due for a check, which re-drives it."""
        detail = event_detail(self.run, detail_type, message)
        try:
            self.deps.bus.publish([OutgoingEvent(detail_type=detail_type, detail=detail, resources=[])])
        except PipelineError as exc:
            self.deps.log.warning(
                "event not published; the orchestrator check will re-drive the run",
                extra={"run_id": self.run.run_id, "detail_type": detail_type.value, "code": exc.code},
            )

    # ---- plumbing --------------------------------------------------------------------------------------------
    def _wake_up(self, run: Run | None, early: bool = False) -> Run | None:
        """Ask for a wake-up of `run` (as just stored) at its next check, or `early`, never after it (for a step that
        waits the rest in place). A failure costs promptness only: the periodic check finds the run when due."""
        if run is None:
            return None
        detail = event_detail(run, DetailType.RUN_CHECK_DUE)
        at = run.next_check_at
        if early and minute_before(at) > self.now() and isinstance(detail, RunCheckDueDetail):
            at = minute_before(at)
            detail.look_at = run.next_check_at
        try:
            self.deps.wakeups.wake_at(wakeup_name(run), at, detail)
        except PipelineError as exc:
            self.deps.metric("WakeUpsNotScheduled", 1)
            self.deps.log.warning(
                "wake-up not scheduled; the periodic check will look",
                extra={"run_id": run.run_id, "code": exc.code, "at": run.next_check_at.isoformat()},
            )
        return run

    def _audit(
        self, kind: AuditKind, message: str, *, code: str | None = None, to_status: RunStatus | None = None
    ) -> AuditRecord:
        return AuditRecord(
            subject=self.run.run_id,
            at=self.now(),
            kind=kind,
            step=self.step,
            message=message,
            run_id=self.run.run_id,
            pipeline=self.run.pipeline,
            from_status=self.run.status,
            to_status=to_status,
            trigger=self.trigger,
            code=code,
        )

    def _write(self, updates: dict[str, Any], record: AuditRecord, release_lock: str | None) -> Run | None:
        """Conditional write; when only the version moved (e.g. the check took a lease), re-apply once on top."""
        run, store = self.run, self.deps.store
        try:
            return store.write(run.model_copy(update=updates), (run.status, run.version), record, release_lock)
        except StaleRunError as stale:
            if stale.current_status != run.status.value:
                return None
        current = store.get_run(run.run_id)
        if current is None or current.status != run.status:
            return None
        try:
            return store.write(
                current.model_copy(update=updates), (current.status, current.version), record, release_lock
            )
        except StaleRunError:
            return None
