"""The local runtime's RDS emulator on a restore from a source cluster (RestoreDBClusterToPointInTime): `creating`,
then `available` with the source's data and RDS-EVENT-0170, as a snapshot restore, after the clone's or the full
copy's own time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from local_runtime.envelopes import RdsNotice
from local_runtime.rds_emulator import Durations, RdsEmulator, rds_lifecycle

REGION = "us-west-2"


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


@pytest.fixture
def rds() -> Iterator[Any]:
    with mock_aws(), rds_lifecycle():
        client = boto3.client("rds", region_name=REGION)
        client.create_db_cluster(
            DBClusterIdentifier="prod-aurora",
            Engine="aurora-mysql",
            MasterUsername="admin",
            MasterUserPassword="production-secret-0",
            StorageEncrypted=True,
            DeletionProtection=True,
        )
        yield client


@pytest.mark.parametrize("restore_type", ["copy-on-write", "full-copy"])
def test_a_restore_from_the_source_is_created_with_the_sources_data(rds: Any, restore_type: str) -> None:
    timeline, server, durations = RecordingTimeline(), SeededServer(), Durations()
    emulator = RdsEmulator(timeline, durations, account=DEFAULT_ACCOUNT_ID, database_for=lambda _id: server)
    params = {
        "DBClusterIdentifier": "staging-aurora",
        "SourceDBClusterIdentifier": "prod-aurora",
        "RestoreType": restore_type,
        "UseLatestRestorableTime": True,
        "DeletionProtection": False,
    }
    rds.restore_db_cluster_to_point_in_time(**params)
    emulator.after(REGION, "RestoreDBClusterToPointInTime", params)

    def status() -> str:
        return str(rds.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]["Status"])

    assert status() == "creating" and not timeline.events
    [(seconds, created)] = timeline.scheduled
    expected = durations.clone if restore_type == "copy-on-write" else durations.point_in_time_restore
    assert seconds == expected
    created()
    assert status() == "available" and server.seeded_for == ["admin"]  # the source's master user and data
    [event] = timeline.events
    assert (event.event_id, event.source_id) == ("RDS-EVENT-0170", "staging-aurora")
    described = rds.describe_db_clusters(DBClusterIdentifier="staging-aurora")["DBClusters"][0]
    assert described["DeletionProtection"] is False, "the request's, not the source's"
