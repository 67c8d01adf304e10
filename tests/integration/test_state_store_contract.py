"""One contract, two state stores: the DynamoDB adapter (on moto, tables from template.yaml) and the unit tests'
in-memory fake (tests/unit/fakes.py). Every scenario runs against both, so the fake cannot drift from the adapter
that the unit tests stand it in for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime.template_rules import table_definitions
from shared.aws.state_store import DynamoStateStore
from shared.errors import RunExistsError, StaleRunError, StaleWatchError, TargetBusyError
from shared.model import AuditRecord, DeferredTrigger, PipelineWatch, Run, RunStatus
from shared.naming import lock_key_for
from shared.ports import StateStore
from tests.unit.fakes import T0, InMemoryStateStore, make_run

S = RunStatus
LOCK = lock_key_for("us-west-2", "staging-aurora")
OTHER_LOCK = lock_key_for("us-west-2", "qa-aurora")


@pytest.fixture(params=["in-memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "in-memory":
        yield InMemoryStateStore()
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        tables = table_definitions()
        for args in tables.values():
            client.create_table(**args)
        yield DynamoStateStore(client, tables["StateTable"]["TableName"], tables["AuditTable"]["TableName"])


def run(run_id: str = "r1", status: RunStatus = S.REQUESTED, **fields: Any) -> Run:
    return make_run(status, now=T0, run_id=run_id, **{"version": 0, **fields})


def record(subject: str, message: str, at_seconds: int = 0) -> AuditRecord:
    return AuditRecord(
        subject=subject, at=T0 + timedelta(seconds=at_seconds), kind="decision", step="test", message=message
    )


def opened(store: StateStore, *runs: Run, lock: str | None = None) -> None:
    for index, item in enumerate(runs):
        store.create_run(
            item, lock or lock_key_for("us-west-2", f"target-{item.run_id}-{index}"), record(item.run_id, "opened")
        )


# create_run ---------------------------------------------------------------------------------------------------------
def test_create_run_stores_the_run_takes_the_lock_and_audits(store: StateStore) -> None:
    store.create_run(run(), LOCK, record("r1", "opened"))
    stored = store.get_run("r1")
    assert stored is not None and (stored.status, stored.version) == (S.REQUESTED, 0)
    assert store.lock_holder(LOCK) == "r1"
    assert [r.message for r in store.audit_trail("r1")] == ["opened"]


def test_create_run_refuses_an_existing_run_id_before_looking_at_the_lock(store: StateStore) -> None:
    store.create_run(run(), LOCK, record("r1", "opened"))
    with pytest.raises(RunExistsError):
        store.create_run(run(), LOCK, record("r1", "again"))
    with pytest.raises(RunExistsError):
        store.create_run(run(), OTHER_LOCK, record("r1", "again"))
    assert store.lock_holder(OTHER_LOCK) is None
    assert [r.message for r in store.audit_trail("r1")] == ["opened"]


def test_create_run_refuses_a_held_target_and_names_the_holder(store: StateStore) -> None:
    store.create_run(run("r1"), LOCK, record("r1", "opened"))
    with pytest.raises(TargetBusyError) as busy:
        store.create_run(run("r2"), LOCK, record("r2", "opened"))
    assert busy.value.holder_run_id == "r1"
    assert store.get_run("r2") is None and store.audit_trail("r2") == []


# write ----------------------------------------------------------------------------------------------------------------
def test_write_at_the_expected_version_stores_version_plus_one(store: StateStore) -> None:
    store.create_run(run(), LOCK, record("r1", "opened"))
    moved = store.write(run(status=S.COPYING, version=41), (S.REQUESTED, 0), record("r1", "copying", 1))
    assert (moved.status, moved.version) == (S.COPYING, 1), "the version follows `expected`, not the run passed"
    stored = store.get_run("r1")
    assert stored is not None and (stored.status, stored.version) == (S.COPYING, 1)
    assert [r.message for r in store.audit_trail("r1")] == ["opened", "copying"]
    assert store.lock_holder(LOCK) == "r1"


@pytest.mark.parametrize("expected", [(S.REQUESTED, 0), (S.COPYING, 0), (S.COPYING, 2)])
def test_write_at_another_status_or_version_is_stale_and_changes_nothing(
    store: StateStore, expected: tuple[RunStatus, int]
) -> None:
    store.create_run(run(), LOCK, record("r1", "opened"))
    store.write(run(status=S.COPYING), (S.REQUESTED, 0), None)
    with pytest.raises(StaleRunError) as stale:
        store.write(run(status=S.REPLACING_TARGET), expected, record("r1", "lost"))
    assert (stale.value.current_status, stale.value.current_version) == ("COPYING", 1)
    stored = store.get_run("r1")
    assert stored is not None and (stored.status, stored.version) == (S.COPYING, 1)
    assert [r.message for r in store.audit_trail("r1")] == ["opened"]


def test_write_of_an_unknown_run_is_stale(store: StateStore) -> None:
    with pytest.raises(StaleRunError) as stale:
        store.write(run("ghost"), (S.REQUESTED, 0), None)
    assert (stale.value.current_status, stale.value.current_version) == (None, None)
    assert store.get_run("ghost") is None


def test_write_releases_the_lock_when_asked(store: StateStore) -> None:
    store.create_run(run(), LOCK, record("r1", "opened"))
    store.write(run(status=S.FAILED, ended_at=T0), (S.REQUESTED, 0), None, release_lock=LOCK)
    assert store.lock_holder(LOCK) is None
    store.create_run(run("r2"), LOCK, record("r2", "opened"))
    assert store.lock_holder(LOCK) == "r2"


def test_write_releasing_a_lock_another_run_holds_is_stale_and_changes_nothing(store: StateStore) -> None:
    store.create_run(run("r1"), LOCK, record("r1", "opened"))
    store.create_run(run("r2"), OTHER_LOCK, record("r2", "opened"))
    with pytest.raises(StaleRunError) as stale:
        store.write(run("r1", S.FAILED, ended_at=T0), (S.REQUESTED, 0), record("r1", "x"), release_lock=OTHER_LOCK)
    assert (stale.value.current_status, stale.value.current_version) == ("REQUESTED", 0)
    assert store.lock_holder(OTHER_LOCK) == "r2"
    stored = store.get_run("r1")
    assert stored is not None and stored.status is S.REQUESTED


# due_runs -------------------------------------------------------------------------------------------------------------
def test_due_runs_returns_every_due_run_whatever_its_status_in_next_check_order(store: StateStore) -> None:
    now = T0 + timedelta(hours=1)
    opened(
        store,
        run("b", S.COPYING, next_check_at=now - timedelta(seconds=10)),
        run("a", S.COPYING, next_check_at=now - timedelta(seconds=60)),
        run("c", S.COPYING, next_check_at=now + timedelta(microseconds=500_000)),  # same second as `now`
        run("later", S.COPYING, next_check_at=now + timedelta(seconds=1)),
        run("restoring", S.RESTORING, next_check_at=now - timedelta(seconds=90)),
    )
    assert [r.run_id for r in store.due_runs(now, 10)] == ["restoring", "a", "b", "c"]
    assert [r.run_id for r in store.due_runs(now, 2)] == ["restoring", "a"]


def test_due_runs_keeps_a_finished_run_only_while_its_notification_is_pending(store: StateStore) -> None:
    now = T0 + timedelta(hours=1)
    opened(store, *(run(name) for name in ("pending", "notified", "abandoned")))
    for name, fields in (
        ("pending", {}),
        ("notified", {"notified_at": T0}),
        ("abandoned", {"notification_abandoned": True}),
    ):
        store.write(run(name, S.SUCCEEDED, ended_at=T0, **fields), (S.REQUESTED, 0), None)
    assert [r.run_id for r in store.due_runs(now, 10)] == ["pending"]


# audit and history ----------------------------------------------------------------------------------------------------
def test_audit_trail_is_ordered_by_time_then_by_write_order(store: StateStore) -> None:
    store.audit(record("pipeline#nightly", "second", 5))
    store.audit(record("pipeline#nightly", "first", 1))
    store.audit(record("pipeline#nightly", "third", 5))
    store.audit(record("rejected", "elsewhere", 0))
    assert [r.message for r in store.audit_trail("pipeline#nightly")] == ["first", "second", "third"]


def test_recent_runs_are_newest_first_per_pipeline(store: StateStore) -> None:
    opened(
        store,
        run("old", created_at=T0 - timedelta(days=2)),
        run("new", created_at=T0),
        run("mid", created_at=T0 - timedelta(days=1)),
        run("other", created_at=T0 + timedelta(days=1)).model_copy(update={"pipeline": "weekly"}),
    )
    assert [r.run_id for r in store.recent_runs("nightly", 2)] == ["new", "mid"]
    assert [r.run_id for r in store.recent_runs(None, 10)] == ["other", "new", "mid", "old"]


# the pipeline's watch item (shared.steps.trigger_watch) --------------------------------------------------------------
def watch(pipeline: str = "nightly", **fields: Any) -> PipelineWatch:
    return PipelineWatch(pipeline=pipeline, watching_since=T0, updated_at=T0, **fields)


def deferred(snapshot_id: str = "rds:prod-aurora-2026-11-25-03-10") -> DeferredTrigger:
    arn = f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{snapshot_id}"
    return DeferredTrigger(
        kind="rds-event",
        key=f"snapshot:{arn}",
        trigger=f"RDS-EVENT-0169 {snapshot_id}",
        snapshot_id=snapshot_id,
        snapshot_arn=arn,
        snapshot_created_at=T0,
        blocked_by="r1",
        deferred_at=T0 + timedelta(minutes=1),
    )


def test_put_watch_creates_it_at_version_0_and_round_trips_every_field(store: StateStore) -> None:
    assert store.get_watch("nightly") is None
    created = store.put_watch(
        watch(night_start=T0, night_due=T0 + timedelta(hours=2), deferred=deferred(), version=7), None
    )
    assert created.version == 0
    assert store.get_watch("nightly") == created
    assert store.get_watch("reporting") is None


def test_get_watches_reads_every_existing_watch_in_batches_of_a_hundred(store: StateStore) -> None:
    names = [f"p{i:03d}" for i in range(150)]
    for name in names[:120]:
        store.put_watch(watch(name), None)
    found = store.get_watches([*names, "nightly"])
    assert sorted(found) == names[:120] and found["p007"] == store.get_watch("p007")
    assert store.get_watches([]) == {}


def test_put_watch_creating_an_existing_one_is_stale_and_changes_nothing(store: StateStore) -> None:
    store.put_watch(watch(deferred=deferred()), None)
    with pytest.raises(StaleWatchError):
        store.put_watch(watch(), None)
    stored = store.get_watch("nightly")
    assert stored is not None and stored.deferred == deferred()


@pytest.mark.parametrize("expected", [0, 2])
def test_put_watch_at_another_version_is_stale_and_changes_nothing(store: StateStore, expected: int) -> None:
    store.put_watch(watch(), None)
    store.put_watch(watch(deferred=deferred()), 0)  # now at version 1
    with pytest.raises(StaleWatchError):
        store.put_watch(watch(), expected)
    stored = store.get_watch("nightly")
    assert stored is not None and stored.version == 1 and stored.deferred == deferred()


def test_put_watch_at_the_expected_version_stores_version_plus_one(store: StateStore) -> None:
    store.put_watch(watch(), None)
    moved = store.put_watch(watch(deferred=deferred("rds:prod-aurora-2026-11-26-03-10")), 0)
    cleared = store.put_watch(moved.model_copy(update={"deferred": None}), 1)
    assert (moved.version, cleared.version) == (1, 2)
    stored = store.get_watch("nightly")
    assert stored is not None and stored.version == 2 and stored.deferred is None


def test_put_watch_of_an_unknown_pipeline_at_a_version_is_stale(store: StateStore) -> None:
    with pytest.raises(StaleWatchError):
        store.put_watch(watch(), 0)
    assert store.get_watch("nightly") is None


def test_the_watch_is_neither_a_run_nor_due(store: StateStore) -> None:
    """The watch item shares the state table: it must not show up in run history or in the check's due runs."""
    store.put_watch(watch(night_due=T0), None)
    opened(store, run("r1", S.COPYING, next_check_at=T0))
    assert [r.run_id for r in store.recent_runs("nightly", 10)] == ["r1"]
    assert [r.run_id for r in store.recent_runs(None, 10)] == ["r1"]
    assert [r.run_id for r in store.due_runs(T0 + timedelta(hours=1), 10)] == ["r1"]
