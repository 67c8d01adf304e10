"""What a run's new cluster is made with, and where each setting comes from.

The current target's own settings are read onto the run before the new cluster is made (`Run.previous_target`);
the configuration overrides them field by field; what neither says is left to AWS's default (or, for the instances,
to DEFAULT_INSTANCE_CLASS / DEFAULT_INSTANCE_COUNT). The restore's audit line lists the origin of each setting, so
nothing changes silently. With no target to read (a first run), the network settings must be configured: without
DBSubnetGroupName and VpcSecurityGroupIds (both optional in RestoreDBClusterFromSnapshot,
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterFromSnapshot.html) the copy would
land in the default VPC with its default security group, so the run refuses instead.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from shared.base_model import Model
from shared.cluster_settings import ClusterSettings, ServerlessScaling, TargetSettings, of_cluster, resolve
from shared.config import DEFAULT_INSTANCE_CLASS, DEFAULT_INSTANCE_COUNT, PipelineConfig
from shared.errors import SafetyViolation
from shared.model import Run
from shared.naming import ownership_tags
from shared.ports import ClusterView, InstanceView

_RESERVED_TAG_PREFIXES = ("aws:", "aurora-restore:")


class NewCluster(Model):
    """The settings of the cluster a run creates (the target's own security groups in `security_group_ids`; a
    `swap` run's staging cluster has only the quarantine groups until the swap)."""

    model_config = ConfigDict(frozen=True)

    db_subnet_group: str | None
    security_group_ids: list[str]
    db_cluster_parameter_group: str | None
    db_instance_parameter_group: str | None
    instance_class: str
    instance_count: int
    iam_database_authentication: bool | None
    backup_retention_days: int | None
    serverless_v2: ServerlessScaling | None
    restore: ClusterSettings
    tags: dict[str, str]
    origins: str  # one line: each setting and where it came from, for the audit

    def target_security_groups(self, target_cluster_id: str) -> list[str]:
        """The groups a `swap` gives the new cluster when it takes the target name. Asked before anything is made
        or renamed: without them the swap could not finish, and must not start."""
        if not self.security_group_ids:
            raise SafetyViolation(
                "NoTargetSecurityGroups",
                f"no security groups to give {target_cluster_id} after the swap (none configured, none read from "
                "the previous target); nothing was renamed. Set security_group_ids in the pipeline's configuration.",
            )
        return self.security_group_ids


def read_target(cluster: ClusterView, instances: list[InstanceView]) -> TargetSettings:
    """The current target's settings, as `plan` takes them over."""
    first = instances[0] if instances else None
    return TargetSettings(
        cluster_id=cluster.identifier,
        arn=cluster.arn,
        db_subnet_group=cluster.db_subnet_group,
        security_group_ids=list(cluster.security_group_ids),
        db_cluster_parameter_group=cluster.db_cluster_parameter_group,
        db_instance_parameter_group=first.db_parameter_group if first else None,
        instance_class=first.instance_class if first else None,
        instance_count=len(instances),
        engine_version=cluster.engine_version,
        iam_database_authentication=cluster.iam_database_authentication,
        backup_retention_days=cluster.backup_retention_days,
        serverless_v2=cluster.serverless_v2,
        restore=_restore_settings(cluster),
        tags={k: v for k, v in cluster.tags.items() if not k.lower().startswith(_RESERVED_TAG_PREFIXES)},
    )


def _restore_settings(cluster: ClusterView) -> ClusterSettings:
    return of_cluster(cluster.engine_lifecycle_support, cluster.storage_type, cluster.cloudwatch_logs_exports)


def major_version(engine_version: str | None) -> str | None:
    """`8.0.mysql_aurora.3.05.2` -> `8.0`: parameter groups belong to one family (aurora-mysql8.0, ...)."""
    return engine_version.split(".mysql_aurora", 1)[0].split(".aurora", 1)[0] if engine_version else None


def plan(pipeline: PipelineConfig, run: Run, engine_version: str | None = None) -> NewCluster:
    """The new cluster's settings: configuration, else the previous target's, else the default. Raises
    SafetyViolation when there is no target to read and the network is not configured. `engine_version` is the new
    cluster's (the snapshot's or the configured one): the previous target's parameter groups are taken over only for
    the same major version, since a parameter group serves one engine family (a restore naming another family's
    group is refused by RDS)."""
    previous = run.previous_target
    if previous is None and (not pipeline.db_subnet_group or not pipeline.security_group_ids):
        raise SafetyViolation(
            "NetworkNotConfigured",
            f"there is no target {run.target_cluster_id} to take the network settings from and the pipeline "
            "configures no db_subnet_group and security_group_ids; refusing to restore into the default VPC. "
            "Set both in the pipeline's configuration.",
        )
    chosen: dict[str, Any] = {}
    origins: list[str] = []

    def pick(name: str, label: str, configured: Any, captured: Any, default: Any = None) -> None:
        if configured not in (None, []):
            value, origin = configured, "configuration"
        elif captured not in (None, []):
            value, origin = captured, "previous target"
        else:
            value, origin = default, "default"
        chosen[name] = value
        shown = ", ".join(value) if isinstance(value, list) else ("-" if value is None else str(value))
        origins.append(f"{label}: {shown} ({origin})")

    def was(name: str) -> Any:
        return getattr(previous, name) if previous is not None else None

    new_major = major_version(pipeline.engine_version or engine_version)
    old_major = major_version(previous.engine_version) if previous is not None else None
    same_family = new_major is None or old_major is None or new_major == old_major

    def was_in_family(name: str) -> Any:
        if same_family:
            return was(name)
        origins.append(f"{name}: the previous target's not taken over (engine {old_major}, new cluster {new_major})")
        return None

    instances = pipeline.instances
    pick("db_subnet_group", "subnet group", pipeline.db_subnet_group, was("db_subnet_group"))
    pick("security_group_ids", "security groups", pipeline.security_group_ids, was("security_group_ids"), [])
    pick(
        "db_cluster_parameter_group",
        "cluster parameters",
        pipeline.db_cluster_parameter_group,
        was_in_family("db_cluster_parameter_group"),
    )
    pick(
        "db_instance_parameter_group",
        "instance parameters",
        instances.db_parameter_group,
        was_in_family("db_instance_parameter_group"),
    )
    pick("instance_class", "instance class", instances.instance_class, was("instance_class"), DEFAULT_INSTANCE_CLASS)
    pick("instance_count", "instances", instances.count, was("instance_count") or None, DEFAULT_INSTANCE_COUNT)
    if previous is not None and previous.engine_version and not pipeline.engine_version:
        # Not taken over: a restore cannot go below the snapshot's version, and production may be newer by now.
        origins.append(f"engine version: the snapshot's unless configured (previous target: {previous.engine_version})")
    pick("iam_database_authentication", "IAM auth", None, was("iam_database_authentication"))
    pick("backup_retention_days", "backup retention days", None, was("backup_retention_days"))
    pick("serverless_v2", "Serverless v2", None, was("serverless_v2"))
    restore, restore_origins = resolve(
        pipeline.restore_settings, previous.restore if previous else run.previous_target_settings
    )
    tags = {
        **(previous.tags if previous else {}),
        **pipeline.tags,
        **ownership_tags(pipeline.name, run.run_id),
    }
    return NewCluster(**chosen, restore=restore, tags=tags, origins="; ".join([*origins, restore_origins]))
