"""StepTurn: the only way a step changes a run (transition, wait, retry_or_fail, claim, note, ignore, emit)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import PipelineError
from shared.model import Run, RunError, RunStatus
from shared.naming import lock_key_for
from shared.steps.turn import NOTIFY_FALLBACK, StepTurn, announced, event_detail
from shared.transitions import STATES, DetailType, Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_config, make_run, pipeline_doc

LOCK = lock_key_for("us-west-2", "staging-aurora")
S = RunStatus


def given_run(fakes: Fakes, status: RunStatus = S.COPYING, **overrides: Any) -> tuple[Run, StepTurn]:
    """A run that entered `status` at T0 (stored at version 3), and a turn of the step owning it, ten minutes later."""
    run = fakes.store.seed(make_run(status, now=T0, pipeline=fakes.pipeline, **overrides))
    fakes.clock.set(T0 + timedelta(minutes=10))
    return run, StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "RunCheckDue")


def transient(code: str = "Throttling") -> PipelineError:
    return PipelineError(code, "Rate exceeded", transient=True)


# transition ---------------------------------------------------------------------------------------------------------
def test_transition_records_timings_entry_fields_and_an_audit_line() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes, S.COPYING, attempts=2, checks=7, last_error=None)
    now = fakes.clock.now()

    stored = turn.transition(S.REPLACING_TARGET, "copy available", copy_percent=100)

    assert stored is not None and stored == fakes.store.run()
    assert stored.status is S.REPLACING_TARGET and stored.version == run.version + 1
    assert stored.timings["COPYING"].started_at == T0 and stored.timings["COPYING"].ended_at == now
    assert stored.timings["REPLACING_TARGET"].started_at == now and stored.timings["REPLACING_TARGET"].ended_at is None
    policy = fakes.pipeline.policy(S.REPLACING_TARGET)
    assert stored.state_entered_at == now
    assert stored.deadline_at == now + timedelta(minutes=policy.deadline_minutes)
    assert stored.next_check_at == now + timedelta(seconds=policy.min_poll_seconds)
    assert (stored.attempts, stored.checks, stored.last_error, stored.copy_percent) == (0, 0, None, 100)
    [line] = [r for r in fakes.store.audit_trail(RUN_ID) if r.kind == "transition"]
    assert (line.from_status, line.to_status, line.step, line.trigger, line.message) == (
        S.COPYING,
        S.REPLACING_TARGET,
        "check-copy-status",
        "RunCheckDue",
        "copy available",
    )
    assert fakes.store.lock_holder(LOCK) == RUN_ID, "an active state keeps the target locked"


def test_entering_an_announced_state_asks_for_no_wake_up() -> None:
    # ClusterAvailable wakes setup-db-users: the first look is only the periodic check's, at the state's min poll
    fakes = Fakes()
    _, turn = given_run(fakes, S.RESTORING)
    stored = turn.transition(S.CONFIGURING_DB, "cluster available")
    policy = fakes.pipeline.policy(S.CONFIGURING_DB)
    assert stored is not None and stored.next_check_at == fakes.clock.now() + timedelta(seconds=policy.min_poll_seconds)
    assert fakes.wakeups.requested == []


def test_entering_a_state_nothing_announces_asks_for_a_wake_up_at_the_first_look() -> None:
    # No event ends a copy: the run is woken at its first look, carrying the version the transition wrote
    fakes = Fakes()
    _, turn = given_run(fakes, S.REQUESTED)
    stored = turn.transition(S.COPYING, "copy requested")
    assert stored is not None
    [wake_up] = fakes.wakeups.requested
    assert wake_up.at == stored.next_check_at
    assert (wake_up.detail["status"], wake_up.detail["run_version"]) == ("COPYING", stored.version)
    assert wake_up.name == f"{RUN_ID}-v{stored.version}"


def test_which_states_are_announced() -> None:
    # by an entry event, or by an RDS event their owner listens to; a copy's end is announced by nothing
    assert {s for s in S if not s.is_terminal and not announced(s)} == {S.COPYING}


LEGAL = [(status, nxt) for status, spec in STATES.items() for nxt in spec.next_states] + [
    (status, S.FAILED) for status in S if not status.is_terminal
]


@pytest.mark.parametrize(("start", "to"), LEGAL, ids=lambda s: s.value)
def test_transition_emits_the_entered_event_of_the_new_state(start: RunStatus, to: RunStatus) -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, start)
    stored = turn.transition(to, "moving on")
    assert stored is not None
    event = STATES[to].entered_event
    assert fakes.bus.detail_types() == ([event.value] if event else [])
    if event:
        detail = fakes.bus.details()[0]
        assert (detail["run_id"], detail["run_version"]) == (RUN_ID, stored.version), "carries the stored version"


@pytest.mark.parametrize("to", [S.SUCCEEDED, S.FAILED])
def test_transition_to_a_terminal_state_releases_the_lock_and_awaits_the_notification(to: RunStatus) -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, S.ARCHIVING)
    now = fakes.clock.now()

    stored = turn.transition(to, "done")

    assert stored is not None and stored.ended_at == now
    assert fakes.store.lock_holder(LOCK) is None
    assert stored.next_check_at == now + NOTIFY_FALLBACK and stored.pending_notification
    assert "ARCHIVING" in stored.timings and stored.timings["ARCHIVING"].ended_at == now
    assert to.value not in stored.timings, "a terminal state has no timing of its own"
    assert [r.run_id for r in fakes.store.due_runs(now + NOTIFY_FALLBACK, 10)] == [RUN_ID]
    assert fakes.bus.details()[0]["message"] == "done"


@pytest.mark.parametrize(
    ("start", "to"),
    [(S.COPYING, S.ARCHIVING), (S.REQUESTED, S.REQUESTED), (S.SUCCEEDED, S.FAILED), (S.FAILED, S.SUCCEEDED)],
)
def test_illegal_transition_raises_and_changes_nothing(start: RunStatus, to: RunStatus) -> None:
    fakes = Fakes()
    run, turn = given_run(fakes, start)
    with pytest.raises(ValueError, match="illegal transition"):
        turn.transition(to, "nope")
    assert fakes.store.run() == run and fakes.store.audits == [] and fakes.bus.published == []


def test_transition_is_reapplied_once_on_top_of_a_version_only_move() -> None:
    # Given the check leased the run (same status, version + 1) after this turn read it
    fakes = Fakes()
    run, turn = given_run(fakes)
    leased = fakes.store.bump(RUN_ID, next_check_at=T0 + timedelta(minutes=12))
    # When the turn transitions from what it read
    stored = turn.transition(S.REPLACING_TARGET, "copy available")
    # Then the transition lands on top of the lease
    assert stored is not None and stored.status is S.REPLACING_TARGET
    assert stored.version == leased.version + 1 == run.version + 2
    assert fakes.bus.details()[0]["run_version"] == stored.version


def test_transition_is_dropped_and_audited_as_ignored_when_the_run_changed_state() -> None:
    # Given another delivery already moved the run on
    fakes = Fakes()
    run, turn = given_run(fakes)
    StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "other").transition(S.REPLACING_TARGET, "first")
    fakes.bus.published.clear()
    # When this turn tries the same transition
    assert turn.transition(S.REPLACING_TARGET, "second") is None
    # Then nothing is written, nothing emitted, and the trail says why
    assert fakes.store.run().version == run.version + 1
    assert fakes.bus.published == []
    last = fakes.store.audit_trail(RUN_ID)[-1]
    assert last.kind == "ignored" and "run already moved on; COPYING->REPLACING_TARGET not applied" in last.message


def test_reapply_happens_only_once() -> None:
    # Given two version-only moves land between the read and each of the two writes
    fakes = Fakes()
    _, turn = given_run(fakes)
    fakes.store.bump(RUN_ID)
    fakes.store.before_next_write(lambda: None)  # the first write (on what the turn read) fails as stale
    fakes.store.before_next_write(lambda: fakes.store.bump(RUN_ID))  # and a second move beats the re-apply
    before = fakes.store.write_count
    # When the turn waits
    result = turn.wait(60, "still copying")
    # Then it gives up rather than chase the run
    assert result is None
    assert fakes.store.write_count == before + 1, "only the concurrent writer's move landed"


# wait ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("delay", "expected"),
    [(0, 20), (1, 20), (19.5, 20), (20, 20), (300, 300), (2399, 2399), (2400, 2400), (10_000, 2400)],
)
def test_wait_clamps_the_delay_to_the_state_policy(delay: float, expected: int) -> None:
    # COPYING: min_poll 20 s, max_poll 2400 s
    fakes = Fakes()
    run, turn = given_run(fakes, S.COPYING, checks=4)
    stored = turn.wait(delay, "copy at 40%", copy_percent=40)
    assert stored is not None and stored.status is S.COPYING
    assert stored.next_check_at == fakes.clock.now() + timedelta(seconds=expected)
    assert (stored.checks, stored.copy_percent, stored.version) == (5, 40, run.version + 1)
    line = fakes.store.audit_trail(RUN_ID)[-1]
    assert line.kind == "decision" and line.message == f"copy at 40%; next look in {expected}s"


def test_wait_never_schedules_past_the_deadline() -> None:
    fakes = Fakes()
    deadline = T0 + timedelta(minutes=10, seconds=100)
    _, turn = given_run(fakes, S.COPYING, deadline_at=deadline)
    stored = turn.wait(600, "copy at 90%")
    assert stored is not None and stored.next_check_at == deadline


@pytest.mark.parametrize("past", [timedelta(0), timedelta(seconds=1), timedelta(hours=3)])
def test_wait_fails_the_run_once_the_deadline_has_passed(past: timedelta) -> None:
    fakes = Fakes()
    last = RunError(step="check-copy-status", status=S.COPYING, code="Throttling", message="Rate exceeded", at=T0)
    _, turn = given_run(fakes, S.COPYING, deadline_at=T0 + timedelta(minutes=10) - past, last_error=last)
    stored = turn.wait(60, "copy at 90%")
    assert stored is not None and stored.status is S.FAILED and stored.failure is not None
    assert stored.failure.code == "DeadlineExceeded" and stored.failure.status is S.COPYING
    assert stored.failure.message == "COPYING did not finish within 360 minutes. Last error: Rate exceeded"
    assert fakes.store.lock_holder(LOCK) is None
    assert fakes.bus.detail_types() == ["RunFailed"]


def test_wait_is_reapplied_on_top_of_a_version_only_move() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes)
    fakes.store.before_next_write(lambda: fakes.store.bump(RUN_ID))
    stored = turn.wait(120, "copy at 10%")
    assert stored is not None and stored.version == run.version + 2
    assert stored.next_check_at == fakes.clock.now() + timedelta(seconds=120)


def test_wait_is_dropped_when_the_run_changed_state() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes)
    moved = StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "other").transition(S.REPLACING_TARGET, "available")
    assert turn.wait(120, "copy at 10%") is None
    assert fakes.store.run() == moved


@settings(max_examples=150, deadline=None)
@given(
    min_poll=st.integers(5, 3_600),
    spread=st.integers(0, 3_600),
    deadline_minutes=st.integers(1, 24 * 60),
    elapsed=st.integers(0, 25 * 3_600),
    delay=st.floats(min_value=-1e3, max_value=1e7, allow_nan=False),
)
def test_wait_stays_within_the_poll_bounds_and_never_passes_the_deadline(
    min_poll: int, spread: int, deadline_minutes: int, elapsed: int, delay: float
) -> None:
    policy = {"deadline_minutes": deadline_minutes, "min_poll_seconds": min_poll, "max_poll_seconds": min_poll + spread}
    fakes = Fakes(config=make_config(pipeline_doc(policies={"COPYING": policy})))
    run = fakes.store.seed(make_run(S.COPYING, now=T0, pipeline=fakes.pipeline))
    fakes.clock.set(T0 + timedelta(seconds=elapsed))
    now = fakes.clock.now()

    stored = StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "RunCheckDue").wait(delay, "looking")

    assert stored is not None
    if now >= run.deadline_at:
        assert stored.status is S.FAILED and stored.failure is not None
        assert stored.failure.code == "DeadlineExceeded"
        return
    assert stored.status is S.COPYING
    assert stored.next_check_at <= run.deadline_at
    wait = (stored.next_check_at - now).total_seconds()
    if stored.next_check_at < run.deadline_at:
        assert min_poll <= wait <= min_poll + spread
    else:
        assert wait <= min_poll + spread


# retry_or_fail ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("attempts", "delay"), [(0, 30), (1, 60), (2, 120), (3, 240)])
def test_retry_backs_off_exponentially(attempts: int, delay: int) -> None:
    # COPYING: backoff_base 30 s, max_attempts 5, max_poll 900 s
    fakes = Fakes()
    _, turn = given_run(fakes, attempts=attempts)
    now = fakes.clock.now()
    stored = turn.retry_or_fail(transient())
    assert stored is not None and stored.status is S.COPYING
    assert stored.attempts == attempts + 1
    assert stored.next_check_at == now + timedelta(seconds=delay)
    assert stored.last_error == RunError(
        step="check-copy-status", status=S.COPYING, code="Throttling", message="Rate exceeded", transient=True, at=now
    )
    line = fakes.store.audit_trail(RUN_ID)[-1]
    assert (line.kind, line.code) == ("retry", "Throttling")
    assert line.message == f"attempt {attempts + 1}/5 failed, retry in {delay}s: Rate exceeded"


def test_retry_backoff_is_capped_by_max_poll() -> None:
    policy = {"deadline_minutes": 600, "max_attempts": 20, "backoff_base_seconds": 30, "max_poll_seconds": 300}
    fakes = Fakes(config=make_config(pipeline_doc(policies={"COPYING": policy})))
    _, turn = given_run(fakes, attempts=6)  # uncapped: 30 * 2**6 = 1920 s
    stored = turn.retry_or_fail(transient())
    assert stored is not None and stored.next_check_at == fakes.clock.now() + timedelta(seconds=300)


def test_retry_never_schedules_past_the_deadline() -> None:
    fakes = Fakes()
    deadline = T0 + timedelta(minutes=10, seconds=45)
    _, turn = given_run(fakes, attempts=3, deadline_at=deadline)  # backoff 240 s, deadline in 45 s
    stored = turn.retry_or_fail(transient())
    assert stored is not None and stored.status is S.COPYING and stored.next_check_at == deadline


def test_retry_gives_up_after_max_attempts() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, attempts=4)
    stored = turn.retry_or_fail(transient())
    assert stored is not None and stored.status is S.FAILED and stored.failure is not None
    assert stored.failure.code == "Throttling" and not stored.failure.transient
    assert stored.failure.message == "gave up after 5 attempts: Rate exceeded"
    assert fakes.bus.detail_types() == ["RunFailed"]


def test_non_transient_error_fails_the_run_at_once() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, attempts=0)
    stored = turn.retry_or_fail(PipelineError("AccessDenied", "missing IAM permission"))
    assert stored is not None and stored.status is S.FAILED and stored.failure is not None
    assert (stored.failure.code, stored.failure.message, stored.failure.step) == (
        "AccessDenied",
        "missing IAM permission",
        "check-copy-status",
    )
    assert stored.last_error == stored.failure
    assert fakes.store.lock_holder(LOCK) is None


def test_transient_error_after_the_deadline_fails_the_run() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, deadline_at=T0 + timedelta(minutes=5))
    stored = turn.retry_or_fail(transient())
    assert stored is not None and stored.status is S.FAILED


@settings(max_examples=150, deadline=None)
@given(
    max_attempts=st.integers(1, 20),
    base=st.integers(1, 900),
    max_poll=st.integers(5, 3_600),
    attempts=st.integers(0, 25),
    deadline_minutes=st.integers(1, 24 * 60),
    elapsed=st.integers(0, 25 * 3_600),
)
def test_retry_backoff_never_exceeds_max_poll_nor_passes_the_deadline(
    max_attempts: int, base: int, max_poll: int, attempts: int, deadline_minutes: int, elapsed: int
) -> None:
    policy = {
        "deadline_minutes": deadline_minutes,
        "max_attempts": max_attempts,
        "backoff_base_seconds": base,
        "min_poll_seconds": 5,
        "max_poll_seconds": max_poll,
    }
    fakes = Fakes(config=make_config(pipeline_doc(policies={"COPYING": policy})))
    run = fakes.store.seed(make_run(S.COPYING, now=T0, pipeline=fakes.pipeline, attempts=attempts))
    fakes.clock.set(T0 + timedelta(seconds=elapsed))
    now = fakes.clock.now()

    stored = StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "RunCheckDue").retry_or_fail(transient())

    assert stored is not None
    if attempts + 1 >= max_attempts or now >= run.deadline_at:
        assert stored.status is S.FAILED
        return
    assert stored.status is S.COPYING and stored.attempts == attempts + 1
    assert stored.next_check_at <= run.deadline_at
    wait = (stored.next_check_at - now).total_seconds()
    assert wait <= max_poll
    assert wait == min(base * 2**attempts, max_poll, (run.deadline_at - now).total_seconds())


# claim, note, ignore ------------------------------------------------------------------------------------------------
def test_claim_wins_on_the_exact_version() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes, S.SUCCEEDED)
    claimed = turn.claim("notification claimed", notify_claimed_at=fakes.clock.now())
    assert claimed is not None and claimed.version == run.version + 1
    assert claimed.notify_claimed_at == fakes.clock.now()
    assert fakes.store.audit_trail(RUN_ID)[-1].kind == "decision"


def test_claim_loses_to_any_newer_version_and_is_not_reapplied() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, S.SUCCEEDED)
    leased = fakes.store.bump(RUN_ID)
    assert turn.claim("notification claimed", notify_claimed_at=fakes.clock.now()) is None
    assert fakes.store.run() == leased and fakes.store.audits == []


def test_of_two_claims_on_the_same_read_exactly_one_wins() -> None:
    fakes = Fakes()
    run, first = given_run(fakes, S.FAILED)
    second = StepTurn(fakes.deps, run, Step.SNS_NOTIFICATION, "RunCheckDue")
    results = [first.claim("mine", notify_claimed_at=T0), second.claim("mine too", notify_claimed_at=T0)]
    assert results[0] is not None and results[1] is None
    assert [r.message for r in fakes.store.audit_trail(RUN_ID)] == ["mine"]


def test_note_records_the_fact_with_its_audit_kind() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes, S.CONFIGURING_DB)
    stored = turn.note("decision", "master password rotated", master_rotated_at=fakes.clock.now())
    assert stored is not None and stored.master_rotated_at == fakes.clock.now()
    assert stored.status is S.CONFIGURING_DB and stored.version == run.version + 1
    line = fakes.store.audit_trail(RUN_ID)[-1]
    assert (line.kind, line.message) == ("decision", "master password rotated")


def test_note_is_reapplied_on_top_of_a_version_only_move() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes, S.FAILED)
    fakes.store.bump(RUN_ID, notify_claimed_at=T0)
    stored = turn.note("retry", "notification failed", attempts=1, notify_claimed_at=None)
    assert stored is not None and stored.version == run.version + 2
    assert (stored.attempts, stored.notify_claimed_at) == (1, None)


def test_note_is_dropped_when_the_run_changed_state() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes)
    StepTurn(fakes.deps, run, Step.ORCHESTRATOR_CHECK, "deadline").fail(PipelineError("DeadlineExceeded", "late"))
    assert turn.note("decision", "copy at 50%", copy_percent=50) is None
    assert fakes.store.run().copy_percent is None


def test_ignore_audits_without_writing_the_run() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes)
    turn.ignore("duplicate delivery")
    assert fakes.store.run() == run and fakes.store.write_count == 0
    [line] = fakes.store.audit_trail(RUN_ID)
    assert (line.kind, line.message, line.from_status, line.trigger) == (
        "ignored",
        "duplicate delivery",
        S.COPYING,
        "RunCheckDue",
    )


# emit ---------------------------------------------------------------------------------------------------------------
def test_emit_publishes_an_event_about_the_run_as_the_turn_sees_it() -> None:
    fakes = Fakes()
    run, turn = given_run(fakes, S.REPLACING_TARGET)
    turn.emit(DetailType.TARGET_DELETED)
    [detail] = fakes.bus.details()
    assert fakes.bus.detail_types() == ["TargetDeleted"]
    assert (detail["run_id"], detail["pipeline"], detail["correlation_id"], detail["run_version"]) == (
        RUN_ID,
        "nightly",
        run.correlation_id,
        run.version,
    )


def test_emit_swallows_a_publish_failure_and_the_run_stays_due() -> None:
    # Given a bus that refuses the event
    fakes = Fakes()
    _, turn = given_run(fakes, S.COPYING)
    fakes.bus.fail()
    # When the run transitions (write first, then publish)
    stored = turn.transition(S.REPLACING_TARGET, "copy available")
    # Then the transition stands, nothing raises, a warning names the re-drive, and the check will find the run
    assert stored is not None and fakes.store.run().status is S.REPLACING_TARGET
    assert fakes.bus.published == []
    assert any("orchestrator check will re-drive" in m for m in fakes.recorder.messages("warning"))
    due = fakes.store.due_runs(stored.next_check_at, 10)
    assert [r.run_id for r in due] == [RUN_ID]


# exact wake-ups -----------------------------------------------------------------------------------------------------
def test_a_wait_is_woken_exactly_at_its_next_look() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, S.COPYING)
    stored = turn.wait(300, "copy at 40%")
    assert stored is not None
    [wake_up] = fakes.wakeups.requested
    assert wake_up.at == stored.next_check_at == fakes.clock.now() + timedelta(seconds=300)
    assert wake_up.name == f"{RUN_ID}-v{stored.version}"
    assert (wake_up.detail["status"], wake_up.detail["run_version"]) == ("COPYING", stored.version)


def test_a_wait_an_rds_event_ends_asks_for_no_wake_up() -> None:
    # the event wakes the step; the periodic check looks only if it is lost
    fakes = Fakes()
    _, turn = given_run(fakes, S.RESTORING)
    stored = turn.wait(60, "cluster creating", woken_by="RDS-EVENT-0170")
    assert stored is not None and stored.next_check_at == fakes.clock.now() + timedelta(seconds=60)
    assert fakes.wakeups.requested == []
    assert fakes.store.audit_trail(RUN_ID)[-1].message == "cluster creating; woken by RDS-EVENT-0170"


def test_a_retry_is_woken_at_its_backoff() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, S.COPYING)
    stored = turn.retry_or_fail(transient())
    assert stored is not None and stored.attempts == 1
    [wake_up] = fakes.wakeups.requested
    assert wake_up.at == stored.next_check_at and wake_up.detail["run_version"] == stored.version


def test_a_wake_up_the_scheduler_refuses_leaves_the_run_to_the_periodic_check() -> None:
    fakes = Fakes()
    _, turn = given_run(fakes, S.COPYING)
    fakes.wakeups.fail("ThrottlingException")
    stored = turn.wait(120, "copy at 40%")
    assert stored is not None and stored == fakes.store.run(), "the wait is stored all the same"
    assert fakes.store.due_runs(stored.next_check_at, 10) == [stored], "and the check finds it when due"
    assert fakes.recorder.total("WakeUpsNotScheduled") == 1


def test_a_retried_invocation_asks_for_the_same_wake_up() -> None:
    # the name is the run's and the version's: the second request finds it there (ConflictException)
    fakes = Fakes()
    _, turn = given_run(fakes, S.COPYING)
    stored = turn.wait(120, "copy at 40%")
    assert stored is not None
    assert fakes.wakeups.wake_at(f"{RUN_ID}-v{stored.version}", stored.next_check_at, _detail(stored)) is False
    assert len(fakes.wakeups.pending) == 1


def _detail(run: Run) -> Any:
    return event_detail(run, DetailType.RUN_CHECK_DUE)
