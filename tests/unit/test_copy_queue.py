"""The 5-copies-in-flight limit is a queue, not a failure; a full manual-snapshot quota refuses before copying; a
failed run cancels its in-flight copy so the pipelines queued behind it get its slot.

Sources: Aurora UG "Copying a DB cluster snapshot" (five copy requests in progress per destination region);
DescribeAccountAttributes `ManualClusterSnapshots`; CopyDBClusterSnapshot ("To cancel the copy operation once it is
in progress, delete the target DB cluster snapshot ... while ... in copying status").
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import dispatch
from shared.model import Run, RunError, RunStatus
from shared.naming import TAG_RUN
from shared.ports import SnapshotView
from shared.steps import orchestrator_check
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_run, owned_tags, run_event

S = RunStatus


def given_requested(fakes: Fakes, *, copy_slots: int | None = None, manual_max: int = 100) -> Run:
    """A run that has just opened, its source snapshot in production's region, copy limits as given."""
    run = fakes.store.seed(make_run(S.REQUESTED, now=T0))
    fakes.source.add_snapshot(run.source_snapshot_id, "prod-aurora")
    fakes.target.copy_slots = copy_slots
    fakes.target.manual_snapshot_max = manual_max
    return run


def copies_in_flight(fakes: Fakes, count: int) -> None:
    """Other pipelines' copies, in flight to the same destination region."""
    for index in range(count):
        fakes.target.add_snapshot(
            f"ar-other-{index}", "prod-aurora", status="copying", snapshot_type="manual", percent_progress=40
        )


def copy_step(fakes: Fakes, run: Run) -> str:
    return dispatch.handle(Step.COPY_SNAPSHOT, run_event("RunCheckDue", run), fakes.deps).result


# Queue ------------------------------------------------------------------------------------------------------------
def test_a_copy_with_every_slot_taken_waits_without_spending_an_attempt() -> None:
    fakes = Fakes()
    run = given_requested(fakes, copy_slots=5)
    copies_in_flight(fakes, 5)

    copy_step(fakes, run)

    queued = fakes.store.run()
    assert queued.status is S.REQUESTED and queued.attempts == 0 and queued.checks == 1
    assert queued.last_error is not None and queued.last_error.code == "SnapshotQuotaExceeded"
    line = fakes.store.audit_trail(RUN_ID)[-1]
    assert line.kind == "decision" and line.code == "SnapshotQuotaExceeded" and "copy queued" in line.message
    assert "retry" not in fakes.store.kinds()
    assert queued.next_check_at > T0


def test_a_queued_copy_starts_when_a_slot_frees() -> None:
    fakes = Fakes()
    run = given_requested(fakes, copy_slots=5)
    copies_in_flight(fakes, 5)
    copy_step(fakes, run)
    fakes.target.set_status("ar-other-0", "available")  # one of the five finished
    fakes.clock.set(fakes.store.run().next_check_at)

    copy_step(fakes, fakes.store.run())

    started = fakes.store.run()
    assert started.status is S.COPYING and started.attempts == 0
    assert fakes.target.snapshots[run.copy_snapshot_id].status == "copying"


def test_a_queue_that_never_frees_fails_at_the_deadline_with_the_cause() -> None:
    fakes = Fakes()
    run = given_requested(fakes, copy_slots=5)
    copies_in_flight(fakes, 5)
    looks = 0
    while run.status is S.REQUESTED:
        fakes.clock.set(run.next_check_at)
        if fakes.clock.now() >= run.deadline_at:  # the check finds it once due for its grace period
            fakes.clock.set(run.next_check_at + orchestrator_check.GRACE)
            orchestrator_check.tick(fakes.deps)
        else:
            copy_step(fakes, run)
            looks += 1
        run = fakes.store.run()
    assert run.status is S.FAILED and run.failure is not None and run.attempts == 0
    assert run.failure.code == "DeadlineExceeded" and "copy queued" in run.failure.message
    assert looks > 5, "far more looks than the retry budget would allow"


def test_a_missing_copy_in_copying_queues_too() -> None:
    fakes = Fakes()
    run = fakes.store.seed(make_run(S.COPYING, now=T0))
    fakes.source.add_snapshot(run.source_snapshot_id, "prod-aurora")
    fakes.target.copy_slots = 5
    copies_in_flight(fakes, 5)
    dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run), fakes.deps)
    stored = fakes.store.run()
    assert stored.status is S.COPYING and stored.attempts == 0 and "copy queued" in fakes.store.audits[-1].message


# Manual-snapshot quota ------------------------------------------------------------------------------------------
def test_a_full_manual_snapshot_quota_refuses_before_copying() -> None:
    fakes = Fakes()
    run = given_requested(fakes, manual_max=3)
    copies_in_flight(fakes, 0)
    for index in range(3):
        fakes.target.add_snapshot(f"manual-{index}", "staging-aurora", snapshot_type="manual")

    copy_step(fakes, run)

    failed = fakes.store.run()
    assert failed.status is S.FAILED and failed.failure is not None
    assert failed.failure.code == "SnapshotQuotaExceeded" and not failed.failure.transient
    assert "3 of 3 manual cluster snapshots in us-west-2" in failed.failure.message
    assert "delete old manual cluster snapshots or raise the quota" in failed.failure.message
    assert "copy_snapshot" not in fakes.target.methods(), "refused before copying, not mid-run"


def test_a_quota_that_fills_between_the_check_and_the_copy_fails_with_the_quota_reason() -> None:
    fakes = Fakes()
    run = given_requested(fakes, copy_slots=5)
    for index in range(99):  # one left when the step looks
        fakes.target.add_snapshot(f"manual-{index}", "staging-aurora", snapshot_type="manual")
    copy = fakes.target.copy_snapshot

    def someone_takes_the_last_one_first(**request: Any) -> SnapshotView:
        fakes.target.add_snapshot("manual-99", "staging-aurora", snapshot_type="manual")
        return copy(**request)

    fakes.target.copy_snapshot = someone_takes_the_last_one_first  # type: ignore[method-assign]
    copy_step(fakes, run)
    failed = fakes.store.run()
    assert failed.status is S.FAILED and failed.failure is not None
    assert failed.failure.code == "SnapshotQuotaExceeded" and "100 of 100" in failed.failure.message


# A failed run cancels its in-flight copy --------------------------------------------------------------------------
def failed_run(fakes: Fakes, failed_in: RunStatus, copy_status: str | None, owner: str = RUN_ID) -> Run:
    run = make_run(S.FAILED, now=T0)
    failure = RunError(step="orchestrator-check", status=failed_in, code="DeadlineExceeded", message="late", at=T0)
    stored = fakes.store.seed(run.model_copy(update={"failure": failure}))
    if copy_status is not None:
        fakes.target.add_snapshot(
            stored.copy_snapshot_id,
            "prod-aurora",
            status=copy_status,
            snapshot_type="manual",
            percent_progress=55,
            tags=owned_tags(**{TAG_RUN: owner}),
        )
    return stored


def notify(fakes: Fakes, run: Run) -> None:
    dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunFailed", run), fakes.deps)


@pytest.mark.parametrize("failed_in", [S.COPYING, S.REQUESTED])
def test_a_failed_run_deletes_its_in_flight_copy_before_notifying(failed_in: RunStatus) -> None:
    fakes = Fakes()
    run = failed_run(fakes, failed_in, "copying")

    notify(fakes, run)

    assert run.copy_snapshot_id.lower() not in fakes.target.snapshots
    assert [c.args for c in fakes.target.deletes()] == [{"identifier": run.copy_snapshot_id}]
    [sent] = fakes.notifier.sent
    assert "Clean-up: in-flight copy" in sent.message and "slot in us-west-2 freed" in sent.message
    assert any(r.kind == "decision" and "clean-up after the failure" in r.message for r in fakes.store.audits)
    assert fakes.store.run().notified_at is not None


@pytest.mark.parametrize(
    ("failed_in", "copy_status", "owner"),
    [
        pytest.param(S.COPYING, "available", RUN_ID, id="finished-copy-is-left-to-retention"),
        pytest.param(S.COPYING, "copying", "another-run", id="not-this-runs-copy"),
        pytest.param(S.COPYING, None, RUN_ID, id="no-copy"),
        pytest.param(S.RESTORING, "copying", RUN_ID, id="failed-in-another-state"),
    ],
)
def test_nothing_else_is_deleted_on_failure(failed_in: RunStatus, copy_status: str | None, owner: str) -> None:
    fakes = Fakes()
    run = failed_run(fakes, failed_in, copy_status, owner)
    notify(fakes, run)
    assert fakes.target.deletes() == []
    assert len(fakes.notifier.sent) == 1 and "Clean-up" not in fakes.notifier.sent[0].message


def test_a_succeeded_run_cleans_nothing() -> None:
    fakes = Fakes()
    run = fakes.store.seed(make_run(S.SUCCEEDED, now=T0))
    notify(fakes, run)
    assert fakes.target.methods() == [] and len(fakes.notifier.sent) == 1


def test_a_clean_up_that_fails_is_reported_and_does_not_block_the_notification() -> None:
    fakes = Fakes()
    run = failed_run(fakes, S.COPYING, "copying")
    fakes.target.fail("delete_snapshot", "AccessDenied")
    notify(fakes, run)
    [sent] = fakes.notifier.sent
    assert "do it by hand" in sent.message and "AccessDenied" in sent.message
    assert any(r.kind == "error" and r.code == "AccessDenied" for r in fakes.store.audits)
    assert fakes.store.run().notified_at is not None


def test_an_expired_copying_run_frees_its_slot_via_the_deadline_and_the_notification() -> None:
    # Given a run whose copy is stuck in flight past the COPYING deadline
    fakes = Fakes()
    run = fakes.store.seed(make_run(S.COPYING, now=T0))
    fakes.target.add_snapshot(
        run.copy_snapshot_id,
        "prod-aurora",
        status="copying",
        snapshot_type="manual",
        tags=owned_tags(**{TAG_RUN: RUN_ID}),
    )
    fakes.clock.set(run.deadline_at + timedelta(seconds=1))
    # When the check fails it at the deadline and the notification step acts on RunFailed
    orchestrator_check.tick(fakes.deps)
    expired = fakes.store.run()
    assert expired.status is S.FAILED and expired.failure is not None and expired.failure.status is S.COPYING
    notify(fakes, expired)
    # Then the copy is gone (cancelled), its slot free
    assert run.copy_snapshot_id.lower() not in fakes.target.snapshots
