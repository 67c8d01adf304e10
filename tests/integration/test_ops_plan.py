"""`aurora-restore plan` against moto: the demo world passes; a broken world lists every blocker and exits 4."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import boto3
from typer.testing import CliRunner

from local_runtime.world import BUS_NAME
from ops.cli import app
from ops.errors import BLOCKED, USAGE
from shared.naming import TAG_PIPELINE, TAG_RUN, run_id_for

REGION = ["--region", "us-west-2"]
RUNNER = CliRunner(env={"COLUMNS": "250"})


def cli(*argv: str) -> tuple[int, str]:
    result = RUNNER.invoke(app, [*argv, *REGION])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def stack_env(world: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("STATE_TABLE_NAME", world.tables["StateTable"]["TableName"])
    monkeypatch.setenv("AUDIT_TABLE_NAME", world.tables["AuditTable"]["TableName"])
    monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)
    monkeypatch.setenv("ENVIRONMENT", "dev")


def nightly_snapshot(world: Any) -> None:
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="prod-aurora", DBClusterSnapshotIdentifier="tonight")
    # moto makes manual snapshots only; the newest automated one is what a run uses
    from moto.rds.models import rds_backends

    backend = rds_backends[world.account]["us-east-1"]
    backend.cluster_snapshots["tonight"].snapshot_type = "automated"


def deployed_functions() -> dict[str, str]:
    """The copy and restore functions, deployed with roles of their own, so the key's access is checked for them."""
    iam = boto3.client("iam", region_name="us-west-2")
    functions = boto3.client("lambda", region_name="us-west-2")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("app.py", "def handler(event, context):\n    return None\n")
    roles = {}
    for step in ("copy-snapshot", "restore-snapshot"):
        role = iam.create_role(RoleName=f"{step}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        functions.create_function(
            FunctionName=f"aurora-restore-dev-{step}", Runtime="python3.12", Role=role, Handler="app.handler",
            Code={"ZipFile": archive.getvalue()},
        )  # fmt: skip
        roles[step] = role
    return roles


def test_plan_of_the_demo_world_shows_the_plan_and_exits_0(swap_world: Any, monkeypatch: Any) -> None:
    world = swap_world
    stack_env(world, monkeypatch)
    nightly_snapshot(world)
    code, text = cli("plan", "nightly")
    assert code == 0, text
    flat = " ".join(text.split())
    assert "snapshot tonight" in flat and "strategy snapshot-copy" in flat and "cutover swap" in flat
    # the names of the run the snapshot's event would open (its id's hash derives from the snapshot's ARN)
    arn = f"arn:aws:rds:us-east-1:{world.account}:cluster-snapshot:tonight"
    suffix = run_id_for("nightly", f"snapshot:{arn}", datetime.now(UTC)).rsplit("-", 1)[1]
    assert f"renames staging-aurora to staging-aurora-retired-{suffix}" in flat
    assert "subnet group staging-db-subnets" in flat
    assert "no blocker" in flat
    data = json.loads(cli("plan", "nightly", "-o", "json")[1])
    assert data["blockers"] == 0 and data["snapshot_id"] == "tonight"
    # what moto cannot answer is said, not guessed
    warnings = [f["detail"] for f in data["findings"] if f["level"] == "warning"]
    assert any("could not check" in w for w in warnings), warnings


def test_plan_lists_every_blocker_and_exits_non_zero(world: Any, monkeypatch: Any) -> None:
    stack_env(world, monkeypatch)
    nightly_snapshot(world)
    roles = deployed_functions()
    rds = boto3.client("rds", region_name="us-west-2")
    # the key the pipeline names: a policy that neither names the functions' roles nor delegates to IAM, no grant
    kms = boto3.client("kms", region_name="us-west-2")
    admin = {"AWS": "arn:aws:iam::123456789012:role/admin"}
    statement = {"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": admin}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName="alias/aurora-restore", TargetKeyId=key)
    rds.delete_db_subnet_group(DBSubnetGroupName="staging-db-subnets")
    have = len(rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"])
    for index in range(100 - have):
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier="staging-aurora", DBClusterSnapshotIdentifier=f"keep-{index}"
        )
    arn = rds.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]["DBClusterArn"]
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[TAG_PIPELINE, TAG_RUN])

    code, text = cli("plan", "nightly")
    assert code == BLOCKED, text
    data = json.loads(cli("plan", "nightly", "-o", "json")[1])
    codes = {f["code"] for f in data["findings"] if f["level"] == "blocker"}
    assert codes == {"TargetNotOwned", "SubnetGroupNotFound", "SnapshotQuotaExceeded", "KmsAccessMissing"}, data
    flat = " ".join(text.split())
    assert "5 blocker(s)" in flat and roles["copy-snapshot"] in flat and roles["restore-snapshot"] in flat
    assert "100 of 100 manual cluster snapshots" in flat


def test_plan_refuses_unknown_pipelines_and_missing_snapshots(world: Any, monkeypatch: Any) -> None:
    stack_env(world, monkeypatch)
    code, text = cli("plan", "nope")
    assert code == USAGE and "unknown pipeline 'nope'" in text
    code, text = cli("plan", "Bad_Name", "-o", "json")
    assert code == USAGE and "invalid pipeline name 'Bad_Name'" in text
    code, text = cli("plan", "nightly", "--snapshot", "rds:prod-aurora-1999-01-01-00-00")
    assert code == USAGE and "does not exist" in text
    # no automated snapshot yet: a blocker, not an error
    code, text = cli("plan", "nightly", "-o", "json")
    data = json.loads(text)
    assert code == BLOCKED and [f["code"] for f in data["findings"] if f["level"] == "blocker"] == ["SnapshotNotUsable"]
    # a state table that cannot be read costs the estimate only
    monkeypatch.setenv("STATE_TABLE_NAME", "no-such-table")
    data = json.loads(cli("plan", "nightly", "-o", "json")[1])
    [duration] = [f for f in data["findings"] if f["check"] == "duration"]
    assert duration["level"] == "warning" and "past runs unreadable" in duration["detail"]


def test_show_evidence_of_an_unknown_run_is_a_clear_error(world: Any, monkeypatch: Any) -> None:
    stack_env(world, monkeypatch)
    for output in ("table", "json"):
        code, text = cli("show", "no-such-run", "--evidence", "-o", output)
        assert code == 1 and "no run no-such-run" in text, text
