"""Triggers AWS does not promise: a night whose RDS-EVENT-0169 never comes, events from another account, events
replayed late and out of order, and a snapshot that arrives while the target is busy.

RDS "emits events on a best effort basis" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
working-with-events.html). The source cluster's PreferredBackupWindow says when the night's snapshot is taken
(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from local_runtime.runtime import Fault
from local_runtime.world import SOURCE_REGION, TARGET_REGION, default_config
from shared.naming import TAG_RUN
from tests.e2e.helpers import assert_exactly_once, calls

pytestmark = pytest.mark.mariadb

FOREIGN_ACCOUNT = "999999999999"
WINDOW = "04:00-04:30"  # tonight's backup window; the simulated night starts at 03:00
GRACE = 60


def refusals(h: Any, code: str) -> list[Any]:
    return [r for r in h.runtime.deps.store.audit_trail("pipeline#nightly") if r.code == code]


def assert_each_run_restored_once(h: Any, runs: int, refusals_told: int) -> None:
    """One copy and one restore per run; one success notification per run, one notice per refused trigger."""
    assert calls(h, "CopyDBClusterSnapshot") == runs and calls(h, "RestoreDBClusterFromSnapshot") == runs
    messages = h.world.notifications()
    assert sum("SUCCEEDED" in m for m in messages) == runs
    assert sum("No run was started" in m for m in messages) == refusals_told and len(messages) == runs + refusals_told


def target_run_tag(h: Any) -> str:
    cluster = h.rds(TARGET_REGION).describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    return str({t["Key"]: t["Value"] for t in cluster["TagList"]}[TAG_RUN])


def watched_night(harness: Any, **runtime: Any) -> Any:
    """A world whose source takes its backup in WINDOW, with a grace of GRACE minutes."""
    h = harness(default_config(trigger_watch={"grace_minutes": GRACE}), **runtime)
    h.rds(SOURCE_REGION).modify_db_cluster(
        DBClusterIdentifier="prod-aurora", PreferredBackupWindow=WINDOW, ApplyImmediately=True
    )
    return h


def backup_at(h: Any, hour: int, minute: int, **options: Any) -> None:
    """Production's backup finishes at hour:minute of the simulated night (and emits, or loses, its event)."""
    at = h.runtime.clock.now().replace(hour=hour, minute=minute)
    h.runtime.later(
        (at - h.runtime.clock.now()).total_seconds(), lambda: h.world.nightly_snapshot(h.runtime, **options)
    )


# A night whose trigger never comes --------------------------------------------------------------------------------
def test_lost_trigger_is_made_up_by_the_fallback_after_the_grace_period(harness: Any) -> None:
    h = watched_night(harness, faults=[Fault("RDS-EVENT-0169", "drop")])
    backup_at(h, 4, 10)
    [run] = h.run_to_end()
    assert run.status.value == "SUCCEEDED", run.failure
    assert run.trigger == "fallback" and run.source_snapshot_id.startswith("rds:prod-aurora-")
    start = run.created_at.replace(hour=4, minute=0, second=0, microsecond=0)
    due = start + timedelta(minutes=30 + GRACE)
    assert due <= run.created_at < due + timedelta(minutes=2), "opened by the first check after the grace period"
    opened = h.trail(run.run_id)[0]
    assert opened.step == "orchestrator-check" and opened.to_status is not None
    assert "started by the fallback: no RDS-EVENT-0169 arrived" in opened.message
    assert f"backup window {WINDOW} UTC, grace {GRACE} min" in opened.message
    assert_exactly_once(h)
    assert ("RunsSucceeded", "nightly", 1) in h.runtime.pipeline_metrics


def test_a_late_trigger_after_the_fallback_opens_no_second_run(harness: Any) -> None:
    h = watched_night(harness, faults=[Fault("RDS-EVENT-0169", "delay", delay=3 * 3600)])
    backup_at(h, 4, 10)
    [run] = h.run_to_end()
    h.runtime.run_until(lambda: False, max_seconds=3 * 3600)  # the event arrives at 07:10
    assert [r.run_id for r in h.runs()] == [run.run_id] and run.trigger == "fallback"
    late = [d for d in h.runtime.deliveries if d.step == "snapshot-check" and d.detail_type.startswith("RDS")]
    assert [d.result for d in late] == ["none"]
    assert any("duplicate trigger" in r.message for r in h.runtime.deps.store.audit_trail("pipeline#nightly"))
    assert_exactly_once(h)


def test_a_trigger_on_time_leaves_the_fallback_idle(harness: Any) -> None:
    h = watched_night(harness)
    backup_at(h, 4, 10)
    [run] = h.run_to_end()
    h.runtime.run_until(lambda: False, max_seconds=3 * 3600)  # well past the night's due time
    assert [r.run_id for r in h.runs()] == [run.run_id] and run.trigger == "rds-event"
    assert h.runtime.deps.store.audit_trail("pipeline#nightly") == []
    assert_exactly_once(h)


# Provenance -------------------------------------------------------------------------------------------------------
def test_snapshot_event_naming_another_account_is_refused(harness: Any) -> None:
    h = harness()
    snapshot_id = h.world.nightly_snapshot(h.runtime, deliver=False)  # ours exists, under the same name
    forged = h.world.snapshot_event(SOURCE_REGION, snapshot_id, h.runtime.clock.now(), account=FOREIGN_ACCOUNT)
    h.runtime.publish("default", forged, 15)
    h.runtime.run_until(lambda: False, max_seconds=2 * 3600)
    assert h.runs() == [] and calls(h, "CopyDBClusterSnapshot", region=None) == 0
    [refused] = refusals(h, "ForeignSnapshot")
    assert refused.kind == "refused" and f"names account {FOREIGN_ACCOUNT}" in refused.message
    [message] = h.world.notifications()
    assert "No run was started" in message and FOREIGN_ACCOUNT in message


def test_pinned_snapshot_arn_of_another_account_is_refused(harness: Any) -> None:
    h = harness()
    snapshot_id = h.world.nightly_snapshot(h.runtime, deliver=False)
    pin = f"arn:aws:rds:{SOURCE_REGION}:{FOREIGN_ACCOUNT}:cluster-snapshot:{snapshot_id}"
    h.runtime.put_pipeline_event(
        "RestoreRequested", {"version": "1", "pipeline": "nightly", "snapshot_identifier": pin}
    )
    h.runtime.run_until(lambda: False, max_seconds=2 * 3600)
    assert h.runs() == [] and calls(h, "RestoreDBClusterFromSnapshot") == 0
    [refused] = refusals(h, "ForeignSnapshot")
    assert pin in refused.message and "nothing restored" in refused.message
    [message] = h.world.notifications()
    assert "ForeignSnapshot" not in message and FOREIGN_ACCOUNT in message


# Order ------------------------------------------------------------------------------------------------------------
def test_nights_replayed_in_the_wrong_order_end_on_the_newest(harness: Any) -> None:
    # Given three nights' events parked (e.g. in the failed-invocations queue while the configuration was broken)
    h = harness()
    now: datetime = h.runtime.clock.now()
    oldest, older, newest = (
        h.world.nightly_snapshot(h.runtime, at=now - age, deliver=False)
        for age in (timedelta(days=2), timedelta(days=1), timedelta(minutes=50))
    )
    events = {s: h.world.snapshot_event(SOURCE_REGION, s, now) for s in (oldest, older, newest)}
    # When they are replayed newest first: one while its run is active, one after it has ended
    h.runtime.publish("default", events[newest], 15)
    h.runtime.publish("default", events[older], 16)
    [run] = h.run_to_end()
    h.runtime.publish("default", events[oldest], 15)
    h.runtime.run_until(lambda: False, max_seconds=3600)
    # Then the target ends on the newest snapshot and no older one was restored
    assert [r.run_id for r in h.runs()] == [run.run_id]
    assert run.status.value == "SUCCEEDED" and run.source_snapshot_id == newest
    assert target_run_tag(h) == run.run_id
    [busy] = refusals(h, "TargetBusy")
    assert older in (busy.trigger or "") and "at least as new" in busy.message
    [rollback] = refusals(h, "OlderThanTarget")
    assert oldest in rollback.message and "never rolls the target back" in rollback.message
    watch = h.runtime.deps.store.get_watch("nightly")
    assert watch is None or watch.deferred is None
    assert_each_run_restored_once(h, runs=1, refusals_told=1)  # the busy refusal; a replay's rollback is quiet


def test_snapshot_arriving_during_a_run_is_restored_after_it_ends(harness: Any) -> None:
    # Given an operator's rerun of yesterday's snapshot is copying
    h = harness()
    yesterday = h.world.nightly_snapshot(h.runtime, at=h.runtime.clock.now() - timedelta(days=1), deliver=False)
    h.runtime.put_pipeline_event(
        "RestoreRequested",
        {"version": "1", "pipeline": "nightly", "snapshot_identifier": yesterday, "request_id": "rerun"},
    )
    h.runtime.run_until(lambda: bool(h.runs()) and h.runs()[0].status.value == "COPYING")
    # When tonight's RDS-EVENT-0169 arrives
    tonight = h.world.nightly_snapshot(h.runtime)
    runs = h.run_to_end(runs=2)
    # Then its snapshot is restored once the active run has ended
    first, second = sorted(runs, key=lambda r: r.created_at)
    assert (first.source_snapshot_id, second.source_snapshot_id) == (yesterday, tonight)
    assert first.status.value == second.status.value == "SUCCEEDED"
    # opened as soon as the first run was reported (not at the safety-net check's next tick)
    assert first.ended_at is not None and first.ended_at <= second.created_at <= first.ended_at + timedelta(minutes=1)
    assert second.trigger == "rds-event" and tonight in second.trigger_detail
    opened = h.trail(second.run_id)[0]
    assert opened.step == "sns-notification" and f"while run {first.run_id} held the target" in opened.message
    [busy] = refusals(h, "TargetBusy")
    assert f"snapshot {tonight}" in busy.message and "restored once run" in busy.message
    assert target_run_tag(h) == second.run_id
    assert h.runtime.deps.store.get_watch("nightly").deferred is None
    assert_each_run_restored_once(h, runs=2, refusals_told=1)
