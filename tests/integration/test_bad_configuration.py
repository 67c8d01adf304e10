"""An invalid configuration: every handler refuses to act, says why in the log and the audit table, and raises
so the event is kept (Lambda retries, then the on-failure queue) for replay after the fix."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local_runtime.runtime import FakeLambdaContext
from local_runtime.world import World
from services.copy_snapshot.app import handler as copy_handler
from shared.deps import reset_default_deps
from shared.errors import ConfigError

EVENT = json.load(open("events/run-requested.json"))  # noqa: SIM115


def test_invalid_configuration_is_reported_and_nothing_acts(world: World, monkeypatch: Any) -> None:
    bad = json.loads(json.dumps(world.raw_config))
    bad["pipelines"][0]["target_cluster_id"] = "prod-aurora"
    bad["pipelines"][0]["target_region"] = "us-east-1"
    boto3.client("ssm", region_name="us-west-2").put_parameter(
        Name=world.config_parameter, Value=json.dumps(bad), Type="String", Overwrite=True
    )
    for key, value in world.settings().model_dump(by_alias=True).items():
        if value is not None:
            monkeypatch.setenv(key, str(value))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    reset_default_deps()
    try:
        with pytest.raises(ConfigError, match="target cluster must not be the source"):
            copy_handler(EVENT, FakeLambdaContext("aurora-restore-copy-snapshot"))
    finally:
        reset_default_deps()
    items = boto3.client("dynamodb", region_name="us-west-2").scan(TableName=world.tables["AuditTable"]["TableName"])[
        "Items"
    ]
    assert [i["code"]["S"] for i in items] == ["InvalidConfiguration"]
    rds = boto3.client("rds", region_name="us-west-2")
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"][0]
    assert len(rds.describe_db_instances()["DBInstances"]) == 2
