"""orchestrator-check `tick`: fail runs past their deadline, lease every due run and emit one RunCheckDue each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.model import Run, RunStatus
from shared.naming import lock_key_for
from shared.routing import owner_of
from shared.steps.orchestrator_check import GRACE, LEASE, OVERDUE, tick
from tests.unit.fakes import T0, Fakes, make_run

S = RunStatus
NOW = T0 + timedelta(hours=1)
DUE = NOW - GRACE  # due long enough: a run due since less than GRACE is probably being looked at already


def given_runs(fakes: Fakes, *runs: tuple[str, RunStatus, dict[str, Any]]) -> dict[str, Run]:
    """Runs on distinct targets (so each holds its own lock), entered at T0; the check runs at NOW."""
    stored = {}
    for index, (run_id, status, fields) in enumerate(runs):
        run = make_run(status, now=T0, run_id=run_id, target_cluster_id=f"target-{index}", **fields)
        stored[run_id] = fakes.store.seed(run)
    fakes.clock.set(NOW)
    return stored


def check_due_details(fakes: Fakes) -> dict[str, dict[str, Any]]:
    assert set(fakes.bus.detail_types()) <= {"RunCheckDue"}
    return {detail["run_id"]: detail for detail in fakes.bus.details()}


def test_due_runs_are_leased_and_each_gets_one_check_due() -> None:
    fakes = Fakes()
    runs = given_runs(
        fakes,
        ("copying", S.COPYING, {"next_check_at": DUE - timedelta(seconds=30)}),
        ("restoring", S.RESTORING, {"next_check_at": DUE}),
        ("later", S.RESTORING, {"next_check_at": DUE + timedelta(seconds=1)}),  # due, but within its grace
    )

    summary = tick(fakes.deps)

    assert (summary.due, summary.redriven, summary.failed_deadline, summary.lost_lease) == (2, 2, 0, 0)
    details = check_due_details(fakes)
    assert sorted(details) == ["copying", "restoring"]
    for run_id in details:
        leased = fakes.store.run(run_id)
        assert leased.status is runs[run_id].status and leased.version == runs[run_id].version + 1
        assert leased.next_check_at == NOW + LEASE
        assert details[run_id]["run_version"] == leased.version, "the step acts only on this exact version"
        assert details[run_id]["status"] == leased.status.value
        assert fakes.store.audit_trail(run_id)[-1].message == f"check due in {leased.status.value}"
    assert fakes.store.run("later") == runs["later"]


def test_a_leased_run_is_not_redriven_by_the_next_tick() -> None:
    fakes = Fakes()
    given_runs(fakes, ("copying", S.COPYING, {}))
    tick(fakes.deps)
    fakes.clock.advance(seconds=60)
    assert tick(fakes.deps).redriven == 0
    fakes.clock.advance(seconds=60 + GRACE.total_seconds())
    assert tick(fakes.deps).redriven == 1, "a lease that ran out is due again (after its grace)"


@pytest.mark.parametrize("status", [s for s in S if not s.is_terminal])
def test_every_active_state_is_redriven_to_a_step_that_owns_it(status: RunStatus) -> None:
    fakes = Fakes()
    given_runs(fakes, ("run", status, {"deadline_at": NOW + timedelta(hours=1)}))
    tick(fakes.deps)
    assert check_due_details(fakes)["run"]["status"] == status.value
    assert owner_of(status) is not None


def test_runs_past_their_deadline_are_failed_not_redriven() -> None:
    fakes = Fakes()
    given_runs(
        fakes,
        ("late", S.CONFIGURING_DB, {}),  # deadline T0 + 30 min, now T0 + 1 h
        ("on-time", S.COPYING, {}),  # deadline T0 + 6 h
    )

    summary = tick(fakes.deps)

    assert (summary.due, summary.failed_deadline, summary.redriven) == (2, 1, 1)
    late = fakes.store.run("late")
    assert late.status is S.FAILED and late.failure is not None
    assert (late.failure.code, late.failure.step) == ("DeadlineExceeded", "orchestrator-check")
    assert late.failure.message == "CONFIGURING_DB did not finish within 30 minutes."
    assert fakes.store.lock_holder(lock_key_for("us-west-2", "target-0")) is None
    assert sorted(fakes.bus.detail_types()) == ["RunCheckDue", "RunFailed"]
    assert fakes.recorder.total("DeadlineExceeded") == 1


def test_a_run_exactly_at_its_deadline_is_failed() -> None:
    fakes = Fakes()
    given_runs(fakes, ("edge", S.CONFIGURING_DB, {"deadline_at": NOW}))
    assert tick(fakes.deps).failed_deadline == 1


def test_finished_runs_awaiting_their_notification_are_redriven_and_notified_ones_are_not() -> None:
    fakes = Fakes()
    given_runs(
        fakes,
        ("pending", S.SUCCEEDED, {"next_check_at": DUE}),
        ("notified", S.SUCCEEDED, {"next_check_at": DUE, "notified_at": T0}),
        ("abandoned", S.FAILED, {"next_check_at": DUE, "notification_abandoned": True}),
        ("failed", S.FAILED, {"next_check_at": DUE}),
    )
    summary = tick(fakes.deps)
    assert sorted(check_due_details(fakes)) == ["failed", "pending"]
    assert summary.failed_deadline == 0, "a finished run has no deadline"


def test_a_lost_lease_is_counted_and_not_redriven() -> None:
    # Given a step's write lands between the check's read of the due runs and its lease
    fakes = Fakes()
    given_runs(fakes, ("busy", S.RESTORING, {}), ("idle", S.RESTORING, {"next_check_at": T0 + timedelta(seconds=1)}))
    fakes.store.before_next_write(lambda: fakes.store.bump("busy", checks=1))

    summary = tick(fakes.deps)

    assert (summary.due, summary.lost_lease, summary.redriven) == (2, 1, 1)
    assert sorted(check_due_details(fakes)) == ["idle"]
    assert fakes.store.run("busy").checks == 1, "the step's write stands"


def test_overdue_runs_are_counted() -> None:
    fakes = Fakes()
    given_runs(
        fakes,
        ("overdue", S.COPYING, {"next_check_at": NOW - OVERDUE - timedelta(seconds=1)}),
        ("just-due", S.COPYING, {"next_check_at": NOW - OVERDUE}),
    )
    summary = tick(fakes.deps)
    assert summary.overdue == 1
    assert (fakes.recorder.total("DueRuns"), fakes.recorder.total("OverdueRuns")) == (2, 1)


def test_nothing_due_publishes_nothing() -> None:
    fakes = Fakes()
    given_runs(fakes, ("later", S.COPYING, {"next_check_at": NOW + timedelta(minutes=5)}))
    summary = tick(fakes.deps)
    assert summary.due == 0 and fakes.bus.published == [] and fakes.store.write_count == 0


def test_every_due_run_is_found_with_one_query_whatever_its_status() -> None:
    fakes = Fakes()
    given_runs(
        fakes,
        ("copying", S.COPYING, {"next_check_at": DUE - timedelta(seconds=30)}),
        ("restoring", S.RESTORING, {"next_check_at": DUE}),
        ("replacing", S.REPLACING_TARGET, {"next_check_at": NOW - timedelta(minutes=20)}),
        ("unnotified", S.SUCCEEDED, {"next_check_at": DUE}),
    )
    queries = []
    real = fakes.store.due_runs

    def counted(now: datetime, limit: int) -> list[Run]:
        queries.append(now)
        return real(now, limit)

    fakes.store.due_runs = counted  # type: ignore[method-assign]
    summary = tick(fakes.deps)
    assert (summary.due, summary.redriven, len(queries)) == (4, 4, 1)
    assert sorted(d["status"] for d in fakes.bus.details()) == ["COPYING", "REPLACING_TARGET", "RESTORING", "SUCCEEDED"]
