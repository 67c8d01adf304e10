"""What AWS does and moto does not: after each RDS call, move the resource through its lifecycle on the simulated
clock and emit the RDS events AWS would emit (and none where AWS emits none: a cluster-snapshot copy finishing
is silent).

The emulator talks to the runtime only through `Timeline` (run this later, emit that RDS event) and takes its
knobs as constructor arguments, so it never imports the runtime."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from unittest import mock

from moto.rds.models import DBCluster, rds_backends

# What a resource kind means in ARNs and events: (ARN kind, detail-type, SourceType).
_CLUSTER = ("cluster", "RDS DB Cluster Event", "CLUSTER")
_INSTANCE = ("db", "RDS DB Instance Event", "DB_INSTANCE")


@dataclass
class Durations:
    """How long RDS takes, in simulated seconds."""

    copy: int = 25 * 60
    instance_delete: int = 6 * 60
    cluster_delete: int = 4 * 60
    cluster_restore: int = 11 * 60
    instance_create: int = 8 * 60
    password_apply: int = 20
    rds_event_latency: int = 15
    pipeline_event_latency: int = 1


@contextmanager
def rds_lifecycle() -> Iterator[None]:
    """moto flips a cluster from `creating` to `available` on its first read; let the emulator own the status."""
    sticky = property(lambda self: self._status, lambda self, value: setattr(self, "_status", value))
    with mock.patch.object(DBCluster, "status", sticky):
        yield


class Timeline(Protocol):
    """The runtime's simulated time, as the emulator needs it."""

    def later(self, seconds: float, action: Callable[[], None]) -> None: ...

    def emit_rds_event(
        self,
        region: str,
        detail_type: str,
        event_id: str,
        arn: str,
        source_id: str,
        source_type: str,
        message: str,
        category: str,
    ) -> None: ...


class RdsEmulator:
    """Moves moto's RDS resources through their lifecycle and emits the RDS events AWS would emit."""

    def __init__(
        self,
        timeline: Timeline,
        durations: Durations,
        *,
        account: str,
        database_for: Callable[[str], Any],
        copy_stuck_at: int | None = None,
        apply_master_password: bool = True,
    ) -> None:
        self.timeline = timeline
        self.durations = durations
        self.account = account
        self.database_for = database_for  # cluster id -> its local MySQL-protocol server, or None
        self.copy_stuck_at = copy_stuck_at  # None: copies finish; else a copy's progress stops at this percent
        self.apply_master_password = apply_master_password  # False: the database keeps refusing the new password
        self._doomed: dict[tuple[str, str], Any] = {}  # (region, id) -> what moto is about to delete

    def backend(self, region: str) -> Any:
        return rds_backends[self.account][region]

    def before(self, region: str, operation: str, params: dict[str, Any]) -> None:
        """Keep what moto is about to delete: AWS keeps it visible (status `deleting`) for a while."""
        backend = self.backend(region)
        if operation == "DeleteDBInstance":
            instance_id = params.get("DBInstanceIdentifier", "")
            self._doomed[(region, instance_id)] = backend.databases.get(instance_id)
        elif operation == "DeleteDBCluster":
            cluster_id = params.get("DBClusterIdentifier", "")
            self._doomed[(region, cluster_id)] = backend.clusters.get(cluster_id)

    def after(self, region: str, operation: str, params: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{operation}", None)
        if handler is not None:
            handler(region, params)

    def _emit(
        self, region: str, kind: tuple[str, str, str], resource_id: str, event_id: str, message: str, category: str
    ) -> None:
        arn_kind, detail_type, source_type = kind
        arn = f"arn:aws:rds:{region}:{self.account}:{arn_kind}:{resource_id}"
        self.timeline.emit_rds_event(region, detail_type, event_id, arn, resource_id, source_type, message, category)

    def _on_CopyDBClusterSnapshot(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        snapshot = self.backend(region).cluster_snapshots[params["TargetDBClusterSnapshotIdentifier"]]
        snapshot.status, snapshot.percent_progress = "copying", 0
        stuck = self.copy_stuck_at
        for percent in (10, 25, 40, 55, 70, 85):

            def progress(p: int = percent) -> None:
                if snapshot.status == "copying" and (stuck is None or p <= stuck):
                    snapshot.percent_progress = p

            self.timeline.later(self.durations.copy * percent / 100, progress)
        if stuck is None:

            def finish() -> None:
                snapshot.status, snapshot.percent_progress = "available", 100

            self.timeline.later(self.durations.copy, finish)  # no RDS event: Aurora emits none for these copies

    def _delete_slowly(
        self, region: str, collection: Any, resource_id: str, seconds: int, emit: Callable[[], None]
    ) -> None:
        """moto deleted it at once; AWS shows it `deleting` for a while, then emits the deletion event."""
        resource = self._doomed.pop((region, resource_id), None)
        if resource is not None:
            resource.status = "deleting"
            collection[resource_id] = resource

        def gone() -> None:
            if collection.get(resource_id) is resource:
                del collection[resource_id]
            emit()

        self.timeline.later(seconds, gone)

    def _on_DeleteDBInstance(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        instance_id = params["DBInstanceIdentifier"]
        self._delete_slowly(
            region,
            self.backend(region).databases,
            instance_id,
            self.durations.instance_delete,
            lambda: self._emit(region, _INSTANCE, instance_id, "RDS-EVENT-0003", "DB instance deleted", "deletion"),
        )

    def _on_DeleteDBCluster(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        cluster_id = params["DBClusterIdentifier"]
        backend = self.backend(region)
        # Real AWS removes the automated backups by default; moto keeps them and its snapshot names would clash.
        for snapshot_id, snapshot in list(backend.cluster_snapshots.items()):
            if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_identifier == cluster_id:
                del backend.cluster_snapshots[snapshot_id]
        self._delete_slowly(
            region,
            backend.clusters,
            cluster_id,
            self.durations.cluster_delete,
            lambda: self._emit(region, _CLUSTER, cluster_id, "RDS-EVENT-0171", "DB cluster deleted", "deletion"),
        )

    def _on_RestoreDBClusterFromSnapshot(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        cluster_id = params["DBClusterIdentifier"]
        backend = self.backend(region)
        cluster = backend.clusters[cluster_id]
        cluster.status = "creating"
        # moto ignores falsy overrides and inherits the source's DeletionProtection; AWS applies the request's.
        cluster.deletion_protection = bool(params.get("DeletionProtection", False))

        def created() -> None:
            if cluster_id not in backend.clusters:
                return
            cluster.status = "available"
            server = self.database_for(cluster_id)
            if server is not None:  # the restored data: a production copy with production's accounts
                server.seed_restored_cluster(cluster.master_username or "admin", "production-only-" + uuid.uuid4().hex)
            self._emit(region, _CLUSTER, cluster_id, "RDS-EVENT-0170", "DB cluster created", "creation")

        self.timeline.later(self.durations.cluster_restore, created)

    def _on_CreateDBInstance(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        instance_id = params["DBInstanceIdentifier"]
        backend = self.backend(region)
        instance = backend.databases[instance_id]
        instance.status = "creating"
        cluster = backend.clusters.get(params.get("DBClusterIdentifier", ""))
        wait = self.durations.instance_create
        if cluster is not None and cluster.status == "creating":
            wait += self.durations.cluster_restore  # an instance cannot be ready before its cluster

        def created() -> None:
            if instance_id not in backend.databases:
                return
            instance.status = "available"
            self._emit(region, _INSTANCE, instance_id, "RDS-EVENT-0005", "DB instance created", "creation")

        self.timeline.later(wait, created)

    def _on_ModifyDBCluster(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        password = params.get("MasterUserPassword")
        if not password:
            return
        cluster_id = params["DBClusterIdentifier"]
        cluster = self.backend(region).clusters[cluster_id]
        cluster.status = "resetting-master-credentials"

        def applied() -> None:
            cluster.status = "available"
            server = self.database_for(cluster_id)
            if server is not None and self.apply_master_password:
                server.set_password(cluster.master_username or "admin", password)
            self._emit(
                region, _CLUSTER, cluster_id, "RDS-EVENT-0016", "Reset master credentials", "configuration change"
            )

        self.timeline.later(self.durations.password_apply, applied)
