"""Whole nights against what AWS does that moto does not: the 5 copies in flight per destination region, the
manual-snapshot quota, busy and stopped targets, terminal cluster states, and settings a restore would drop.

Sources: Aurora UG aurora-copy-snapshot.html (five copy requests in progress per destination region),
accessing-monitoring.html (cluster and instance statuses), aurora-cluster-stop-start.html (start before deleting),
CopyDBClusterSnapshot and RestoreDBClusterFromSnapshot (RDS API Reference).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest

from local_runtime.mariadb import MariaDBServer
from local_runtime.world import default_config
from shared.model import RunStatus
from tests.e2e.helpers import calls, nightly

pytestmark = pytest.mark.mariadb

REGION = "us-west-2"
TARGET = "staging-aurora"


def pipelines(count: int) -> dict[str, Any]:
    """`count` pipelines from `count` production clusters into one destination region."""
    base = default_config(cutover="replace")["pipelines"][0]  # per-target databases: the restore reuses the name
    config: dict[str, Any] = {"pipelines": []}
    for index in range(1, count + 1):
        pipeline = json.loads(json.dumps(base))
        pipeline.update(name=f"p{index}", source_cluster_id=f"prod-{index}", target_cluster_id=f"staging-{index}")
        pipeline["instances"]["count"] = 1
        pipeline["database"]["master_secret_id"] = f"aurora-restore/p{index}/db-credentials"
        for user in pipeline["database"]["users"]:
            user["password_secret_id"] = user["password_secret_id"].replace("nightly", f"p{index}")
        config["pipelines"].append(pipeline)
    return config


def test_eight_pipelines_into_one_region_queue_for_the_five_copy_slots(harness: Any) -> None:
    config = pipelines(8)
    with ExitStack() as servers:
        databases = {f"staging-{i}": servers.enter_context(MariaDBServer()) for i in range(1, 9)}
        h = harness(config, databases=databases)
        for index in range(1, 9):  # one night: every production backup finishes within minutes
            h.world.nightly_snapshot(h.runtime, f"p{index}")
        runs = h.run_to_end(runs=8, max_seconds=16 * 3600)

    assert sorted(r.status.value for r in runs) == ["SUCCEEDED"] * 8, [r.failure for r in runs]
    emulator = h.runtime.rds_emulator
    assert emulator.max_copies_in_flight[REGION] == 5, "never more than 5 copies in flight, and the limit was hit"
    assert emulator.copies_refused[REGION] >= 3, "the sixth and later copies were answered with the real error"
    assert calls(h, "CopyDBClusterSnapshot") == 8
    trails = {r.run_id: h.trail(r.run_id) for r in runs}
    queued = [run_id for run_id, trail in trails.items() if any("copy queued" in r.message for r in trail)]
    assert len(queued) == 3, "three pipelines waited for a slot"
    for run_id in queued:
        waits = [r for r in trails[run_id] if "copy queued" in r.message]
        assert all(r.kind == "decision" and r.code == "SnapshotQuotaExceeded" for r in waits)
    assert not [r for trail in trails.values() for r in trail if r.kind == "retry"], "the queue spends no retry"
    messages = h.world.notifications()
    assert len(messages) == 8 and all("SUCCEEDED" in m for m in messages)


def test_an_expired_copying_run_deletes_its_copy_and_frees_the_slot(harness: Any) -> None:
    config = default_config(
        policies={"COPYING": {"deadline_minutes": 90, "min_poll_seconds": 60, "max_poll_seconds": 900}}
    )
    h = harness(config, copy_stuck_at=40)
    run = nightly(h)
    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.code == "DeadlineExceeded"
    copies = h.rds(REGION).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert run.copy_snapshot_id not in [c["DBClusterSnapshotIdentifier"] for c in copies], "the copy was cancelled"
    assert h.runtime.rds_emulator.copies_in_flight[REGION] == {}, "its slot is free"
    assert calls(h, "DeleteDBClusterSnapshot") == 1
    [message] = h.world.notifications()
    assert "Clean-up: in-flight copy" in message
    assert calls(h, "DeleteDBCluster") == 0 and calls(h, "DeleteDBInstance") == 0, "nothing else touched"


def test_a_full_manual_snapshot_quota_refuses_before_copying(harness: Any) -> None:
    # The world has 3 manual cluster snapshots in the target region (two old copies and someone's own).
    h = harness(manual_snapshot_quota=3)
    run = nightly(h)
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.code == "SnapshotQuotaExceeded" and "3 of 3 manual cluster snapshots" in run.failure.message
    assert calls(h, "CopyDBClusterSnapshot") == 0 and calls(h, "DescribeAccountAttributes") >= 1
    assert not [r for r in h.trail(run.run_id) if r.kind == "retry"]
    [message] = h.world.notifications()
    assert "delete old manual cluster snapshots or raise the quota" in message


@pytest.mark.parametrize("held", [TARGET, f"{TARGET}-1"], ids=["cluster", "instance"])
def test_a_target_backing_up_for_40_minutes_is_waited_for(harness: Any, held: str) -> None:
    # Given the target (or one of its instances) starts a 40-minute backup 20 minutes into the night, while the
    # copy still runs; When the delete comes; Then it waits for the backup, spending no retry, and succeeds.
    h = harness()
    h.runtime.later(20 * 60, lambda: h.runtime.rds_emulator.hold(REGION, held, "backing-up", 40 * 60))
    run = nightly(h)

    assert run.status is RunStatus.SUCCEEDED, run.failure
    trail = h.trail(run.run_id)
    assert not [r for r in trail if r.kind == "retry"], "busy is not broken: no attempt spent"
    busy = [r for r in trail if r.kind == "decision" and "busy" in r.message]
    assert busy, [r.message for r in trail]
    deletes = [at for at, region, op in h.runtime.rds_calls if op == "DeleteDBInstance"]
    start = run.created_at
    assert min(deletes) >= start + timedelta(minutes=55), "nothing deleted during the backup"
    assert run.timings["REPLACING_TARGET"].seconds is not None


def test_a_stopped_target_is_started_then_replaced(harness: Any) -> None:
    h = harness()
    h.runtime.rds_emulator.stop(REGION, TARGET)
    run = nightly(h)
    assert run.status is RunStatus.SUCCEEDED, run.failure
    assert calls(h, "StartDBCluster") == 1
    assert not [r for r in h.trail(run.run_id) if r.kind == "retry"]
    assert any("StartDBCluster requested" in r.message for r in h.trail(run.run_id))


def test_a_cluster_whose_key_becomes_inaccessible_during_restore_fails_at_once(harness: Any) -> None:
    h = harness()
    h.world.nightly_snapshot(h.runtime)
    h.runtime.run_until(lambda: bool(h.runs()) and h.runs()[0].status is RunStatus.RESTORING)
    broken_at = h.runtime.clock.now()
    h.runtime.rds_emulator.hold(REGION, TARGET, "inaccessible-encryption-credentials")
    [run] = h.run_to_end()
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.code == "RestoreFailed" and "inaccessible-encryption-credentials" in run.failure.message
    assert "KMS key" in run.failure.message
    assert run.ended_at is not None and run.ended_at - broken_at < timedelta(minutes=20), "at once, not at 4 h"
    [message] = h.world.notifications()
    assert "inaccessible-encryption-credentials" in message


def test_a_restore_keeps_the_previous_targets_extended_support_storage_and_log_exports(harness: Any) -> None:
    h = harness()
    previous = h.runtime.rds_backend(REGION).clusters[TARGET]
    previous.storage_type = "aurora-iopt1"
    previous.engine_lifecycle_support = "open-source-rds-extended-support-disabled"
    previous.enabled_cloudwatch_logs_exports = ["audit", "error"]
    run = nightly(h)
    assert run.status is RunStatus.SUCCEEDED, run.failure
    restored = h.rds(REGION).describe_db_clusters(DBClusterIdentifier=TARGET)["DBClusters"][0]
    assert restored["StorageType"] == "aurora-iopt1"
    assert restored["EngineLifecycleSupport"] == "open-source-rds-extended-support-disabled"
    assert sorted(restored["EnabledCloudwatchLogsExports"]) == ["audit", "error"]
    [line] = [r for r in h.trail(run.run_id) if r.to_status is RunStatus.RESTORING]
    assert "storage: aurora-iopt1 (previous target)" in line.message
