"""Each handler against moto, invoked directly (no router): one step's effect on AWS, state and audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_runtime.runtime import FakeLambdaContext, LocalRuntime
from local_runtime.world import World
from services.archive_snapshot.app import handler as archive
from services.check_copy_status.app import handler as check_copy
from services.check_restore_status.app import handler as check_restore
from services.copy_snapshot.app import handler as copy
from services.delete_rds.app import handler as delete
from services.restore_snapshot.app import handler as restore
from services.snapshot_check.app import handler as snapshot_check
from services.sns_notification.app import handler as notify
from shared.model import Run, RunStatus
from shared.naming import TAG_PIPELINE, TAG_RUN

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str, **detail: Any) -> dict[str, Any]:
    envelope = json.loads((EVENTS / f"{name}.json").read_text())
    envelope["detail"].update(detail)
    return envelope


def invoke(handler: Any, event: dict[str, Any], runtime: LocalRuntime) -> dict[str, Any]:
    result: dict[str, Any] = handler(event, FakeLambdaContext("test"), deps=runtime.deps)
    return result


def the_run(runtime: LocalRuntime) -> Run:
    [run] = runtime.deps.store.recent_runs(None, 5)
    return run


def emitted(runtime: LocalRuntime) -> list[str]:
    return [envelope["detail-type"] for _, envelope in runtime.drain_events()]


def pipeline_event(name: str, run: Run, **extra: Any) -> dict[str, Any]:
    return sample(name, run_id=run.run_id, pipeline=run.pipeline, run_version=run.version, **extra)


@pytest.fixture
def opened(world: World, runtime: LocalRuntime) -> Run:
    snapshot_id = world.nightly_snapshot(runtime)
    runtime.drain_events()
    arn = f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{snapshot_id}"
    event = sample("rds-cluster-snapshot-created", SourceArn=arn, SourceIdentifier=snapshot_id)
    assert invoke(snapshot_check, event, runtime)["result"] == "opened"
    return the_run(runtime)


def test_snapshot_check_opens_one_run_and_locks_the_target(opened: Run, runtime: LocalRuntime) -> None:
    assert opened.status is RunStatus.REQUESTED and opened.source_snapshot_id.startswith("rds:prod-aurora-")
    assert emitted(runtime) == ["RunRequested"]
    assert runtime.deps.store.lock_holder("LOCK#us-west-2#staging-aurora") == opened.run_id


def test_copy_snapshot_copies_into_the_target_region_with_the_key(
    opened: Run, world: World, runtime: LocalRuntime
) -> None:
    runtime.drain_events()
    assert invoke(copy, pipeline_event("run-requested", opened), runtime)["result"] == "advanced"
    rds = world.client("rds", "us-west-2")
    [copy_snapshot] = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=opened.copy_snapshot_id)[
        "DBClusterSnapshots"
    ]
    assert copy_snapshot["KmsKeyId"].startswith("arn:aws:kms:us-west-2:")
    tags = {t["Key"]: t["Value"] for t in copy_snapshot["TagList"]}
    assert tags[TAG_RUN] == opened.run_id and tags[TAG_PIPELINE] == "nightly"
    assert the_run(runtime).status is RunStatus.COPYING
    # a second delivery of the same event finds the run moved on and copies nothing
    assert invoke(copy, pipeline_event("run-requested", opened), runtime)["result"] in ("ignored", "advanced")
    assert len(rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]) == 4


def test_check_copy_status_waits_by_progress_then_advances(opened: Run, runtime: LocalRuntime) -> None:
    invoke(copy, pipeline_event("run-requested", opened), runtime)
    runtime.drain_events()
    snapshot = runtime.rds_backend("us-west-2").cluster_snapshots[opened.copy_snapshot_id]
    snapshot.status, snapshot.percent_progress = "copying", 40
    run = the_run(runtime)
    assert invoke(check_copy, pipeline_event("run-check-due", run, status="COPYING"), runtime)["result"] == "advanced"
    waiting = the_run(runtime)
    assert waiting.status is RunStatus.COPYING and waiting.copy_percent == 40 and waiting.next_check_at > run.updated_at
    snapshot.status, snapshot.percent_progress = "available", 100
    invoke(check_copy, pipeline_event("run-check-due", waiting, status="COPYING"), runtime)
    assert the_run(runtime).status is RunStatus.REPLACING_TARGET
    assert "SnapshotCopied" in emitted(runtime)


def walk_to_replacing(opened: Run, runtime: LocalRuntime) -> Run:
    invoke(copy, pipeline_event("run-requested", opened), runtime)
    runtime.rds_backend("us-west-2").cluster_snapshots[opened.copy_snapshot_id].status = "available"
    run = the_run(runtime)
    invoke(check_copy, pipeline_event("run-check-due", run, status="COPYING"), runtime)
    runtime.drain_events()
    return the_run(runtime)


def test_delete_rds_deletes_instances_then_cluster(opened: Run, world: World, runtime: LocalRuntime) -> None:
    backend = runtime.rds_backend("us-west-2")
    run = walk_to_replacing(opened, runtime)
    assert run.status is RunStatus.REPLACING_TARGET
    invoke(delete, pipeline_event("snapshot-copied", run), runtime)
    assert {i.status for i in backend.databases.values()} == {"deleting"}
    assert backend.clusters["staging-aurora"].status == "available", "cluster waits for its instances"
    for instance_id in list(backend.databases):
        del backend.databases[instance_id]
    invoke(delete, sample("rds-instance-deleted"), runtime)
    assert backend.clusters["staging-aurora"].status == "deleting"


def test_restore_then_check_restore_reach_configuring(opened: Run, world: World, runtime: LocalRuntime) -> None:
    backend = runtime.rds_backend("us-west-2")
    run = walk_to_replacing(opened, runtime)
    invoke(delete, pipeline_event("snapshot-copied", run), runtime)
    backend.databases.clear()
    invoke(delete, sample("rds-instance-deleted"), runtime)
    del backend.clusters["staging-aurora"]
    assert invoke(restore, sample("rds-cluster-deleted"), runtime)["result"] == "advanced"
    cluster = backend.clusters["staging-aurora"]
    assert cluster.status == "creating" and cluster.db_subnet_group_name == "staging-db-subnets"
    assert {t["Key"]: t["Value"] for t in cluster.tags}[TAG_RUN] == opened.run_id
    assert the_run(runtime).status is RunStatus.RESTORING
    invoke(check_restore, sample("rds-cluster-created"), runtime)
    assert the_run(runtime).status is RunStatus.RESTORING, "cluster still creating"
    cluster.status = "available"
    for instance in backend.databases.values():
        instance.status = "available"
    invoke(check_restore, sample("rds-instance-created"), runtime)
    assert the_run(runtime).status is RunStatus.CONFIGURING_DB
    assert sorted(backend.databases) == ["staging-aurora-1", "staging-aurora-2"]


def test_archive_and_notify_finish_the_run_once(opened: Run, world: World, runtime: LocalRuntime) -> None:
    invoke(copy, pipeline_event("run-requested", opened), runtime)
    runtime.rds_backend("us-west-2").cluster_snapshots[opened.copy_snapshot_id].status = "available"
    run = the_run(runtime)
    archiving = run.model_copy(update={"status": RunStatus.ARCHIVING})
    run = runtime.deps.store.write(archiving, (RunStatus.COPYING, run.version), None)
    # a late duplicate gets the stored response (Powertools idempotency) and changes nothing
    invoke(copy, pipeline_event("run-requested", opened), runtime)
    assert the_run(runtime).status is RunStatus.ARCHIVING
    assert invoke(archive, pipeline_event("database-ready", run), runtime)["result"] == "advanced"
    done = the_run(runtime)
    assert done.status is RunStatus.SUCCEEDED
    assert runtime.deps.store.lock_holder("LOCK#us-west-2#staging-aurora") is None
    manual = {
        s["DBClusterSnapshotIdentifier"]
        for s in world.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    }
    assert "ar-nightly-old-1" in manual and "ar-nightly-old-0" not in manual and "nightly-manual-keep-me" in manual
    finished = pipeline_event("run-succeeded", done, status="SUCCEEDED")
    invoke(notify, finished, runtime)
    invoke(notify, finished, runtime)
    assert len(world.notifications()) == 1
    assert the_run(runtime).notified_at is not None
