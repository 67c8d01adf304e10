"""A new cluster from the source cluster (RestoreDBClusterToPointInTime), against moto: the RDS adapter sends the
request's settings and translates AWS's errors; the local runtime's RDS emulator takes it through `creating` to
`available` with the source's data and RDS-EVENT-0170, as a snapshot restore, after the clone's or the full copy's
own time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from local_runtime.envelopes import RdsNotice
from local_runtime.rds_emulator import Durations, RdsEmulator, rds_lifecycle
from shared.aws.rds import Rds
from shared.cluster_settings import ClusterSettings
from shared.errors import PipelineError
from shared.ports import PointInTimeSource, RestoreRequest

REGION = "us-west-2"


@pytest.fixture
def client() -> Iterator[Any]:
    """Production in moto: an encrypted, deletion-protected Aurora MySQL cluster."""
    with mock_aws(), rds_lifecycle():
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


class RecordingTimeline:
    """Satisfies rds_emulator.Timeline: keeps what the emulator schedules and emits."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Callable[[], None]]] = []
        self.events: list[RdsNotice] = []

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        self.scheduled.append((seconds, action))

    def emit_rds_event(self, notice: RdsNotice) -> None:
        self.events.append(notice)


class SeededServer:
    def __init__(self) -> None:
        self.seeded_for: list[str] = []

    def seed_restored_cluster(self, master_user: str, _password: str) -> None:
        self.seeded_for.append(master_user)


@pytest.mark.parametrize("restore_type", ["copy-on-write", "full-copy"])
def test_a_restore_from_the_source_is_created_with_the_sources_data(client: Any, restore_type: str) -> None:
    timeline, server, durations = RecordingTimeline(), SeededServer(), Durations()
    emulator = RdsEmulator(timeline, durations, account=DEFAULT_ACCOUNT_ID, database_for=lambda _id: server)
    params = {
        "DBClusterIdentifier": "staging-aurora",
        "SourceDBClusterIdentifier": "prod-aurora",
        "RestoreType": restore_type,
        "UseLatestRestorableTime": True,
        "DeletionProtection": False,
    }
    client.restore_db_cluster_to_point_in_time(**params)
    emulator.after(REGION, "RestoreDBClusterToPointInTime", params)

    def status() -> str:
        return str(client.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]["Status"])

    assert status() == "creating" and not timeline.events
    [(seconds, created)] = timeline.scheduled
    expected = durations.clone if restore_type == "copy-on-write" else durations.point_in_time_restore
    assert seconds == expected
    created()
    assert status() == "available" and server.seeded_for == ["admin"]  # the source's master user and data
    [event] = timeline.events
    assert (event.event_id, event.source_id) == ("RDS-EVENT-0170", "staging-aurora")
    described = client.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    assert described["DeletionProtection"] is False, "the request's, not the source's"
