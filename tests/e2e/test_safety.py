"""The pipeline deletes databases: it must never delete the wrong one, run twice for one target, or lose a run."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from local_runtime.mariadb import MariaDBServer
from local_runtime.runtime import Fault
from local_runtime.world import USER_PASSWORDS, default_config
from shared.config import AppConfig, PipelineConfig
from shared.naming import TAG_PIPELINE, TAG_RUN
from tests.e2e.helpers import assert_exactly_once, calls, nightly

pytestmark = pytest.mark.mariadb

STEP_EVENTS = [
    "RDS-EVENT-0169",
    "RunRequested",
    "RunCheckDue",
    "SnapshotCopied",
    "RDS-EVENT-0003",
    "RDS-EVENT-0171",
    "TargetDeleted",
    "RDS-EVENT-0170",
    "RDS-EVENT-0005",
    "ClusterAvailable",
    "RDS-EVENT-0016",
    "DatabaseReady",
    "RunSucceeded",
]


@pytest.mark.parametrize("event", STEP_EVENTS)
@pytest.mark.parametrize("idempotency", [True, False], ids=["powertools-idempotency", "state-conditions-only"])
def test_concurrent_twin_deliveries_act_once(harness: Any, event: str, idempotency: bool) -> None:
    h = harness(faults=[Fault(event, "concurrent")], idempotency=idempotency)
    run = nightly(h)
    assert run.status.value == "SUCCEEDED", run.failure
    assert_exactly_once(h)
    assert calls(h, "DeleteDBCluster") == 1


@pytest.mark.parametrize("event", STEP_EVENTS)
def test_duplicate_delivery_acts_once(harness: Any, event: str) -> None:
    h = harness(faults=[Fault(event, "duplicate", times=3)])
    run = nightly(h)
    assert run.status.value == "SUCCEEDED", run.failure
    assert_exactly_once(h)


@pytest.mark.parametrize(
    "operation",
    [
        "DescribeDBClusterSnapshots",
        "CopyDBClusterSnapshot",
        "DeleteDBInstance",
        "DeleteDBCluster",
        "RestoreDBClusterFromSnapshot",
        "CreateDBInstance",
        "ModifyDBCluster",
        "DeleteDBClusterSnapshot",
    ],
)
def test_crash_after_the_aws_call_before_the_state_write(harness: Any, operation: str) -> None:
    h = harness(crash_after={operation})
    run = nightly(h)
    assert run.status.value == "SUCCEEDED", run.failure
    assert any(d.result == "crashed" for d in h.runtime.deliveries), "the crash happened"
    assert_exactly_once(h)
    assert calls(h, "DeleteDBCluster") == 1
    assert not h.runtime.on_failure


def test_two_simultaneous_triggers_for_one_target_open_one_run(harness: Any) -> None:
    h = harness()
    h.world.nightly_snapshot(h.runtime)
    h.runtime.put_pipeline_event("RestoreRequested", {"version": "1", "pipeline": "nightly", "request_id": "x"})
    h.runtime.put_pipeline_event("RestoreRequested", {"version": "1", "pipeline": "nightly", "request_id": "y"})
    [run] = h.run_to_end()
    assert run.status.value == "SUCCEEDED"
    refused = [r for r in h.runtime.deps.store.audit_trail("pipeline#nightly") if r.kind == "refused"]
    assert len(refused) == 2 and all(r.code == "TargetBusy" for r in refused)
    messages = h.world.notifications()
    assert sum("No run was started" in m for m in messages) == 2 and sum("SUCCEEDED" in m for m in messages) == 1
    assert calls(h, "CopyDBClusterSnapshot") == 1


def test_different_pipelines_run_in_parallel(harness: Any, mariadb: Any) -> None:
    config = default_config(cutover="replace")  # per-target databases: the restore reuses the target's name
    second = json.loads(json.dumps(config["pipelines"][0]))
    second.update(name="reporting", source_cluster_id="prod-reporting", target_cluster_id="reporting-copy")
    second["database"]["master_secret_id"] = "aurora-restore/reporting/db-credentials"
    for user in second["database"]["users"]:
        user["password_secret_id"] = user["password_secret_id"].replace("nightly", "reporting")
    config["pipelines"].append(second)
    with MariaDBServer() as other:
        h = harness(config, databases={"reporting-copy": other})
        h.world.nightly_snapshot(h.runtime, "nightly")
        h.world.nightly_snapshot(h.runtime, "reporting")
        runs = h.run_to_end(runs=2)
        assert sorted((r.pipeline, r.status.value) for r in runs) == [
            ("nightly", "SUCCEEDED"),
            ("reporting", "SUCCEEDED"),
        ]
    assert_exactly_once(h, runs=2)


def _rds(h: Any) -> Any:
    return h.rds("us-west-2")


def _assert_target_untouched(h: Any, run: Any, code: str) -> None:
    assert run.status.value == "FAILED" and run.failure is not None and run.failure.code == code
    assert calls(h, "DeleteDBCluster") == 0 and calls(h, "DeleteDBInstance") == 0
    assert calls(h, "RestoreDBClusterFromSnapshot") == 0
    cluster = _rds(h).describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    assert cluster["Status"] == "available"
    assert len(_rds(h).describe_db_instances()["DBInstances"]) == 2
    [message] = h.world.notifications()
    assert "FAILED" in message and code in message and "refusing to delete" in message


def test_target_without_ownership_tag_is_never_deleted(harness: Any) -> None:
    h = harness()
    rds = _rds(h)
    arn = rds.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]["DBClusterArn"]
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[TAG_PIPELINE, TAG_RUN])
    run = nightly(h)
    _assert_target_untouched(h, run, "TargetNotOwned")


def test_target_owned_by_another_pipeline_is_never_deleted(harness: Any) -> None:
    h = harness()
    rds = _rds(h)
    arn = rds.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]["DBClusterArn"]
    rds.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": TAG_PIPELINE, "Value": "someone-else"}])
    run = nightly(h)
    _assert_target_untouched(h, run, "TargetNotOwned")


def test_target_with_deletion_protection_is_never_deleted(harness: Any) -> None:
    h = harness()
    _rds(h).modify_db_cluster(DBClusterIdentifier="staging-aurora", DeletionProtection=True, ApplyImmediately=True)
    run = nightly(h)
    _assert_target_untouched(h, run, "TargetDeletionProtected")


def test_untagged_instance_is_never_deleted(harness: Any) -> None:
    h = harness()
    rds = _rds(h)
    arn = rds.describe_db_instances(DBInstanceIdentifier="staging-aurora-2")["DBInstances"][0]["DBInstanceArn"]
    rds.remove_tags_from_resource(ResourceName=arn, TagKeys=[TAG_PIPELINE])
    run = nightly(h)
    _assert_target_untouched(h, run, "InstanceNotOwned")


def test_target_that_is_a_source_cluster_is_never_deleted(harness: Any) -> None:
    """Configuration validation refuses this; the delete guard refuses it again if a config ever slipped by."""
    h = harness()
    pipeline = h.runtime.deps.config.pipelines[0]
    rogue = PipelineConfig.model_construct(
        **{**dict(pipeline), "name": "rogue", "source_cluster_id": "staging-aurora", "source_region": "us-west-2"}
    )
    h.runtime.deps.config = AppConfig.model_construct(pipelines=[pipeline, rogue])
    run = nightly(h)
    _assert_target_untouched(h, run, "TargetIsSourceCluster")


def test_no_secret_value_appears_anywhere(harness: Any, capsys: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO)  # the deployed LOG_LEVEL; botocore DEBUG logs print request bodies
    h = harness()
    run = nightly(h)
    assert run.status.value == "SUCCEEDED"
    secrets = h.world.client("secretsmanager", "us-west-2")
    master = json.loads(secrets.get_secret_value(SecretId="aurora-restore/db-credentials")["SecretString"])
    values = [master["password"], *USER_PASSWORDS.values(), "production-secret-0", "previous-night-0"]
    ddb = h.world.client("dynamodb", "us-west-2")
    tables = [t["TableName"] for t in h.world.tables.values()]
    stored = json.dumps([ddb.scan(TableName=t)["Items"] for t in tables], default=str)
    output = capsys.readouterr()
    haystacks = {
        "logs": caplog.text + output.out + output.err,
        "tables (state, audit, idempotency)": stored,
        "notifications": "\n".join(h.world.notifications()),
        "handler results": json.dumps([d.__dict__ for d in h.runtime.deliveries], default=str),
    }
    for where, text in haystacks.items():
        for value in values:
            assert value not in text, f"a secret value leaked into {where}"


def test_crash_after_publishing_the_notification_republishes_once(harness: Any) -> None:
    """Notifications are at-least-once: SNS cannot tell whether a crashed attempt's message went out."""
    h = harness(crash_after={"Publish"})
    run = nightly(h)
    assert run.status.value == "SUCCEEDED" and run.notified_at is not None
    messages = h.world.notifications()
    assert len(messages) == 2 and messages[0] == messages[1], "the same summary, twice at most"
    assert calls(h, "CopyDBClusterSnapshot") == 1 and calls(h, "RestoreDBClusterFromSnapshot") == 1
