"""What a restore from a snapshot does not carry over by itself, and where each setting of a restore comes from.

RestoreDBClusterFromSnapshot (botocore RDS model = RDS API Reference):
- `EngineLifecycleSupport`: "By default, this value is set to open-source-rds-extended-support, which enrolls your
  DB cluster into Amazon RDS Extended Support" (charged once the major version is past standard support);
- `StorageType`: "Default: aurora", so an I/O-Optimized (`aurora-iopt1`) target silently becomes Standard;
- `EnableCloudwatchLogsExports`: "The list of logs that the restored DB cluster is to export"; none unless passed.
Each setting is taken from the pipeline's configuration when set there, else from the previous target (read by
delete-rds before it deletes it), else AWS's default applies; the restore's audit line says which, so nothing
changes silently.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from shared.base_model import Model

EngineLifecycle = Literal["open-source-rds-extended-support", "open-source-rds-extended-support-disabled"]
StorageType = Literal["aurora", "aurora-iopt1"]
ENGINE_LIFECYCLES: tuple[str, ...] = ("open-source-rds-extended-support", "open-source-rds-extended-support-disabled")
STORAGE_TYPES: tuple[str, ...] = ("aurora", "aurora-iopt1")
# Aurora MySQL: audit, error, general, instance, slowquery, iam-db-auth-error; Aurora PostgreSQL: instance,
# postgresql, iam-db-auth-error (EnableCloudwatchLogsExports, RestoreDBClusterFromSnapshot).
LOG_TYPES = frozenset({"audit", "error", "general", "instance", "slowquery", "iam-db-auth-error", "postgresql"})

AWS_DEFAULTS = {
    "engine_lifecycle_support": "AWS default open-source-rds-extended-support: enrolled in RDS Extended Support",
    "storage_type": "AWS default aurora (Standard)",
    "cloudwatch_logs_exports": "AWS default: no log exported",
}
LABELS = {
    "engine_lifecycle_support": "extended support",
    "storage_type": "storage",
    "cloudwatch_logs_exports": "log exports",
}


class ClusterSettings(Model):
    """Restore settings; None means "not set here"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine_lifecycle_support: EngineLifecycle | None = None
    storage_type: StorageType | None = None
    cloudwatch_logs_exports: list[str] | None = None

    @field_validator("cloudwatch_logs_exports")
    @classmethod
    def _log_types(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - LOG_TYPES)
        if unknown:
            raise ValueError(f"unknown CloudWatch log types {unknown}; Aurora exports {sorted(LOG_TYPES)}")
        return value


def of_cluster(engine_lifecycle_support: str | None, storage_type: str | None, exports: list[str]) -> ClusterSettings:
    """The settings a described cluster has now. A value this table does not know (e.g. a storage type of another
    cluster kind) is left out, so it can never make a restore request invalid."""
    return ClusterSettings(
        engine_lifecycle_support=engine_lifecycle_support if engine_lifecycle_support in ENGINE_LIFECYCLES else None,
        storage_type=storage_type if storage_type in STORAGE_TYPES else None,
        cloudwatch_logs_exports=sorted(set(exports) & LOG_TYPES),
    )


def resolve(configured: ClusterSettings, previous: ClusterSettings | None) -> tuple[ClusterSettings, str]:
    """The settings to restore with, and one line saying where each came from (for the audit)."""
    chosen: dict[str, object] = {}
    origins = []
    for name in ClusterSettings.model_fields:
        value, origin = getattr(configured, name), "configuration"
        if value is None and previous is not None:
            value, origin = getattr(previous, name), "previous target"
        if value is None:
            origins.append(f"{LABELS[name]}: {AWS_DEFAULTS[name]}")
            continue
        chosen[name] = value
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        origins.append(f"{LABELS[name]}: {shown or 'none'} ({origin})")
    return ClusterSettings.model_validate(chosen), "; ".join(origins)


# ---- the previous target's own settings (read before the new cluster is made) ------------------------------------
class ServerlessScaling(Model):
    """Aurora capacity units, in steps of 0.5. Decimal, not float: the run is stored in DynamoDB, whose boto3
    serializer refuses floats (a Decimal is written as a JSON string by the run's model_dump)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    min_capacity: Decimal
    max_capacity: Decimal


class TargetSettings(Model):
    """What the current target is configured with, read onto the run (`Run.previous_target`) before the new cluster
    is made, so the new cluster gets the same (the configuration overrides field by field). `restore` holds what a
    restore request would otherwise drop (see ClusterSettings)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    cluster_id: str
    arn: str
    db_subnet_group: str | None = None
    security_group_ids: list[str] = []
    db_cluster_parameter_group: str | None = None
    db_instance_parameter_group: str | None = None
    instance_class: str | None = None
    instance_count: int = 0
    engine_version: str | None = None
    iam_database_authentication: bool | None = None
    backup_retention_days: int | None = None
    serverless_v2: ServerlessScaling | None = None
    # A factory, not an instance: an instance here would build the model's schema at import (cold start).
    restore: ClusterSettings = Field(default_factory=ClusterSettings)
    tags: dict[str, str] = {}  # the target's own tags (not the pipeline's reserved ones)
