"""Ports: the small interfaces the steps depend on. Adapters in shared/aws and shared/sql implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol

from pydantic import ConfigDict, Field, model_validator

from shared.base_model import Model
from shared.cluster_settings import ClusterSettings, ServerlessScaling
from shared.events import OutgoingEvent, PipelineDetail
from shared.model import AuditRecord, PipelineWatch, Run, RunStatus


class SnapshotView(Model):
    model_config = ConfigDict(frozen=True)

    identifier: str
    arn: str
    cluster_id: str
    status: str
    snapshot_type: str
    engine: str
    engine_version: str | None = None
    percent_progress: int = 0
    created_at: datetime | None = None
    encrypted: bool = False
    kms_key_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class InstanceView(Model):
    model_config = ConfigDict(frozen=True)

    identifier: str
    cluster_id: str | None
    status: str
    tags: dict[str, str] = Field(default_factory=dict)
    instance_class: str | None = None
    db_parameter_group: str | None = None


class ClusterView(Model):
    model_config = ConfigDict(frozen=True)

    identifier: str
    arn: str
    status: str
    engine: str
    deletion_protection: bool
    member_ids: list[str] = Field(default_factory=list)
    endpoint: str | None = None
    port: int | None = None
    master_username: str | None = None
    engine_lifecycle_support: str | None = None
    storage_type: str | None = None
    cloudwatch_logs_exports: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    preferred_backup_window: str | None = None  # `hh24:mi-hh24:mi` UTC; when the nightly snapshot is taken
    # The settings a new cluster takes over from this one when it replaces it (shared/new_cluster.py).
    db_subnet_group: str | None = None
    security_group_ids: list[str] = Field(default_factory=list)
    db_cluster_parameter_group: str | None = None
    engine_version: str | None = None
    iam_database_authentication: bool | None = None
    backup_retention_days: int | None = None
    serverless_v2: ServerlessScaling | None = None


class SnapshotQuota(Model):
    """The account's manual cluster snapshot quota in one region (DescribeAccountAttributes,
    `ManualClusterSnapshots`: "The used value is the count of the manual DB cluster snapshots in the account")."""

    model_config = ConfigDict(frozen=True)

    used: int
    max: int

    @property
    def full(self) -> bool:
        return self.used >= self.max


RestoreType = Literal["copy-on-write", "full-copy"]


class PointInTimeSource(Model):
    """Where RestoreDBClusterToPointInTime restores from: the source cluster at its latest restorable time, as a
    copy-on-write clone or as a full copy (RestoreType;
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterToPointInTime.html)."""

    model_config = ConfigDict(frozen=True)

    cluster_id: str
    restore_type: RestoreType


class RestoreRequest(Model):
    """A new cluster from a snapshot (`snapshot_id`, RestoreDBClusterFromSnapshot) or from the source cluster
    (`point_in_time`, RestoreDBClusterToPointInTime): exactly one of the two is set."""

    cluster_id: str
    snapshot_id: str | None = None
    point_in_time: PointInTimeSource | None = None
    engine: str
    engine_version: str | None
    db_subnet_group: str | None
    security_group_ids: list[str]
    db_cluster_parameter_group: str | None
    kms_key_id: str | None
    settings: ClusterSettings = Field(default_factory=ClusterSettings)
    iam_database_authentication: bool | None = None
    backup_retention_days: int | None = None
    serverless_v2: ServerlessScaling | None = None
    tags: dict[str, str]

    @model_validator(mode="after")
    def _one_source(self) -> RestoreRequest:
        if (self.snapshot_id is None) == (self.point_in_time is None):
            raise ValueError("a restore comes from a snapshot or from a source cluster: set exactly one")
        return self


class InstanceRequest(Model):
    instance_id: str
    cluster_id: str
    instance_class: str
    engine: str
    db_parameter_group: str | None
    tags: dict[str, str]


class RdsGateway(Protocol):
    """RDS in one region. Methods raise PipelineError (with a transient flag) on AWS errors."""

    region: str

    def find_cluster_snapshot(self, identifier: str) -> SnapshotView | None: ...
    def newest_automated_snapshot(self, cluster_id: str) -> SnapshotView | None: ...
    def list_manual_snapshots(self, tag_key: str, tag_value: str) -> list[SnapshotView]: ...
    def copy_snapshot(
        self,
        source_arn: str,
        target_id: str,
        kms_key_id: str | None,
        source_region: str | None,
        tags: dict[str, str],
    ) -> SnapshotView: ...
    def delete_snapshot(self, identifier: str) -> None: ...
    def manual_snapshot_quota(self) -> SnapshotQuota | None: ...
    def find_cluster(self, cluster_id: str) -> ClusterView | None: ...
    def find_instance(self, instance_id: str) -> InstanceView | None: ...
    def delete_instance(self, instance_id: str) -> None: ...
    def delete_cluster(self, cluster_id: str) -> None: ...
    def start_cluster(self, cluster_id: str) -> None: ...
    def stop_cluster(self, cluster_id: str) -> None: ...
    # Renames apply at once (ApplyImmediately); the cluster shows `renaming` meanwhile. `security_group_ids`, when
    # given, are applied in the same ModifyDBCluster call, so the new name never points at the old groups.
    def rename_cluster(self, cluster_id: str, new_id: str, security_group_ids: list[str] | None = None) -> None: ...
    def rename_instance(self, instance_id: str, new_id: str) -> None: ...
    def restore_cluster(self, request: RestoreRequest) -> ClusterView: ...
    def restore_to_point_in_time(self, request: RestoreRequest) -> ClusterView: ...
    def create_instance(self, request: InstanceRequest) -> InstanceView: ...
    def set_master_password(self, cluster_id: str, password: str) -> None: ...


class StateStore(Protocol):
    def create_run(self, run: Run, lock_key: str, audit: AuditRecord) -> None: ...
    def get_run(self, run_id: str) -> Run | None: ...
    def lock_holder(self, lock_key: str) -> str | None: ...
    def write(
        self, run: Run, expected: tuple[RunStatus, int], audit: AuditRecord | None, release_lock: str | None = None
    ) -> Run: ...
    # Every run that needs attention (active, or finished and not yet notified) whose next check is due at `now`,
    # whatever its status, oldest first: one query of the sparse due index.
    def due_runs(self, now: datetime, limit: int) -> list[Run]: ...
    def audit(self, record: AuditRecord) -> None: ...
    def audit_trail(self, subject: str) -> list[AuditRecord]: ...
    def recent_runs(self, pipeline: str | None, limit: int) -> list[Run]: ...
    # The per-pipeline watch item (shared.steps.trigger_watch). `put_watch` is conditional: `expected_version`
    # None creates it (it must not exist), otherwise it must still be at that version; the stored version is
    # then 0 or expected + 1. Raises StaleWatchError when the condition fails.
    def get_watch(self, pipeline: str) -> PipelineWatch | None: ...
    # Every named pipeline's watch that exists, in as few reads as the store allows (the check reads them all).
    def get_watches(self, pipelines: Sequence[str]) -> dict[str, PipelineWatch]: ...
    def put_watch(self, watch: PipelineWatch, expected_version: int | None) -> PipelineWatch: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[OutgoingEvent]) -> None: ...


class WakeUpScheduler(Protocol):
    """One-time wake-ups (shared/wakeups.py): put `detail` as a RunCheckDue on the pipeline bus at `at`.
    Returns True when created, False when a schedule of that name is already there (a retried invocation).
    Raises PipelineError on other AWS errors."""

    def wake_at(self, name: str, at: datetime, detail: PipelineDetail) -> bool: ...


class SecretsGateway(Protocol):
    def get_json(self, secret_id: str) -> dict[str, str]: ...
    def put_json(self, secret_id: str, value: dict[str, str]) -> None: ...


class Notifier(Protocol):
    def notify(self, subject: str, message: str, attributes: dict[str, str]) -> None: ...


class SqlSession(Protocol):
    flavor: str  # "mysql" or "mariadb"

    def execute(self, statement: str, params: Sequence[object] = (), timeout: float | None = None) -> None:
        """Run one statement. With `timeout` (seconds), a statement still running then is cancelled on the
        server and `StatementTimedOut` raised, so the caller can record that before its own time runs out."""
        ...

    def query(
        self, statement: str, params: Sequence[object] = (), timeout: float | None = None
    ) -> list[tuple[object, ...]]:
        """Rows of one statement; `timeout` as for `execute`."""
        ...

    def close(self) -> None: ...


class SqlConnector(Protocol):
    def connect(self, host: str, port: int, user: str, password: str) -> SqlSession: ...


# ---- Preflight observations (shared.preflight): read-only, raising CannotCheck where a fact is not observable ----
class KeyView(Model):
    """A KMS key as DescribeKey sees it."""

    model_config = ConfigDict(frozen=True)

    arn: str
    key_id: str
    enabled: bool
    state: str  # KeyState: Enabled, Disabled, PendingDeletion, ...

    @property
    def region(self) -> str:
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""


class KeyGrantView(Model):
    model_config = ConfigDict(frozen=True)

    grantee: str
    operations: list[str]


class SubnetGroupView(Model):
    model_config = ConfigDict(frozen=True)

    name: str
    vpc_id: str


class PreflightProbe(Protocol):
    """What the preflight observes in one region besides the RDS gateway. Methods raise CannotCheck when the fact
    cannot be read (the API is missing or denied), PipelineError on other AWS errors."""

    region: str

    def describe_key(self, key_id: str) -> KeyView | None: ...
    def key_policy(self, key_id: str) -> str: ...
    def key_grants(self, key_id: str) -> list[KeyGrantView]: ...
    def subnet_group(self, name: str) -> SubnetGroupView | None: ...
    def security_group_vpcs(self, group_ids: list[str]) -> dict[str, str]: ...
    def account_quotas(self) -> dict[str, SnapshotQuota]: ...
    def manual_snapshot_statuses(self) -> list[str]: ...


class PolicySimulator(Protocol):
    """IAM policy simulation of a principal (global). Raises CannotCheck when simulation is not available."""

    def simulate(self, principal_arn: str, action: str, resource_arn: str) -> tuple[bool, list[str]]:
        """(allowed, the context keys the decision needed but did not get)."""
        ...


class EvidenceStore(Protocol):
    """Where the evidence of each finished run is kept (an S3 bucket named in the stack), when one is configured."""

    def put(self, key: str, body: str) -> None: ...
