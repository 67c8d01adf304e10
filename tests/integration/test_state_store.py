"""The DynamoDB state store against moto, with tables created from template.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import RunExistsError, StaleRunError, TargetBusyError
from shared.model import AuditRecord, Run, RunStatus
from shared.naming import lock_key_for

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
LOCK = lock_key_for("us-west-2", "staging-aurora")


def make_run(run_id: str = "r1", status: RunStatus = RunStatus.REQUESTED, next_in: int = 60) -> Run:
    return Run(
        run_id=run_id,
        pipeline="nightly",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        trigger="rds-event",
        correlation_id=run_id,
        source_region="us-east-1",
        source_snapshot_id="s",
        source_snapshot_arn="arn",
        target_region="us-west-2",
        target_cluster_id="staging-aurora",
        copy_snapshot_id="c",
        state_entered_at=NOW,
        deadline_at=NOW + timedelta(hours=1),
        next_check_at=NOW + timedelta(seconds=next_in),
    )


def opened(run: Run) -> AuditRecord:
    return AuditRecord(
        subject=run.run_id, at=NOW, kind="transition", step="test", message="opened", to_status=run.status
    )


def test_one_active_run_per_target(deps: Any) -> None:
    store = deps.store
    store.create_run(make_run("r1"), LOCK, opened(make_run("r1")))
    with pytest.raises(TargetBusyError) as busy:
        store.create_run(make_run("r2"), LOCK, opened(make_run("r2")))
    assert busy.value.holder_run_id == "r1"
    with pytest.raises(RunExistsError):
        store.create_run(make_run("r1"), lock_key_for("us-west-2", "other"), opened(make_run("r1")))
    assert store.get_run("r2") is None


def test_conditional_write_rejects_stale_version(deps: Any) -> None:
    store = deps.store
    run = make_run()
    store.create_run(run, LOCK, opened(run))
    moved = store.write(run.model_copy(update={"status": RunStatus.COPYING}), (RunStatus.REQUESTED, 0), None)
    assert moved.version == 1
    with pytest.raises(StaleRunError) as stale:
        store.write(run.model_copy(update={"status": RunStatus.COPYING}), (RunStatus.REQUESTED, 0), None)
    assert stale.value.current_status == "COPYING" and stale.value.current_version == 1


def test_transition_and_audit_are_atomic(deps: Any) -> None:
    store = deps.store
    run = make_run()
    store.create_run(run, LOCK, opened(run))
    record = AuditRecord(
        subject="r1",
        at=NOW,
        kind="transition",
        step="t",
        message="m",
        from_status=RunStatus.REQUESTED,
        to_status=RunStatus.COPYING,
    )
    with pytest.raises(StaleRunError):
        store.write(run.model_copy(update={"status": RunStatus.COPYING}), (RunStatus.COPYING, 7), record)
    assert [r.message for r in store.audit_trail("r1")] == ["opened"], "no audit line for a lost write"


def test_terminal_write_releases_the_lock_and_leaves_the_index_once_notified(deps: Any) -> None:
    store = deps.store
    run = make_run(next_in=-10)
    store.create_run(run, LOCK, opened(run))
    assert [r.run_id for r in store.due_runs(NOW, 10)] == ["r1"]
    done = store.write(
        run.model_copy(update={"status": RunStatus.SUCCEEDED, "ended_at": NOW}),
        (RunStatus.REQUESTED, 0),
        None,
        release_lock=LOCK,
    )
    assert store.lock_holder(LOCK) is None
    [pending] = store.due_runs(NOW + timedelta(hours=1), 10)  # still due, now for its notification
    assert (pending.run_id, pending.status) == ("r1", RunStatus.SUCCEEDED)
    store.write(done.model_copy(update={"notified_at": NOW}), (RunStatus.SUCCEEDED, 1), None)
    assert store.due_runs(NOW + timedelta(hours=1), 10) == []


def test_due_runs_reads_only_what_is_due(deps: Any) -> None:
    store = deps.store
    store.create_run(make_run("due", next_in=-1), lock_key_for("r", "a"), opened(make_run("due")))
    store.create_run(make_run("later", next_in=600), lock_key_for("r", "b"), opened(make_run("later")))
    assert [r.run_id for r in store.due_runs(NOW, 10)] == ["due"]
