"""Where the new cluster comes from: one night, one production cluster, two same-region pipelines. `strategy: auto`
clones the source (RestoreDBClusterToPointInTime, copy-on-write: no snapshot copy); `strategy: snapshot-copy`
copies the snapshot and restores from the copy. Both succeed; the clone takes less simulated time.

Sources: RestoreDBClusterToPointInTime (RDS API Reference), Aurora UG Aurora.Managing.Clone.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.mariadb import MariaDBServer
from local_runtime.world import default_config
from shared.model import RunStatus
from shared.naming import TAG_RUN

pytestmark = pytest.mark.mariadb

REGION = "us-west-2"
SOURCE = "prod-aurora"


def same_region_pipelines() -> dict[str, Any]:
    """Production and both targets in one region and account: `clone-night` (auto) and `copy-night` (the copy).
    Both replace their target in place: this is about where the new cluster comes from, not how it cuts over."""
    config = default_config(name="clone-night", source_region=REGION, strategy="auto", cutover="replace")
    copy = json.loads(json.dumps(config["pipelines"][0]))
    copy.update(name="copy-night", target_cluster_id="copy-aurora", strategy="snapshot-copy")
    copy["database"]["master_secret_id"] = "aurora-restore/copy-night/db-credentials"
    config["pipelines"].append(copy)
    return config


def requests(harness: Any, operation: str) -> list[dict[str, Any]]:
    """The parameters of every successful `operation` call the handlers made."""
    return [r.params for r in harness.runtime.rds_requests if r.operation == operation]


def test_same_region_auto_clones_without_a_copy_and_is_faster(harness: Any) -> None:
    with MariaDBServer() as copy_target:
        h = harness(same_region_pipelines(), databases={"copy-aurora": copy_target})
        # Production serves from a writer instance (Aurora clones only clusters with one).
        h.rds(REGION).create_db_instance(
            DBInstanceIdentifier=f"{SOURCE}-writer",
            DBClusterIdentifier=SOURCE,
            Engine="aurora-mysql",
            DBInstanceClass="db.r6g.large",
        )
        h.world.nightly_snapshot(h.runtime, "clone-night")  # one snapshot of prod-aurora opens both runs
        runs = {r.pipeline: r for r in h.run_to_end(runs=2)}
    clone, copy = runs["clone-night"], runs["copy-night"]
    assert clone.status is RunStatus.SUCCEEDED, clone.failure
    assert copy.status is RunStatus.SUCCEEDED, copy.failure
    assert (clone.restore_from, copy.restore_from) == ("clone", "snapshot-copy")

    # The clone run made no snapshot copy: the only CopyDBClusterSnapshot is the copy run's.
    assert [p["TargetDBClusterSnapshotIdentifier"] for p in requests(h, "CopyDBClusterSnapshot")] == [
        copy.copy_snapshot_id
    ]
    snapshots = h.rds(REGION).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert clone.copy_snapshot_id not in {s["DBClusterSnapshotIdentifier"] for s in snapshots}
    assert RunStatus.COPYING.value not in clone.timings

    # It restored with copy-on-write from the source cluster at its latest restorable time, encrypted with the
    # pipeline's key; the copy run restored from its copy.
    [pitr] = requests(h, "RestoreDBClusterToPointInTime")
    assert pitr["DBClusterIdentifier"] == "staging-aurora" and pitr["SourceDBClusterIdentifier"] == SOURCE
    assert pitr["RestoreType"] == "copy-on-write" and pitr["UseLatestRestorableTime"] is True
    assert "RestoreToTime" not in pitr and pitr["KmsKeyId"] == "alias/aurora-restore"
    assert [p["DBClusterIdentifier"] for p in requests(h, "RestoreDBClusterFromSnapshot")] == ["copy-aurora"]

    # The clone is the run's own new cluster, with the source's data configured as the copy's was.
    cluster = h.rds(REGION).describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in cluster["TagList"]}[TAG_RUN] == clone.run_id
    assert cluster["Status"] == "available" and cluster["DeletionProtection"] is False
    source = h.rds(REGION).describe_db_clusters(DBClusterIdentifier=SOURCE)["DBClusters"][0]
    assert source["Status"] == "available" and source["DeletionProtection"] is True, "the source is untouched"

    # Less simulated time than the same night on the copy path.
    assert clone.ended_at is not None and copy.ended_at is not None
    assert clone.ended_at - clone.created_at < copy.ended_at - copy.created_at
    messages = h.world.notifications()
    assert sorted("SUCCEEDED" in m for m in messages) == [True, True]
    assert sum("Copy: none (clone of the source cluster" in m for m in messages) == 1
