"""Busy is not broken: a busy cluster or instance is waited for (no retry attempt spent, the deadline bounds it); a
terminal failure state fails the run at once; a stopped target is started before it is deleted.

Source of the states: Aurora User Guide, accessing-monitoring.html (Aurora.Status, Overview.DBInstance.Status).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import dispatch
from shared.errors import ResourceBusy
from shared.model import Run, RunStatus
from shared.naming import TAG_RUN
from shared.rds_states import BUSY, FAILED, Condition, condition
from shared.steps import check_restore_status, delete_rds, setup_db_users
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_run, owned_tags, run_event

TARGET = "staging-aurora"
S = RunStatus


# The classification (shared/rds_states.py) --------------------------------------------------------------------------
@pytest.mark.parametrize("status", sorted(BUSY))
def test_documented_busy_states_mean_wait(status: str) -> None:
    assert condition(status) is Condition.BUSY


@pytest.mark.parametrize("status", sorted(FAILED))
def test_documented_terminal_states_mean_failed(status: str) -> None:
    assert condition(status) is Condition.FAILED


def test_the_guides_capitalised_instance_statuses_are_understood() -> None:
    assert condition("Backing-up") is Condition.BUSY and condition("Storage-full") is Condition.FAILED


def test_a_status_unknown_to_the_table_waits_rather_than_fails() -> None:
    # AWS adds statuses over time: a guess must never fail a run before its deadline
    assert condition("some-new-status") is Condition.BUSY


def test_available_and_stopped_are_their_own_conditions() -> None:
    assert condition("available") is Condition.READY and condition("stopped") is Condition.STOPPED


def test_busy_and_failed_do_not_overlap() -> None:
    assert not BUSY & set(FAILED) and "available" not in BUSY and "stopped" not in BUSY


# The default error policy: a busy error waits ------------------------------------------------------------------------
def given(fakes: Fakes, status: RunStatus = S.REPLACING_TARGET, **overrides: Any) -> Run:
    return fakes.store.seed(make_run(status, now=fakes.clock.now(), **overrides))


def test_a_busy_error_waits_without_spending_an_attempt() -> None:
    fakes = Fakes()
    run = given(fakes, attempts=2, checks=1)
    fakes.clock.advance(minutes=5)
    busy = ResourceBusy("InvalidDBClusterStateFault", "DeleteDBInstance refused while the cluster is busy")

    stored = StepTurn(fakes.deps, run, Step.DELETE_RDS, "RunCheckDue").retry_or_fail(busy)

    assert stored is not None and stored.status is S.REPLACING_TARGET
    assert stored.attempts == 2, "waiting is not a retry"
    assert stored.checks == 2 and stored.last_error is not None and stored.last_error.code == busy.code
    policy = fakes.pipeline.policy(S.REPLACING_TARGET)
    wait = (stored.next_check_at - fakes.clock.now()).total_seconds()
    assert policy.min_poll_seconds <= wait <= policy.max_poll_seconds
    [line] = [r for r in fakes.store.audit_trail(RUN_ID) if r.kind != "transition"]
    assert line.kind == "decision" and line.code == busy.code and "no attempt spent" in line.message
    assert "retry" not in fakes.store.kinds()


def test_busy_waits_back_off_and_fail_only_at_the_deadline_naming_the_cause() -> None:
    fakes = Fakes()
    run = given(fakes)
    busy = ResourceBusy("InvalidDBClusterStateFault", "DeleteDBInstance refused while the cluster is busy")
    waits = []
    while run.status is S.REPLACING_TARGET:
        fakes.clock.set(run.next_check_at)
        stored = StepTurn(fakes.deps, run, Step.DELETE_RDS, "RunCheckDue").retry_or_fail(busy)
        assert stored is not None
        if stored.status is S.REPLACING_TARGET:
            waits.append((stored.next_check_at - fakes.clock.now()).total_seconds())
        run = stored
    assert run.status is S.FAILED and run.failure is not None and run.attempts == 0
    assert run.failure.code == "DeadlineExceeded" and "busy" in run.failure.message
    assert len(waits) > 5, "far more looks than the 5-attempt retry budget allows"
    assert waits[:3] == sorted(waits[:3]), "backoff"
    assert fakes.clock.now() == make_run(S.REPLACING_TARGET, now=T0).deadline_at


def test_a_busy_refusal_through_the_dispatcher_is_a_wait_not_a_retry() -> None:
    fakes = Fakes()
    fakes.target.add_cluster(TARGET, tags=owned_tags(**{TAG_RUN: "previous-night"}))
    fakes.target.add_instance(f"{TARGET}-1", TARGET, tags=owned_tags())
    fakes.target.fail("delete_instance", "InvalidDBInstanceState", message="backing-up")
    run = given(fakes)

    outcome = dispatch.handle(Step.DELETE_RDS, run_event("SnapshotCopied", run), fakes.deps)

    assert outcome.result == "error" and outcome.detail == "InvalidDBInstanceState"
    stored = fakes.store.run()
    assert stored.status is S.REPLACING_TARGET and stored.attempts == 0 and stored.checks == 1
    assert fakes.store.kinds()[-1] == "decision"


# delete-rds: busy, stopped, failed targets ----------------------------------------------------------------------------
def given_target(fakes: Fakes, status: str) -> None:
    fakes.target.add_cluster(TARGET, status=status, tags=owned_tags(**{TAG_RUN: "previous-night"}))
    for index in (1, 2):
        fakes.target.add_instance(f"{TARGET}-{index}", TARGET, tags=owned_tags())


def delete(fakes: Fakes, run: Run) -> None:
    delete_rds.act(StepTurn(fakes.deps, run, Step.DELETE_RDS, "RunCheckDue"))


@pytest.mark.parametrize("status", ["backing-up", "maintenance", "modifying", "upgrading", "starting"])
def test_a_busy_target_is_waited_for_and_nothing_is_deleted(status: str) -> None:
    fakes = Fakes()
    given_target(fakes, status)
    run = given(fakes)

    delete(fakes, run)

    assert fakes.all_deletes() == []
    stored = fakes.store.run()
    assert stored.attempts == 0 and stored.checks == 1 and stored.status is S.REPLACING_TARGET
    assert f"busy ({status})" in fakes.store.audit_trail(RUN_ID)[-1].message


def test_a_stopped_target_is_started_then_deleted_once_available() -> None:
    fakes = Fakes()
    given_target(fakes, "stopped")
    run = given(fakes)

    delete(fakes, run)  # stopped: start it, delete nothing yet (AWS refuses to delete a stopped cluster's instances)
    assert fakes.target.methods().count("start_cluster") == 1 and fakes.all_deletes() == []
    assert fakes.target.clusters[TARGET].status == "starting"
    assert "StartDBCluster requested" in fakes.store.audit_trail(RUN_ID)[-1].message

    delete(fakes, fakes.store.run())  # starting: busy, wait
    assert fakes.all_deletes() == [] and fakes.target.methods().count("start_cluster") == 1

    fakes.target.set_status(TARGET, "available")
    delete(fakes, fakes.store.run())
    assert [c.method for c in fakes.all_deletes()] == ["delete_instance", "delete_instance", "delete_cluster"]
    assert fakes.store.run().attempts == 0


def test_a_stopped_cluster_that_is_not_ours_is_never_started() -> None:
    fakes = Fakes()
    fakes.target.add_cluster(TARGET, status="stopped", tags={"team": "someone-else"})
    run = given(fakes)
    outcome = dispatch.handle(Step.DELETE_RDS, run_event("SnapshotCopied", run), fakes.deps)
    assert outcome.result == "error" and outcome.detail == "TargetNotOwned"
    assert "start_cluster" not in fakes.target.methods() and fakes.store.run().status is S.FAILED


def test_a_target_in_a_failed_state_is_still_replaced() -> None:
    # Given last night's target whose key became inaccessible; When delete-rds acts; Then it is deleted all the same
    fakes = Fakes()
    given_target(fakes, "inaccessible-encryption-credentials")
    delete(fakes, given(fakes))
    assert [c.method for c in fakes.all_deletes()][:2] == ["delete_instance", "delete_instance"]


# check-restore-status and setup-db-users: a terminal state fails at once ----------------------------------------------
def given_restoring(fakes: Fakes, status: str, step_status: RunStatus = S.RESTORING) -> Run:
    fakes.target.add_cluster(TARGET, status=status, tags=owned_tags(**{TAG_RUN: RUN_ID}))
    return given(fakes, step_status)


@pytest.mark.parametrize("status", ["inaccessible-encryption-credentials", "migration-failed", "restore-error"])
def test_a_restored_cluster_in_a_terminal_state_fails_the_run_at_once(status: str) -> None:
    fakes = Fakes()
    run = given_restoring(fakes, status)
    dispatch.handle(Step.CHECK_RESTORE_STATUS, run_event("RunCheckDue", run), fakes.deps)
    stored = fakes.store.run()
    assert stored.status is S.FAILED and stored.failure is not None
    assert stored.failure.code == "RestoreFailed" and status in stored.failure.message
    assert fakes.clock.now() == T0, "at once, not at the deadline"


def test_an_instance_in_a_terminal_state_fails_the_run_naming_it() -> None:
    fakes = Fakes()
    run = given_restoring(fakes, "available")
    fakes.target.add_instance(f"{TARGET}-1", TARGET, status="insufficient-capacity", tags=owned_tags())
    fakes.target.add_instance(f"{TARGET}-2", TARGET, status="available", tags=owned_tags())
    dispatch.handle(Step.CHECK_RESTORE_STATUS, run_event("RunCheckDue", run), fakes.deps)
    failure = fakes.store.run().failure
    assert failure is not None and failure.code == "InstanceFailed"
    assert f"{TARGET}-1" in failure.message and "insufficient-capacity" in failure.message
    assert f"{TARGET}-2" not in failure.message


def test_a_restored_cluster_that_is_busy_is_waited_for() -> None:
    fakes = Fakes()
    run = given_restoring(fakes, "backing-up")
    check_restore_status.act(StepTurn(fakes.deps, run, Step.CHECK_RESTORE_STATUS, "RunCheckDue"))
    stored = fakes.store.run()
    assert stored.status is S.RESTORING and stored.attempts == 0 and stored.checks == 1


def test_setup_fails_at_once_when_the_cluster_key_became_inaccessible() -> None:
    fakes = Fakes()
    run = given_restoring(fakes, "inaccessible-encryption-credentials-recoverable", S.CONFIGURING_DB)
    dispatch.handle(Step.SETUP_DB_USERS, run_event("RunCheckDue", run), fakes.deps)
    failure = fakes.store.run().failure
    assert failure is not None and failure.code == "ClusterFailed" and "KMS key" in failure.message
    assert "set_master_password" not in fakes.target.methods()


def test_setup_waits_while_the_cluster_is_busy() -> None:
    fakes = Fakes()
    run = given_restoring(fakes, "resetting-master-credentials", S.CONFIGURING_DB)
    fakes.clock.advance(minutes=1)
    setup_db_users.act(StepTurn(fakes.deps, run, Step.SETUP_DB_USERS, "RunCheckDue"))
    stored = fakes.store.run()
    assert stored.status is S.CONFIGURING_DB and stored.attempts == 0
    assert stored.next_check_at > fakes.clock.now() + timedelta(seconds=1)
