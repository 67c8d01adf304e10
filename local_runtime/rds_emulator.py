"""What AWS does and moto does not: after each RDS call, move the resource through its lifecycle on the simulated
clock and emit the RDS events AWS would emit (and none where AWS emits none: a cluster-snapshot copy finishing
is silent).

It also answers, before moto sees them, the calls AWS would answer differently (`respond`): the 5 cross-region
copies in flight per destination region, the manual-snapshot quota (DescribeAccountAttributes, which moto lacks),
and refusals of a busy (`hold`) or stopped (`stop`) cluster or instance.

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

from local_runtime.envelopes import RdsNotice
from local_runtime.faults import InjectedError
from shared.rds_states import Condition, condition

# What a resource kind means in ARNs and events: (ARN kind, detail-type, SourceType).
_CLUSTER = ("cluster", "RDS DB Cluster Event", "CLUSTER")
_INSTANCE = ("db", "RDS DB Instance Event", "DB_INSTANCE")

# "You can have up to five snapshot copy requests in progress to a single destination Region per account"
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-copy-snapshot.html). The answer to the sixth
# is `SnapshotQuotaExceeded` (a documented CopyDBClusterSnapshot error); the message is the one reported for
# CopyDBSnapshot (https://github.com/pbudzon/aws-maintenance/issues/19): UNVERIFIED for cluster snapshots.
COPY_LIMIT = 5
COPY_LIMIT_MESSAGE = "Cannot copy more than 5 snapshots across regions"
# Reported for manual instance snapshots (https://github.com/pbudzon/aws-maintenance/issues/12); UNVERIFIED here.
QUOTA_MESSAGE = "Cannot create more than {max} manual snapshots"
DEFAULT_CLUSTER_QUOTA = 40  # DBClusters per region (CHAP_Limits)
DEFAULT_INSTANCE_QUOTA = 40  # DBInstances per region (CHAP_Limits)
_CLUSTER_CALLS = {"DeleteDBCluster", "ModifyDBCluster", "StartDBCluster", "StopDBCluster", "CreateDBInstance"}
_INSTANCE_CALLS = {"DeleteDBInstance", "ModifyDBInstance", "RebootDBInstance"}


@dataclass
class Durations:
    """How long RDS takes, in simulated seconds."""

    copy: int = 25 * 60
    instance_delete: int = 6 * 60
    cluster_delete: int = 4 * 60
    cluster_restore: int = 11 * 60
    # RestoreDBClusterToPointInTime. AWS publishes no duration for either (UNVERIFIED): a copy-on-write clone shares
    # the source's pages ("Creating a clone is faster and more space-efficient than physically copying the data
    # using other techniques, such as restoring a snapshot", Aurora UG, Aurora.Managing.Clone), so minutes; a
    # full copy builds a whole volume from the backups and replays the log up to the restore time, so longer
    # than a snapshot restore.
    clone: int = 3 * 60
    point_in_time_restore: int = 16 * 60
    instance_create: int = 8 * 60
    cluster_start: int = 5 * 60
    password_apply: int = 20
    # A renamed cluster's new DNS name "becomes effective in about two minutes" (Multi-AZ DB clusters, UNVERIFIED for
    # Aurora), an instance's "in about 10 minutes"; neither is available until then
    # (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/multi-az-db-cluster-rename.html,
    # https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html).
    cluster_rename: int = 2 * 60
    instance_rename: int = 10 * 60
    cluster_stop: int = 3 * 60
    rds_event_latency: int = 15
    pipeline_event_latency: int = 1


@contextmanager
def rds_lifecycle() -> Iterator[None]:
    """moto flips a cluster from `creating` to `available` on its first read; let the emulator own the status."""
    sticky = property(lambda self: self._status, lambda self, value: setattr(self, "_status", value))
    with mock.patch.object(DBCluster, "status", sticky):
        yield


# How PercentProgress moves during a copy, as (fraction of the copy's time, percent) steps. AWS documents only "the
# percentage of the estimated data that has been transferred" (DBClusterSnapshot, RDS API Reference): the shape is
# UNVERIFIED. COARSE_PROGRESS is the emulator's default; `steady_progress` is an integer that moves every 1% after a
# short start at 0, what the field's definition suggests for a copy whose transfer rate is even.
COARSE_PROGRESS: tuple[tuple[float, int], ...] = tuple((p / 100, p) for p in (10, 25, 40, 55, 70, 85))


def steady_progress(lag: float = 0.03) -> tuple[tuple[float, int], ...]:
    return tuple((lag + (1 - lag) * p / 100, p) for p in range(1, 100))


class Timeline(Protocol):
    """The runtime's simulated time, as the emulator needs it."""

    def later(self, seconds: float, action: Callable[[], None]) -> None: ...

    def emit_rds_event(self, notice: RdsNotice) -> None: ...


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
        manual_snapshot_quota: int = 100,
        copy_progress: tuple[tuple[float, int], ...] = COARSE_PROGRESS,
        cluster_quota: int = DEFAULT_CLUSTER_QUOTA,
        instance_quota: int = DEFAULT_INSTANCE_QUOTA,
    ) -> None:
        self.timeline = timeline
        self.cluster_quota, self.instance_quota = cluster_quota, instance_quota  # an account may have them raised
        self.copy_progress = copy_progress
        self.durations = durations
        self.account = account
        self.database_for = database_for  # cluster id -> its local MySQL-protocol server, or None
        self.copy_stuck_at = copy_stuck_at  # None: copies finish; else a copy's progress stops at this percent
        self.apply_master_password = apply_master_password  # False: the database keeps refusing the new password
        self._doomed: dict[tuple[str, str], Any] = {}  # (region, id) -> what moto is about to delete
        self.manual_snapshot_quota = manual_snapshot_quota  # ManualClusterSnapshots: 100 per region by default
        self.copies_in_flight: dict[str, dict[str, Any]] = {}  # destination region -> cross-region copies in flight
        self.max_copies_in_flight: dict[str, int] = {}  # the most ever in flight at once, per destination region
        self.copies_refused: dict[str, int] = {}  # CopyDBClusterSnapshot calls answered with the limit, per region
        self._held: dict[tuple[str, str], list[str]] = {}  # (region, id) -> [held status, status to return to]
        self._creation_seconds: dict[tuple[str, str], int] = {}  # (region, cluster id) -> how long its restore takes

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

    # Answers before moto -------------------------------------------------------------------------------------------
    def respond(self, region: str, operation: str, params: dict[str, Any]) -> InjectedError | dict[str, Any] | None:
        """What AWS answers where moto would answer otherwise: an error, a response, or None to let moto answer."""
        if operation == "DescribeAccountAttributes":  # moto does not implement it
            return {"AccountQuotas": self._account_quotas(region), "ResponseMetadata": {"HTTPStatusCode": 200}}
        if operation == "CopyDBClusterSnapshot":
            return self._copy_refusal(region, params)
        if operation in _CLUSTER_CALLS:
            return self._busy_refusal(region, operation, params.get("DBClusterIdentifier", ""), None)
        if operation in _INSTANCE_CALLS:
            instance_id = params.get("DBInstanceIdentifier", "")
            instance = self.backend(region).databases.get(instance_id)
            cluster_id = getattr(instance, "db_cluster_identifier", None) or ""
            return self._busy_refusal(region, operation, cluster_id, instance_id)
        return None

    def _account_quotas(self, region: str) -> list[dict[str, Any]]:
        """The quotas the pipeline reads, with their default Max (DB clusters 40, DB instances 40, manual cluster
        snapshots 100 per region: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/CHAP_Limits.html)."""
        backend = self.backend(region)
        used = {
            "ManualClusterSnapshots": (self._manual_snapshots(region), self.manual_snapshot_quota),
            "DBClusters": (len(backend.clusters), self.cluster_quota),
            "DBInstances": (len(backend.databases), self.instance_quota),
        }
        return [{"AccountQuotaName": name, "Used": count, "Max": top} for name, (count, top) in used.items()]

    def _manual_snapshots(self, region: str) -> int:
        return sum(1 for s in self.backend(region).cluster_snapshots.values() if s.snapshot_type == "manual")

    def _copy_refusal(self, region: str, params: dict[str, Any]) -> InjectedError | None:
        if self._manual_snapshots(region) >= self.manual_snapshot_quota:
            message = QUOTA_MESSAGE.format(max=self.manual_snapshot_quota)
            return InjectedError("CopyDBClusterSnapshot", "SnapshotQuotaExceeded", message=message)
        if _is_cross_region(region, params) and len(self.copies_in_flight.get(region, {})) >= COPY_LIMIT:
            self.copies_refused[region] = self.copies_refused.get(region, 0) + 1
            return InjectedError("CopyDBClusterSnapshot", "SnapshotQuotaExceeded", message=COPY_LIMIT_MESSAGE)
        return None

    def _busy_refusal(
        self, region: str, operation: str, cluster_id: str, instance_id: str | None
    ) -> InjectedError | None:
        """A busy (held) or stopped cluster, or a busy instance, refuses changes as AWS does."""
        cluster = self.backend(region).clusters.get(cluster_id)
        cluster_status = getattr(cluster, "status", "")
        busy_cluster = (region, cluster_id) in self._held and condition(cluster_status) is Condition.BUSY
        if busy_cluster or (cluster_status == "stopped" and operation != "StartDBCluster"):
            # "The requested operation can't be performed while the cluster is in this state" (exact text UNVERIFIED)
            message = f"DbCluster {cluster_id} is in {cluster_status} state; {operation} is not allowed"
            return InjectedError(operation, "InvalidDBClusterStateFault", message=message)
        if instance_id is not None and (region, instance_id) in self._held:
            status = self._held[(region, instance_id)][0]
            if condition(status) is Condition.BUSY:
                message = f"Instance {instance_id} is in {status} state; {operation} is not allowed"
                return InjectedError(operation, "InvalidDBInstanceState", message=message)
        return None

    # Knobs a test turns while the night runs ----------------------------------------------------------------------
    def _resource(self, region: str, resource_id: str) -> Any:
        backend = self.backend(region)
        return backend.clusters.get(resource_id) or backend.databases.get(resource_id)

    def hold(self, region: str, resource_id: str, status: str, seconds: float | None = None) -> None:
        """Put a cluster or an instance into `status` now: a busy one (`backing-up`, `maintenance`...) for
        `seconds`, then back to what it was; a terminal one (`inaccessible-encryption-credentials`...) for good
        (`seconds=None`). While held, the lifecycle leaves it alone and a busy hold refuses changes."""
        resource = self._resource(region, resource_id)
        key = (region, resource_id)
        self._held[key] = [status, resource.status]
        resource.status = status
        if seconds is None:
            return

        def release() -> None:
            held = self._held.pop(key, None)
            if held is not None and self._resource(region, resource_id) is resource:
                resource.status = held[1]

        self.timeline.later(seconds, release)

    def stop(self, region: str, cluster_id: str) -> None:
        """StopDBCluster as AWS completes it: the cluster and its instances are `stopped`."""
        backend = self.backend(region)
        cluster = backend.clusters[cluster_id]
        cluster.status = "stopped"
        for instance in backend.databases.values():
            if getattr(instance, "db_cluster_identifier", None) == cluster_id:
                instance.status = "stopped"

    def _settle(self, region: str, resource_id: str, resource: Any, status: str) -> bool:
        """The lifecycle moves a resource to `status`, unless a test holds it (then it returns there after; the step's
        own event and side effects are skipped, so hold a resource mid-creation only in a terminal state)."""
        held = self._held.get((region, resource_id))
        if held is not None:
            held[1] = status
            return False
        resource.status = status
        return True

    def after(self, region: str, operation: str, params: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{operation}", None)
        if handler is not None:
            handler(region, params)

    def _emit(
        self, region: str, kind: tuple[str, str, str], resource_id: str, event_id: str, message: str, category: str
    ) -> None:
        arn_kind, detail_type, source_type = kind
        arn = f"arn:aws:rds:{region}:{self.account}:{arn_kind}:{resource_id}"
        notice = RdsNotice(region, detail_type, event_id, arn, resource_id, source_type, message, category)
        self.timeline.emit_rds_event(notice)

    def _on_CopyDBClusterSnapshot(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        snapshot_id = params["TargetDBClusterSnapshotIdentifier"]
        snapshot = self.backend(region).cluster_snapshots[snapshot_id]
        snapshot.status, snapshot.percent_progress = "copying", 0
        in_flight = self.copies_in_flight.setdefault(region, {})
        if _is_cross_region(region, params):
            in_flight[snapshot_id] = snapshot
            self.max_copies_in_flight[region] = max(self.max_copies_in_flight.get(region, 0), len(in_flight))
        stuck = self.copy_stuck_at
        for fraction, percent in self.copy_progress:

            def progress(p: int = percent) -> None:
                if snapshot.status == "copying" and (stuck is None or p <= stuck):
                    snapshot.percent_progress = p

            self.timeline.later(self.durations.copy * fraction, progress)
        if stuck is None:

            def finish() -> None:
                snapshot.status, snapshot.percent_progress = "available", 100
                if in_flight.get(snapshot_id) is snapshot:
                    del in_flight[snapshot_id]

            self.timeline.later(self.durations.copy, finish)  # no RDS event: Aurora emits none for these copies

    def _on_DeleteDBClusterSnapshot(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        """Deleting a copy that is still `copying` cancels it (CopyDBClusterSnapshot API reference): its slot frees."""
        snapshot_id = params.get("DBClusterSnapshotIdentifier", "")
        self.copies_in_flight.get(region, {}).pop(snapshot_id, None)

    def _on_StartDBCluster(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        """moto starts at once; AWS shows `starting` for minutes, then RDS-EVENT-0151 "DB cluster started"
        (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Events.Messages.html)."""
        cluster_id = params["DBClusterIdentifier"]
        backend = self.backend(region)
        cluster = backend.clusters[cluster_id]
        members = [i for i in backend.databases.values() if getattr(i, "db_cluster_identifier", None) == cluster_id]
        for resource in (cluster, *members):
            resource.status = "starting"

        def started() -> None:
            for resource in (cluster, *members):
                self._settle(region, getattr(resource, "db_instance_identifier", cluster_id), resource, "available")
            self._emit(region, _CLUSTER, cluster_id, "RDS-EVENT-0151", "DB cluster started", "notification")

        self.timeline.later(self.durations.cluster_start, started)

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
        self._restore(region, params, self.durations.cluster_restore)

    def _on_RestoreDBClusterToPointInTime(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        """moto copies the source cluster's attributes (master user, engine version, key) and applies the
        request's; the lifecycle and events are a snapshot restore's, only the time differs: a copy-on-write clone
        is quick, a full copy slow (Durations). Its data is the source cluster's: production's. Whether AWS emits
        RDS-EVENT-0170 for this restore is UNVERIFIED, as for a snapshot restore; the check's RunCheckDue covers
        its absence."""
        full = params.get("RestoreType", "full-copy") != "copy-on-write"  # "If you don't specify a RestoreType
        # value, then the new DB cluster is restored as a full copy" (RestoreDBClusterToPointInTime)
        self._restore(region, params, self.durations.point_in_time_restore if full else self.durations.clone)

    def _restore(self, region: str, params: dict[str, Any], seconds: int) -> None:
        """A new cluster from a snapshot or from a source cluster: `creating` for `seconds`, then `available`
        with production's data and RDS-EVENT-0170 "DB cluster created"."""
        cluster_id = params["DBClusterIdentifier"]
        backend = self.backend(region)
        cluster = backend.clusters[cluster_id]
        cluster.status = "creating"
        self._creation_seconds[(region, cluster_id)] = seconds
        # moto ignores falsy overrides and inherits the source's DeletionProtection; AWS applies the request's.
        cluster.deletion_protection = bool(params.get("DeletionProtection", False))
        # moto ignores EngineLifecycleSupport and keeps the source's storage type; AWS applies the request's or its
        # defaults (both restore calls: open-source-rds-extended-support, aurora).
        cluster.engine_lifecycle_support = params.get("EngineLifecycleSupport", "open-source-rds-extended-support")
        cluster.storage_type = params.get("StorageType", "aurora")

        def created() -> None:
            if cluster_id not in backend.clusters or not self._settle(region, cluster_id, cluster, "available"):
                return
            server = self.database_for(cluster_id)
            if server is not None:  # the restored data: a production copy with production's accounts
                server.seed_restored_cluster(cluster.master_username or "admin", "production-only-" + uuid.uuid4().hex)
            self._emit(region, _CLUSTER, cluster_id, "RDS-EVENT-0170", "DB cluster created", "creation")

        self.timeline.later(seconds, created)

    def _on_CreateDBInstance(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        instance_id = params["DBInstanceIdentifier"]
        backend = self.backend(region)
        instance = backend.databases[instance_id]
        instance.status = "creating"
        cluster = backend.clusters.get(params.get("DBClusterIdentifier", ""))
        wait = self.durations.instance_create
        if cluster is not None and cluster.status == "creating":  # an instance cannot be ready before its cluster
            wait += self._creation_seconds.get((region, cluster.db_cluster_identifier), self.durations.cluster_restore)

        def created() -> None:
            if instance_id not in backend.databases or not self._settle(region, instance_id, instance, "available"):
                return
            self._emit(region, _INSTANCE, instance_id, "RDS-EVENT-0005", "DB instance created", "creation")

        self.timeline.later(wait, created)

    def _on_ModifyDBCluster(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        if params.get("NewDBClusterIdentifier"):
            self._rename_cluster(region, params["DBClusterIdentifier"], params["NewDBClusterIdentifier"].lower())
        password = params.get("MasterUserPassword")
        if not password:
            return
        cluster_id = params["DBClusterIdentifier"]
        cluster = self.backend(region).clusters[cluster_id]
        cluster.status = "resetting-master-credentials"

        def applied() -> None:
            self._settle(region, cluster_id, cluster, "available")
            server = self.database_for(cluster_id)
            if server is not None and self.apply_master_password:
                server.set_password(cluster.master_username or "admin", password)
            self._emit(
                region, _CLUSTER, cluster_id, "RDS-EVENT-0016", "Reset master credentials", "configuration change"
            )

        self.timeline.later(self.durations.password_apply, applied)

    def _rename_cluster(self, region: str, old_id: str, new_id: str) -> None:
        """moto renames at once; AWS shows `renaming` until the new name is effective, then emits RDS-EVENT-0172
        "Renamed DB cluster from [old] to [new]" (USER_Events.Messages). moto also leaves the members naming the old
        identifier (its cluster membership is by identifier): they follow the cluster here, as in AWS."""
        backend = self.backend(region)
        cluster = backend.clusters[new_id]
        for instance in backend.databases.values():
            if getattr(instance, "db_cluster_identifier", None) == old_id.lower():
                instance.db_cluster_identifier = new_id
        cluster.status = "renaming"

        def renamed() -> None:
            if backend.clusters.get(new_id) is cluster and self._settle(region, new_id, cluster, "available"):
                message = f"Renamed DB cluster from {old_id} to {new_id}"
                self._emit(region, _CLUSTER, new_id, "RDS-EVENT-0172", message, "notification")

        self.timeline.later(self.durations.cluster_rename, renamed)

    def _on_ModifyDBInstance(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        """An instance rename: `renaming` until the new name is effective (no rename event is documented)."""
        new_id = str(params.get("NewDBInstanceIdentifier") or "").lower()
        if not new_id:
            return
        backend = self.backend(region)
        instance = backend.databases[new_id]
        instance.status = "renaming"

        def renamed() -> None:
            if backend.databases.get(new_id) is instance:
                self._settle(region, new_id, instance, "available")

        self.timeline.later(self.durations.instance_rename, renamed)

    def _on_StopDBCluster(self, region: str, params: dict[str, Any]) -> None:  # noqa: N802
        """moto stops at once; AWS shows `stopping`, then RDS-EVENT-0150 "DB cluster stopped" (USER_Events.Messages)."""
        cluster_id = params["DBClusterIdentifier"]
        backend = self.backend(region)
        cluster = backend.clusters[cluster_id]
        members = [i for i in backend.databases.values() if getattr(i, "db_cluster_identifier", None) == cluster_id]
        for resource in (cluster, *members):
            resource.status = "stopping"

        def stopped() -> None:
            for resource in (cluster, *members):
                self._settle(region, getattr(resource, "db_instance_identifier", cluster_id), resource, "stopped")
            self._emit(region, _CLUSTER, cluster_id, "RDS-EVENT-0150", "DB cluster stopped", "notification")

        self.timeline.later(self.durations.cluster_stop, stopped)


def _is_cross_region(region: str, params: dict[str, Any]) -> bool:
    """A copy whose source ARN names another region (only those count towards the 5 in flight)."""
    source = str(params.get("SourceDBClusterSnapshotIdentifier", ""))
    parts = source.split(":")
    return source.startswith("arn:") and len(parts) > 3 and parts[3] != region
