"""`swap` nights end to end: restored beside the target in quarantine, configured there, then renamed into place;
the old target untouched until the swap, kept for a rollback, then deleted; a failure before the swap leaves the
target as it was and removes the staging cluster."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.world import USER_PASSWORDS, default_config
from shared.model import Run, RunStatus
from shared.naming import TAG_PIPELINE, TAG_RUN, retired_cluster_id, staging_cluster_id
from shared.steps.rollback import advance_rollback
from tests.e2e.test_nightly_restore import tls_login

pytestmark = pytest.mark.mariadb

TARGET = "staging-aurora"
LEGACY_SG = "sg-0ddba11c0ffee0001"
BEFORE_SWAP = {"REQUESTED", "COPYING", "REPLACING_TARGET", "RESTORING", "CONFIGURING_DB", "VALIDATING"}


def swap_config(**overrides: Any) -> dict[str, Any]:
    """The demo pipeline with the network, parameter groups and instances left to the previous target."""
    config = default_config(keep_previous_hours=1, **overrides)
    for key in ("db_subnet_group", "security_group_ids", "instances"):
        config["pipelines"][0].pop(key)
    return config


def legacy_target(h: Any) -> None:
    """The previous target differs from every default: its own subnet group, security group, parameter groups,
    and three db.r6g.xlarge instances."""
    rds, ec2 = h.rds(), h.world.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"us-west-2{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    rds.create_db_subnet_group(DBSubnetGroupName="legacy-subnets", DBSubnetGroupDescription="-", SubnetIds=subnets)
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="legacy-cluster-params", DBParameterGroupFamily="aurora-mysql8.0", Description="-"
    )
    rds.create_db_parameter_group(
        DBParameterGroupName="legacy-instance-params", DBParameterGroupFamily="aurora-mysql8.0", Description="-"
    )
    backend = h.runtime.rds_backend("us-west-2")
    cluster = backend.clusters[TARGET]
    cluster.db_subnet_group_name = "legacy-subnets"
    cluster.vpc_security_group_ids = [LEGACY_SG]
    cluster.parameter_group = "legacy-cluster-params"
    cluster.engine_version = "8.0.mysql_aurora.3.05.2"  # production's major version: its parameter groups fit
    rds.modify_db_instance(
        DBInstanceIdentifier=f"{TARGET}-1",
        DBInstanceClass="db.r6g.xlarge",
        DBParameterGroupName="legacy-instance-params",
    )
    for index in (2, 3):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{TARGET}-{index}",
            DBClusterIdentifier=TARGET,
            Engine="aurora-mysql",
            DBInstanceClass="db.r6g.xlarge",
            DBParameterGroupName="legacy-instance-params",
            Tags=[{"Key": TAG_PIPELINE, "Value": "nightly"}],
        )
    for index in (1, 2, 3):
        backend.databases[f"{TARGET}-{index}"].status = "available"


def cluster(h: Any, identifier: str) -> dict[str, Any] | None:
    found = h.rds().describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [identifier]}])["DBClusters"]
    return found[0] if found else None


def members(h: Any, identifier: str) -> list[dict[str, Any]]:
    instances = h.rds().describe_db_instances()["DBInstances"]
    mine = (i for i in instances if i.get("DBClusterIdentifier") == identifier)
    return sorted(mine, key=lambda i: i["DBInstanceIdentifier"])


def as_found(h: Any, identifier: str) -> tuple[Any, ...]:
    """What must not change about a cluster: ARN, tags, status, name and instances."""
    found = cluster(h, identifier)
    assert found is not None, identifier
    instances = [i["DBInstanceIdentifier"] for i in members(h, identifier)]
    return found["DBClusterArn"], tags(h, found), found["Status"], found["DBClusterIdentifier"], instances


def tags(h: Any, found: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in h.rds().list_tags_for_resource(ResourceName=found["DBClusterArn"])["TagList"]}


def run_watching_the_target(h: Any, original: dict[str, Any]) -> tuple[Run, set[str]]:
    """Run the night; at every state before the swap, the target name is the original cluster, `available`."""
    seen: set[str] = set()

    def check() -> bool:
        runs = h.runs()
        if not runs:
            return False
        run = runs[0]
        before_swap = run.status.value in BEFORE_SWAP or (
            run.status is RunStatus.SWAPPING and (run.swap is None or run.swap.vacated_at is None)
        )
        if before_swap:
            seen.add(run.status.value)
            current = cluster(h, TARGET)
            assert current is not None and current["DBClusterArn"] == original["DBClusterArn"], run.status
            assert current["Status"] == "available", (run.status, current["Status"])
            assert tags(h, current) == tags(h, original)
        return run.status.is_terminal and run.notified_at is not None

    h.world.nightly_snapshot(h.runtime)
    assert h.runtime.run_until(check, 12 * 3600)
    return h.runs()[0], seen


def test_a_swap_night_keeps_the_target_serving_until_the_swap_then_keeps_the_old_one_for_its_time(
    harness: Any, mariadb: Any
) -> None:
    h = harness(swap_config())
    legacy_target(h)
    original = cluster(h, TARGET)
    assert original is not None

    run, seen = run_watching_the_target(h, original)

    assert run.status is RunStatus.SUCCEEDED, run.failure
    assert seen >= BEFORE_SWAP - {"VALIDATING"}  # the checks run in the invocation that configured the database
    staging = staging_cluster_id(TARGET, run.run_id)
    assert run.staging_cluster_id == staging and cluster(h, staging) is None
    # The target name is the new cluster, with the previous target's settings (none of them configured)
    new = cluster(h, TARGET)
    assert new is not None and tags(h, new)[TAG_RUN] == run.run_id
    assert new["DBSubnetGroup"] == "legacy-subnets"
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == [LEGACY_SG]  # the quarantine is gone
    assert new["DBClusterParameterGroup"] == "legacy-cluster-params"
    instances = members(h, TARGET)
    assert [i["DBInstanceIdentifier"] for i in instances] == [f"{TARGET}-1", f"{TARGET}-2", f"{TARGET}-3"]
    assert {i["DBInstanceClass"] for i in instances} == {"db.r6g.xlarge"}
    assert {i["DBParameterGroups"][0]["DBParameterGroupName"] for i in instances} == {"legacy-instance-params"}
    assert all(i["DBInstanceStatus"] == "available" for i in instances)
    # The staging cluster had only the quarantine group until the swap
    restore = next(r for r in h.trail(run.run_id) if str(r.to_status) == "RESTORING")
    assert "quarantined" in restore.message and "legacy-subnets (previous target)" in restore.message
    # Configured users log in over TLS at the target endpoint
    host, port = h.runtime.endpoints.resolve(new["Endpoint"], new["Port"])
    assert (host, port) == (mariadb.host, mariadb.port)
    for user, password in USER_PASSWORDS.items():
        tls_login(mariadb, user, password).close()
    # The old target is kept, renamed, with its instances, and the swap window was short and is reported
    retired = retired_cluster_id(TARGET, run.run_id)
    old = cluster(h, retired)
    assert old is not None and tags(h, old)[TAG_RUN] == "previous-night"
    assert [i["DBInstanceIdentifier"] for i in members(h, retired)] == [f"{retired}-{n}" for n in (1, 2, 3)]
    assert run.swap is not None and run.swap.seconds is not None and 0 < run.swap.seconds < 15 * 60
    [message] = h.world.notifications()
    assert "Swap window: the target name pointed at nothing for" in message and "Data as of:" in message
    # ... until keep_previous_hours have passed on the clock, then the check deletes it (and only it)
    swapped_at = h.runtime.clock.now()
    assert h.runtime.run_until(lambda: cluster(h, retired) is None, 2 * 3600)
    assert (h.runtime.clock.now() - swapped_at).total_seconds() >= 3600 - 5 * 60
    assert members(h, retired) == [] and cluster(h, TARGET) is not None


def test_a_failing_masking_statement_fails_before_the_swap_and_leaves_the_target_as_it_was(harness: Any) -> None:
    config = default_config()
    config["pipelines"][0]["database"]["post_restore_sql"] = ["UPDATE appdb.no_such_table SET email = NULL"]
    h = harness(config)
    original = cluster(h, TARGET)
    assert original is not None
    before = as_found(h, TARGET)

    run, seen = run_watching_the_target(h, original)

    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.status is RunStatus.CONFIGURING_DB and "no_such_table" in run.failure.message
    staging = staging_cluster_id(TARGET, run.run_id)
    assert h.runtime.run_until(lambda: cluster(h, staging) is None and not members(h, staging), 30 * 60)
    assert as_found(h, TARGET) == before
    [message] = h.world.notifications()
    assert "FAILED" in message and "no_such_table" in message and f"staging cluster {staging} removed" in message


def test_a_stopped_target_is_swapped_then_rolled_back(harness: Any) -> None:
    h = harness(default_config(stop_previous=True, keep_previous_hours=6))
    h.runtime.rds_emulator.stop("us-west-2", TARGET)

    h.world.nightly_snapshot(h.runtime)
    [run] = h.run_to_end()

    assert run.status is RunStatus.SUCCEEDED, run.failure
    retired = retired_cluster_id(TARGET, run.run_id)
    trail = " | ".join(r.message for r in h.trail(run.run_id))
    assert "is stopped: StartDBCluster requested" in trail
    assert tags(h, cluster(h, TARGET) or {})[TAG_RUN] == run.run_id
    assert h.runtime.run_until(lambda: (cluster(h, retired) or {}).get("Status") == "stopped", 30 * 60)

    # The operator rolls back: the retired cluster is started, then renamed back into place
    pipeline = h.runtime.deps.config.pipelines[0]
    secrets = h.world.client("secretsmanager")
    swapped_in = json.loads(secrets.get_secret_value(SecretId=pipeline.database.master_secret_id)["SecretString"])
    progress = advance_rollback(h.runtime.deps, pipeline)
    for _ in range(60):
        if progress.done:
            break
        h.runtime.run_until(lambda: False, 60)
        progress = advance_rollback(h.runtime.deps, pipeline)
    assert progress.done, progress.message
    # its new master password applies (the secret held the swapped-in cluster's)
    assert h.runtime.run_until(lambda: (cluster(h, TARGET) or {}).get("Status") == "available", 600)
    back = cluster(h, TARGET)
    assert back is not None and tags(h, back)[TAG_RUN] == "previous-night" and back["Status"] == "available"
    assert [i["DBInstanceIdentifier"] for i in members(h, TARGET)] == [f"{TARGET}-1", f"{TARGET}-2"]
    assert cluster(h, retired) is None
    master = json.loads(secrets.get_secret_value(SecretId=pipeline.database.master_secret_id)["SecretString"])
    assert master["dbClusterIdentifier"] == TARGET and master["password"] != swapped_in["password"]
    rolled = [c for c in h.rds().describe_db_clusters()["DBClusters"] if "-rolledback-" in c["DBClusterIdentifier"]]
    assert [tags(h, c)[TAG_RUN] for c in rolled] == [run.run_id]
    audit = [r.message for r in h.runtime.deps.store.audit_trail("pipeline#nightly")]
    assert any(m.startswith("rollback done") for m in audit)
    assert any("rollback" in m for m in h.world.notifications())
