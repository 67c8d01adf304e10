"""Whole nights: a run whose preflight finds blockers fails at once with every reason in the notification; a
successful run's evidence is shown by `aurora-restore show RUN --evidence` and written to the evidence bucket."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from local_runtime.runtime import LocalRuntime
from local_runtime.world import BUS_NAME, World, default_config
from ops.cli import app
from shared.evidence import masking_sql_sha256
from shared.model import RunStatus
from shared.naming import TAG_PIPELINE, TAG_RUN
from tests.e2e.helpers import calls, nightly

pytestmark = pytest.mark.mariadb

REGION = "us-west-2"
BUCKET = "audit-evidence"


def test_a_run_whose_preflight_has_blockers_fails_at_once_with_every_reason(harness: Any) -> None:
    h = harness()
    rds = h.rds(REGION)
    arn = rds.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]["DBClusterArn"]
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[TAG_PIPELINE, TAG_RUN])
    rds.delete_db_subnet_group(DBSubnetGroupName="staging-db-subnets")
    run = nightly(h)
    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.code == "TargetNotOwned"
    assert set(run.timings) == {"REQUESTED"} and run.failure.status is RunStatus.REQUESTED, "failed as it opened"
    assert calls(h, "CopyDBClusterSnapshot") == 0 and calls(h, "DeleteDBCluster") == 0
    [message] = h.world.notifications()
    assert "refusing to delete or rename" in message and "staging-db-subnets not found" in message


def test_show_evidence_of_a_demo_run_and_the_evidence_bucket(aws: None, mariadb: Any, monkeypatch: Any) -> None:
    world = World(default_config()).build()
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    runtime = LocalRuntime(world.settings(EVIDENCE_BUCKET_NAME=BUCKET), default_database=mariadb)
    world.nightly_snapshot(runtime)
    assert runtime.run_until(
        lambda: any(r.status.is_terminal and r.notified_at for r in runtime.deps.store.recent_runs(None, 5))
    )
    [run] = runtime.deps.store.recent_runs(None, 5)
    assert run.status is RunStatus.SUCCEEDED, run.failure
    masking = masking_sql_sha256(world.config.pipelines[0].database.post_restore_sql)

    monkeypatch.setenv("STATE_TABLE_NAME", world.tables["StateTable"]["TableName"])
    monkeypatch.setenv("AUDIT_TABLE_NAME", world.tables["AuditTable"]["TableName"])
    monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)
    monkeypatch.setenv("ENVIRONMENT", "dev")
    runner = CliRunner(env={"COLUMNS": "200"})
    shown = runner.invoke(app, ["show", run.run_id, "--evidence", "--region", REGION])
    assert shown.exit_code == 0 and "Traceback" not in shown.output, shown.output
    text = shown.output
    assert "Data age at the end of the run:" in text and masking in text and "## Validation" in text
    for state in ("REQUESTED", "COPYING", "REPLACING_TARGET", "RESTORING", "CONFIGURING_DB", "ARCHIVING"):
        timing = run.timings[state]
        assert f"| {state} |" in text and timing.seconds is not None, state
    as_json = json.loads(
        runner.invoke(app, ["show", run.run_id, "--evidence", "-o", "json", "--region", REGION]).output
    )
    assert as_json["data_age_seconds"] > 0 and as_json["masking"]["sql_sha256"] == masking
    assert "validation" in as_json and [s["state"] for s in as_json["steps"]][0] == "REQUESTED"

    # The notification step wrote the same record to the bucket, encrypted
    stored = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=f"evidence/nightly/{run.run_id}.json")
    assert stored["ServerSideEncryption"] == "AES256"
    record = json.loads(stored["Body"].read())
    assert record["run_id"] == run.run_id and record["masking"]["sql_sha256"] == masking
    assert record["outcome"] == "SUCCEEDED"
