"""RDS adapter for one region: boto3 responses in, small domain views out; errors translated."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from shared.aws.errors import error_code, translate
from shared.cluster_settings import ServerlessScaling
from shared.ports import ClusterView, InstanceRequest, InstanceView, RestoreRequest, SnapshotQuota, SnapshotView

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

T = TypeVar("T")

_SNAPSHOT_MISSING = {"DBClusterSnapshotNotFoundFault"}
_CLUSTER_MISSING = {"DBClusterNotFoundFault"}
_INSTANCE_MISSING = {"DBInstanceNotFound", "DBInstanceNotFoundFault"}


def _tags(raw: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in raw or []}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _snapshot(raw: Any) -> SnapshotView:
    return SnapshotView(
        identifier=raw["DBClusterSnapshotIdentifier"],
        arn=raw.get("DBClusterSnapshotArn", ""),
        cluster_id=raw.get("DBClusterIdentifier", ""),
        status=raw.get("Status", "unknown"),
        snapshot_type=raw.get("SnapshotType", ""),
        engine=raw.get("Engine", ""),
        engine_version=raw.get("EngineVersion"),
        percent_progress=int(raw.get("PercentProgress", 0) or 0),
        created_at=raw.get("SnapshotCreateTime"),
        encrypted=bool(raw.get("StorageEncrypted", False)),
        kms_key_id=raw.get("KmsKeyId"),
        tags=_tags(raw.get("TagList")),
    )


def _cluster(raw: Any) -> ClusterView:
    endpoint = raw.get("Endpoint")
    return ClusterView(
        identifier=raw["DBClusterIdentifier"],
        arn=raw.get("DBClusterArn", ""),
        status=raw.get("Status", "unknown"),
        engine=raw.get("Engine", ""),
        deletion_protection=bool(raw.get("DeletionProtection", False)),
        member_ids=[m["DBInstanceIdentifier"] for m in raw.get("DBClusterMembers", [])],
        endpoint=endpoint if isinstance(endpoint, str) else None,
        port=raw.get("Port"),
        master_username=raw.get("MasterUsername"),
        engine_lifecycle_support=raw.get("EngineLifecycleSupport"),
        storage_type=raw.get("StorageType"),
        cloudwatch_logs_exports=list(raw.get("EnabledCloudwatchLogsExports") or []),
        tags=_tags(raw.get("TagList")),
        preferred_backup_window=raw.get("PreferredBackupWindow"),
        db_subnet_group=raw.get("DBSubnetGroup") or None,
        security_group_ids=[g["VpcSecurityGroupId"] for g in raw.get("VpcSecurityGroups") or []],
        db_cluster_parameter_group=raw.get("DBClusterParameterGroup") or None,
        engine_version=raw.get("EngineVersion"),
        iam_database_authentication=raw.get("IAMDatabaseAuthenticationEnabled"),
        backup_retention_days=raw.get("BackupRetentionPeriod"),
        serverless_v2=_scaling(raw.get("ServerlessV2ScalingConfiguration")),
    )


def _scaling(raw: Any) -> ServerlessScaling | None:
    if not raw or "MinCapacity" not in raw or "MaxCapacity" not in raw:
        return None
    return ServerlessScaling(
        min_capacity=Decimal(str(raw["MinCapacity"])), max_capacity=Decimal(str(raw["MaxCapacity"]))
    )


def _instance(raw: Any) -> InstanceView:
    return InstanceView(
        identifier=raw["DBInstanceIdentifier"],
        cluster_id=raw.get("DBClusterIdentifier"),
        status=raw.get("DBInstanceStatus", "unknown"),
        tags=_tags(raw.get("TagList")),
        instance_class=raw.get("DBInstanceClass"),
        db_parameter_group=next((g["DBParameterGroupName"] for g in raw.get("DBParameterGroups") or []), None),
    )


def _new_cluster(request: RestoreRequest) -> dict[str, Any]:
    """The parameters RestoreDBClusterFromSnapshot and RestoreDBClusterToPointInTime share: identifier, tags,
    network, parameter group, key and the settings a restore does not carry over (shared/cluster_settings.py)."""
    kwargs: dict[str, Any] = {
        "DBClusterIdentifier": request.cluster_id,
        "DeletionProtection": False,
        "Tags": _tag_list(request.tags),
    }
    optional = {
        "DBSubnetGroupName": request.db_subnet_group,
        "DBClusterParameterGroupName": request.db_cluster_parameter_group,
        "KmsKeyId": request.kms_key_id,
        "EngineLifecycleSupport": request.settings.engine_lifecycle_support,
        "StorageType": request.settings.storage_type,
    }
    kwargs.update({k: v for k, v in optional.items() if v})
    # The target's own settings (shared/new_cluster.py); both restore calls take them (botocore RDS model).
    if request.iam_database_authentication is not None:
        kwargs["EnableIAMDatabaseAuthentication"] = request.iam_database_authentication
    if request.backup_retention_days:
        kwargs["BackupRetentionPeriod"] = request.backup_retention_days
    if request.serverless_v2 is not None:
        kwargs["ServerlessV2ScalingConfiguration"] = {
            "MinCapacity": float(request.serverless_v2.min_capacity),
            "MaxCapacity": float(request.serverless_v2.max_capacity),
        }
    if request.security_group_ids:
        kwargs["VpcSecurityGroupIds"] = request.security_group_ids
    if request.settings.cloudwatch_logs_exports:
        kwargs["EnableCloudwatchLogsExports"] = request.settings.cloudwatch_logs_exports
    return kwargs


class Rds:
    def __init__(self, client: RDSClient, region: str) -> None:
        self._client = client
        self.region = region

    def _call(self, op: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ClientError as exc:
            raise translate(exc, op) from None

    def _maybe(self, op: str, missing: set[str], fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except ClientError as exc:
            if error_code(exc) in missing:
                return None
            raise translate(exc, op) from None

    # Snapshots -----------------------------------------------------------------------------------------------
    def find_cluster_snapshot(self, identifier: str) -> SnapshotView | None:
        found = self._maybe(
            "DescribeDBClusterSnapshots",
            _SNAPSHOT_MISSING,
            lambda: self._client.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier),
        )
        items = found["DBClusterSnapshots"] if found else []
        return _snapshot(items[0]) if items else None

    def newest_automated_snapshot(self, cluster_id: str) -> SnapshotView | None:
        snapshots = self._paginate_snapshots(DBClusterIdentifier=cluster_id, SnapshotType="automated")
        available = [s for s in snapshots if s.status == "available" and s.created_at is not None]
        return max(available, key=lambda s: s.created_at.timestamp() if s.created_at else 0.0, default=None)

    def list_manual_snapshots(self, tag_key: str, tag_value: str) -> list[SnapshotView]:
        snapshots = self._paginate_snapshots(SnapshotType="manual")
        return [s for s in snapshots if s.tags.get(tag_key) == tag_value]

    def _paginate_snapshots(self, **kwargs: Any) -> list[SnapshotView]:
        def fetch() -> list[SnapshotView]:
            paginator = self._client.get_paginator("describe_db_cluster_snapshots")
            return [_snapshot(raw) for page in paginator.paginate(**kwargs) for raw in page["DBClusterSnapshots"]]

        return self._call("DescribeDBClusterSnapshots", fetch)

    def copy_snapshot(
        self,
        source_arn: str,
        target_id: str,
        kms_key_id: str | None,
        source_region: str | None,
        tags: dict[str, str],
    ) -> SnapshotView:
        kwargs: dict[str, Any] = {
            "SourceDBClusterSnapshotIdentifier": source_arn,
            "TargetDBClusterSnapshotIdentifier": target_id,
            "CopyTags": False,
            "Tags": _tag_list(tags),
        }
        if kms_key_id:
            kwargs["KmsKeyId"] = kms_key_id
        if source_region and source_region != self.region:
            kwargs["SourceRegion"] = source_region  # botocore builds the PreSignedUrl (GovCloud only honours it)
        raw = self._call("CopyDBClusterSnapshot", lambda: self._client.copy_db_cluster_snapshot(**kwargs))
        return _snapshot(raw["DBClusterSnapshot"])

    def delete_snapshot(self, identifier: str) -> None:
        self._maybe(
            "DeleteDBClusterSnapshot",
            _SNAPSHOT_MISSING,
            lambda: self._client.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=identifier),
        )

    def manual_snapshot_quota(self) -> SnapshotQuota | None:
        """`ManualClusterSnapshots` of DescribeAccountAttributes (Used, Max), or None if the account lists none.
        https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AccountQuota.html"""
        raw = self._call("DescribeAccountAttributes", lambda: self._client.describe_account_attributes())
        for quota in raw.get("AccountQuotas", []):
            if quota.get("AccountQuotaName") == "ManualClusterSnapshots":
                return SnapshotQuota(used=int(quota.get("Used", 0)), max=int(quota.get("Max", 0)))
        return None

    # Clusters and instances ------------------------------------------------------------------------------------
    def find_cluster(self, cluster_id: str) -> ClusterView | None:
        found = self._maybe(
            "DescribeDBClusters",
            _CLUSTER_MISSING,
            lambda: self._client.describe_db_clusters(DBClusterIdentifier=cluster_id),
        )
        items = found["DBClusters"] if found else []
        return _cluster(items[0]) if items else None

    def find_instance(self, instance_id: str) -> InstanceView | None:
        found = self._maybe(
            "DescribeDBInstances",
            _INSTANCE_MISSING,
            lambda: self._client.describe_db_instances(DBInstanceIdentifier=instance_id),
        )
        items = found["DBInstances"] if found else []
        return _instance(items[0]) if items else None

    def delete_instance(self, instance_id: str) -> None:
        self._maybe(
            "DeleteDBInstance",
            _INSTANCE_MISSING,
            lambda: self._client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True),
        )

    def delete_cluster(self, cluster_id: str) -> None:
        self._maybe(
            "DeleteDBCluster",
            _CLUSTER_MISSING,
            lambda: self._client.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True),
        )

    def start_cluster(self, cluster_id: str) -> None:
        self._call("StartDBCluster", lambda: self._client.start_db_cluster(DBClusterIdentifier=cluster_id))

    def stop_cluster(self, cluster_id: str) -> None:
        self._call("StopDBCluster", lambda: self._client.stop_db_cluster(DBClusterIdentifier=cluster_id))

    def rename_cluster(self, cluster_id: str, new_id: str, security_group_ids: list[str] | None = None) -> None:
        """ModifyDBCluster NewDBClusterIdentifier with ApplyImmediately: without it "changes to the DB cluster are
        applied during the next maintenance window" (botocore RDS model, ModifyDBCluster ApplyImmediately;
        https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html). VpcSecurityGroupIds in
        the same call apply with it."""
        kwargs: dict[str, Any] = {
            "DBClusterIdentifier": cluster_id,
            "NewDBClusterIdentifier": new_id,
            "ApplyImmediately": True,
        }
        if security_group_ids:
            kwargs["VpcSecurityGroupIds"] = security_group_ids
        self._call("ModifyDBCluster", lambda: self._client.modify_db_cluster(**kwargs))

    def rename_instance(self, instance_id: str, new_id: str) -> None:
        """ModifyDBInstance NewDBInstanceIdentifier; "The renamed DB instance is not available until the new name
        becomes effective" (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html)."""
        self._call(
            "ModifyDBInstance",
            lambda: self._client.modify_db_instance(
                DBInstanceIdentifier=instance_id, NewDBInstanceIdentifier=new_id, ApplyImmediately=True
            ),
        )

    def restore_cluster(self, request: RestoreRequest) -> ClusterView:
        kwargs = {
            **_new_cluster(request),
            "SnapshotIdentifier": request.snapshot_id,
            "Engine": request.engine,
            **({"EngineVersion": request.engine_version} if request.engine_version else {}),
        }
        raw = self._call(
            "RestoreDBClusterFromSnapshot", lambda: self._client.restore_db_cluster_from_snapshot(**kwargs)
        )
        return _cluster(raw["DBCluster"])

    def restore_to_point_in_time(self, request: RestoreRequest) -> ClusterView:
        """A clone (RestoreType copy-on-write) or a full copy of the source cluster at its latest restorable time.
        It takes the same settings as a snapshot restore but no Engine or EngineVersion (the new cluster runs the
        source's), and RestoreToTime is refused with copy-on-write, so UseLatestRestorableTime is always set
        (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterToPointInTime.html)."""
        source = request.point_in_time
        if source is None:
            raise ValueError("restore_to_point_in_time needs request.point_in_time")
        kwargs = {
            **_new_cluster(request),
            "SourceDBClusterIdentifier": source.cluster_id,
            "RestoreType": source.restore_type,
            "UseLatestRestorableTime": True,
        }
        raw = self._call(
            "RestoreDBClusterToPointInTime", lambda: self._client.restore_db_cluster_to_point_in_time(**kwargs)
        )
        return _cluster(raw["DBCluster"])

    def create_instance(self, request: InstanceRequest) -> InstanceView:
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": request.instance_id,
            "DBClusterIdentifier": request.cluster_id,
            "DBInstanceClass": request.instance_class,
            "Engine": request.engine,
            "PubliclyAccessible": False,
            "Tags": _tag_list(request.tags),
        }
        if request.db_parameter_group:
            kwargs["DBParameterGroupName"] = request.db_parameter_group
        try:
            raw = self._client.create_db_instance(**kwargs)
        except ClientError as exc:
            if error_code(exc) == "DBInstanceAlreadyExists":
                existing = self.find_instance(request.instance_id)
                if existing is not None:
                    return existing
            raise translate(exc, "CreateDBInstance") from None
        return _instance(raw["DBInstance"])

    def set_master_password(self, cluster_id: str, password: str) -> None:
        try:
            self._client.modify_db_cluster(
                DBClusterIdentifier=cluster_id, MasterUserPassword=password, ApplyImmediately=True
            )
        except ClientError as exc:
            # translate() never copies request parameters, so the password cannot leak into the message.
            raise translate(exc, "ModifyDBCluster") from None
