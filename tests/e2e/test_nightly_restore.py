"""A whole nightly restore through the template's rules, asserted on moto's and MariaDB's real state."""

from __future__ import annotations

import ssl
from typing import Any

import pymysql
import pytest

from local_runtime.template_rules import load_template
from local_runtime.world import USER_PASSWORDS, default_config
from shared.naming import TAG_PIPELINE, TAG_RUN
from shared.transitions import Step
from tests.e2e.helpers import HAPPY_PATH, nightly

pytestmark = pytest.mark.mariadb

# Which event must have driven each transition when every event is delivered: proves the template's patterns.
EXPECTED_TRIGGERS = {
    "REQUESTED": "RDS-EVENT-0169",
    "COPYING": "RunRequested",
    "REPLACING_TARGET": "RunCheckDue",  # Aurora emits no event when a copy ends
    "RESTORING": "RDS-EVENT-0171",
    "CONFIGURING_DB": "RDS-EVENT-0005",
    "VALIDATING": "RDS-EVENT-0016",  # the checks follow in the invocation that configured the database
    "ARCHIVING": "RDS-EVENT-0016",
    "SUCCEEDED": "DatabaseReady",
}


def transitions(harness: Any, run_id: str) -> list[Any]:
    return [r for r in harness.trail(run_id) if r.kind == "transition"]


def assert_event_driven(harness: Any, run_id: str) -> None:
    triggers = {str(r.to_status): r.trigger for r in transitions(harness, run_id)}
    for status, trigger in EXPECTED_TRIGGERS.items():
        assert triggers.get(status, "").startswith(trigger), f"{status} reached via {triggers.get(status)}"
    delete_triggers = {r.trigger for r in harness.trail(run_id) if r.step == Step.DELETE_RDS.value}
    assert "RDS-EVENT-0003" in delete_triggers, "cluster deletion should follow the instances' RDS-EVENT-0003"


def tls_login(server: Any, user: str, password: str) -> pymysql.connections.Connection:
    context = ssl.create_default_context(cafile=server.ca_path)
    context.check_hostname = False
    return pymysql.connect(host=server.host, port=server.port, user=user, password=password, ssl=context)


def grants(connection: pymysql.connections.Connection) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SHOW GRANTS")
        return {row[0] for row in cursor.fetchall()}


def test_nightly_restore_succeeds_on_real_state(harness: Any, mariadb: Any) -> None:
    h = harness()
    run = nightly(h)
    assert run.status.value == "SUCCEEDED", run.failure

    # The copy: in the target region, encrypted with the pipeline's key, tagged with the run.
    target = h.rds("us-west-2")
    copy = target.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=run.copy_snapshot_id)["DBClusterSnapshots"][
        0
    ]
    key_arn = h.world.client("kms", "us-west-2").describe_key(KeyId="alias/aurora-restore")["KeyMetadata"]["Arn"]
    assert copy["KmsKeyId"] in (key_arn, key_arn.rsplit("/", 1)[-1])
    assert copy["Status"] == "available"

    # The old target is gone; the new one was restored by this run, with its instances, tagged as owned.
    cluster = target.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    tags = {t["Key"]: t["Value"] for t in cluster["TagList"]}
    assert tags[TAG_RUN] == run.run_id and tags[TAG_PIPELINE] == "nightly"
    assert cluster["DBSubnetGroup"] == "staging-db-subnets"
    instances = target.describe_db_instances()["DBInstances"]
    assert sorted(i["DBInstanceIdentifier"] for i in instances) == ["staging-aurora-1", "staging-aurora-2"]
    for instance in instances:
        instance_tags = {t["Key"]: t["Value"] for t in instance["TagList"]}
        assert instance_tags[TAG_RUN] == run.run_id

    # DB users: each logs in over TLS with the password from its secret and has exactly its grants.
    secrets = h.world.client("secretsmanager", "us-west-2")
    master = __import__("json").loads(
        secrets.get_secret_value(SecretId="aurora-restore/db-credentials")["SecretString"]
    )
    assert master["password"] != "initial-unknown"
    with tls_login(mariadb, "admin", master["password"]) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM appdb.customers WHERE email NOT LIKE '%@example.invalid'")
        assert cursor.fetchone() == (0,), "post-restore masking SQL ran"
    with tls_login(mariadb, "app", USER_PASSWORDS["app"]) as app:
        app_grants = grants(app)
        assert {g for g in app_grants if not g.startswith("GRANT USAGE")} == {
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `appdb`.* TO `app`@`%`"
        }, "production's ALL on appdb is gone; exactly the configured grants remain"
        with app.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            assert cursor.fetchone()[1]
    with tls_login(mariadb, "analyst", USER_PASSWORDS["analyst"]) as analyst:
        analyst_grants = grants(analyst)
        assert {g for g in analyst_grants if not g.startswith("GRANT USAGE")} == {
            "GRANT `app_read` TO `analyst`@`%`",
            "GRANT SELECT ON `appdb`.* TO `app_read`",  # the role's grants, active through the default role
            "SET DEFAULT ROLE `app_read` FOR `analyst`@`%`",
        }
        assert any(g.startswith("GRANT USAGE") and "REQUIRE SSL" in g for g in analyst_grants)
        with analyst.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM appdb.customers")
            assert cursor.fetchone()[0] > 0

    # Retention: newest 2 of this pipeline's copies kept, older deleted, nobody else's snapshots touched.
    manual = {
        s["DBClusterSnapshotIdentifier"]
        for s in target.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    }
    assert run.copy_snapshot_id in manual and "ar-nightly-old-1" in manual
    assert "ar-nightly-old-0" not in manual
    assert "nightly-manual-keep-me" in manual
    source = h.rds("us-east-1").describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
    assert any(s["DBClusterSnapshotIdentifier"] == run.source_snapshot_id for s in source)

    # One success notification with per-step timings; one audit record per transition.
    [message] = h.world.notifications()
    assert "SUCCEEDED" in message and "Step timings" in message
    assert "Validation: 3 passed, 0 failed" in message and "PASS no unmasked e-mail (no-rows): no rows" in message
    for state in ("COPYING", "REPLACING_TARGET", "RESTORING", "CONFIGURING_DB", "ARCHIVING"):
        assert state in message
    moves = transitions(h, run.run_id)
    assert [str(m.to_status) for m in moves] == HAPPY_PATH
    assert_event_driven(h, run.run_id)
    ran = {d.step for d in h.runtime.deliveries}
    # a `replace` night: every step but the swap's, and the orchestrator check
    assert ran == {s.value for s in Step} - {Step.SWAP_CLUSTERS.value}, "all the steps of a replace night ran"


def test_wrong_event_id_in_template_is_caught(harness: Any) -> None:
    """Mutation check: a restore rule listening for the wrong EventID makes the event-driven assertion fail."""
    template = load_template()
    events = template["Resources"]["RestoreSnapshotFunction"]["Properties"]["Events"]
    for event in events.values():
        detail = event["Properties"]["Pattern"].get("detail", {})
        if detail.get("EventID") == ["RDS-EVENT-0171"]:
            detail["EventID"] = ["RDS-EVENT-0172"]
    h = harness(template=template)
    run = nightly(h)
    assert run.status.value == "SUCCEEDED"  # the orchestrator check still rescues the run...
    with pytest.raises(AssertionError, match="RESTORING reached via"):
        assert_event_driven(h, run.run_id)  # ...but the template bug is detected


def test_rerun_by_custom_event_restores_again_with_pinned_snapshot(harness: Any) -> None:
    h = harness()
    first_snapshot = h.world.nightly_snapshot(h.runtime)
    [first] = h.run_to_end()
    h.runtime.put_pipeline_event(
        "RestoreRequested",
        {
            "version": "1",
            "pipeline": "nightly",
            "snapshot_identifier": first_snapshot,
            "requested_by": "dba@example.com",
            "request_id": "rerun-42",
        },
    )
    runs = h.run_to_end(runs=2)
    assert len(runs) == 2 and all(r.status.value == "SUCCEEDED" for r in runs)
    second = next(r for r in runs if r.run_id != first.run_id)
    assert second.trigger == "restore-requested" and second.source_snapshot_id == first_snapshot
    cluster = h.rds("us-west-2").describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    assert {t["Key"]: t["Value"] for t in cluster["TagList"]}[TAG_RUN] == second.run_id
    assert len(h.world.notifications()) == 2


def test_same_region_pipeline(harness: Any) -> None:
    """Source and target in one region: the copy is a local copy (no SourceRegion / presigned URL)."""
    h = harness(default_config(source_region="us-west-2"))
    run = nightly(h)
    assert run.status.value == "SUCCEEDED", run.failure
    assert run.source_region == run.target_region == "us-west-2"
    copies = h.rds("us-west-2").describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=run.copy_snapshot_id)
    assert copies["DBClusterSnapshots"][0]["Status"] == "available"


def test_first_run_without_a_previous_target(harness: Any) -> None:
    """Nothing to replace yet: delete-rds finds no target, emits TargetDeleted, and the restore goes ahead."""
    h = harness(build={"previous_target": False})
    run = nightly(h)
    assert run.status.value == "SUCCEEDED", run.failure
    restore = next(r for r in h.trail(run.run_id) if str(r.to_status) == "RESTORING")
    assert restore.trigger == "TargetDeleted"
    assert not [op for _, _, op in h.runtime.rds_calls if op in ("DeleteDBCluster", "DeleteDBInstance")]
