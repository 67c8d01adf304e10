"""The RDS adapter's two ways to make the new cluster, against moto: from a snapshot, and from the source cluster
(RestoreDBClusterToPointInTime), with the same settings and AWS's errors translated."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shared.aws.rds import Rds
from shared.cluster_settings import ClusterSettings
from shared.errors import PipelineError
from shared.ports import PointInTimeSource, RestoreRequest

REGION = "us-west-2"


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws():
        rds = boto3.client("rds", region_name=REGION)
        rds.create_db_cluster(
            DBClusterIdentifier="prod-aurora",
            Engine="aurora-mysql",
            EngineVersion="8.0.mysql_aurora.3.05.2",
            MasterUsername="admin",
            MasterUserPassword="production-secret-0",
            StorageEncrypted=True,
            DeletionProtection=True,
        )
        yield rds


def request(**source: Any) -> RestoreRequest:
    return RestoreRequest(
        cluster_id="staging-aurora",
        engine="aurora-mysql",
        engine_version=None,
        db_subnet_group=None,
        security_group_ids=["sg-0a1b2c3d4e5f60718"],
        db_cluster_parameter_group=None,
        kms_key_id="alias/aurora-restore",
        settings=ClusterSettings(storage_type="aurora-iopt1", cloudwatch_logs_exports=["error"]),
        tags={"aurora-restore:pipeline": "nightly"},
        **source,
    )


def test_a_clone_is_made_from_the_source_cluster_with_the_requests_settings(client: Any) -> None:
    clone = Rds(client, REGION).restore_to_point_in_time(
        request(point_in_time=PointInTimeSource(cluster_id="prod-aurora", restore_type="copy-on-write"))
    )
    assert clone.identifier == "staging-aurora" and clone.engine == "aurora-mysql"
    assert clone.deletion_protection is False and clone.tags == {"aurora-restore:pipeline": "nightly"}
    assert clone.storage_type == "aurora-iopt1" and clone.cloudwatch_logs_exports == ["error"]
    described = client.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    assert described["KmsKeyId"] == "alias/aurora-restore" and described["MasterUsername"] == "admin"
    assert [g["VpcSecurityGroupId"] for g in described["VpcSecurityGroups"]] == ["sg-0a1b2c3d4e5f60718"]


def test_a_missing_source_cluster_is_a_permanent_error(client: Any) -> None:
    with pytest.raises(PipelineError) as raised:
        Rds(client, REGION).restore_to_point_in_time(
            request(point_in_time=PointInTimeSource(cluster_id="gone-aurora", restore_type="full-copy"))
        )
    assert raised.value.code == "DBClusterNotFoundFault" and not raised.value.transient


def test_a_request_names_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="set exactly one"):
        request()
    with pytest.raises(ValueError, match="set exactly one"):
        request(snapshot_id="ar-x", point_in_time=PointInTimeSource(cluster_id="p", restore_type="full-copy"))
