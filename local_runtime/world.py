"""Builds a local AWS world in moto from `template.yaml` plus a production-like RDS estate, for the demo and
the end-to-end tests: the stack's tables, bus, topic, key and secrets; a source cluster with an automated
snapshot; the previous target cluster (owned, with instances); older copies and someone else's snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.rds.models import rds_backends

from local_runtime.runtime import LocalRuntime
from local_runtime.sample_pipeline import DEFAULT_PIPELINE, SOURCE_REGION, TARGET_REGION, default_config
from local_runtime.template_rules import load_template, parameter_defaults, schedule_group_names, table_definitions
from shared.clock import iso
from shared.config import DEFAULT_INSTANCE_CLASS, DEFAULT_INSTANCE_COUNT, AppConfig, parse_config
from shared.naming import MANAGED_BY, TAG_MANAGED_BY, TAG_PIPELINE, TAG_RUN, instance_id
from shared.settings import Settings

__all__ = ["DEFAULT_PIPELINE", "SOURCE_REGION", "TARGET_REGION", "World", "default_config"]

BUS_NAME = "aurora-restore-dev"
USER_PASSWORDS = {"app": "App-pass-9f8e7d6c5b4a", "analyst": "Analyst-pass-1a2b3c4d5e"}


# Stands for the default VPC's security group of the region, which AWS gives a cluster created without one.
DEFAULT_VPC_SECURITY_GROUP = "sg-0defa017c0ffee000"


@cache
def _client(service: str, region: str) -> Any:
    """One client per service and region for every world of the process: making one takes tens of milliseconds and
    a world asks for a dozen. moto answers a client's requests whenever a mock is active, whenever it was made."""
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


class World:
    def __init__(
        self, config: dict[str, Any], account: str = DEFAULT_ACCOUNT_ID, master_users: dict[str, str] | None = None
    ) -> None:
        self.raw_config = config
        self.master_users = master_users or {}  # pipeline -> its clusters' master user ("admin" unless named)
        self.config: AppConfig = parse_config(config)
        self.account = account
        self.target_region = self.config.pipelines[0].target_region
        template = load_template()
        self.params = parameter_defaults(template)
        self.tables = table_definitions(template)
        [self.wakeup_group] = schedule_group_names(template)
        self.topic_arn = ""
        self.bus_arn = f"arn:aws:events:{self.target_region}:{account}:event-bus/{BUS_NAME}"
        self.queue_url = ""
        self.config_parameter = "/aurora-restore/dev/pipelines"  # the operator's document (`ops config push`)

    def master_user(self, pipeline: str) -> str:
        return self.master_users.get(pipeline, "admin")

    def client(self, service: str, region: str | None = None) -> Any:
        return _client(service, region or self.target_region)

    # The stack ----------------------------------------------------------------------------------------------------
    def build(self, *, previous_target: bool = True, old_copies: int = 2) -> World:
        ddb = self.client("dynamodb")
        for args in self.tables.values():
            ddb.create_table(**args)
        self.bus_arn = self.client("events").create_event_bus(Name=BUS_NAME)["EventBusArn"]
        self.client("scheduler").create_schedule_group(Name=self.wakeup_group)
        sns, sqs = self.client("sns"), self.client("sqs")
        self.topic_arn = sns.create_topic(Name="aurora-restore-notifications")["TopicArn"]
        self.queue_url = sqs.create_queue(QueueName="notifications-capture")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
        self.client("ssm").put_parameter(Name=self.config_parameter, Type="String", Value=json.dumps(self.raw_config))
        for pipeline in self.config.pipelines:
            self._pipeline_estate(pipeline.name, previous_target, old_copies)
        self._settle()
        return self

    def _pipeline_estate(self, name: str, previous_target: bool, old_copies: int) -> None:
        pipeline = self.config.pipeline(name)
        assert pipeline is not None
        kms = self.client("kms", pipeline.target_region)
        aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
        if pipeline.kms_key_id.startswith("alias/") and pipeline.kms_key_id not in aliases:
            key_id = kms.create_key(Description="aurora-restore")["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName=pipeline.kms_key_id, TargetKeyId=key_id)
        secrets = self.client("secretsmanager", pipeline.target_region)
        existing = {s["Name"] for s in secrets.list_secrets()["SecretList"]}
        if pipeline.database.master_secret_id not in existing:
            secrets.create_secret(
                Name=pipeline.database.master_secret_id,
                SecretString=json.dumps({"username": self.master_user(name), "password": "initial-unknown"}),
            )
        for user in pipeline.database.users:
            if user.password_secret_id not in existing:
                existing.add(user.password_secret_id)  # two users may share a secret
                secrets.create_secret(
                    Name=user.password_secret_id,
                    SecretString=json.dumps(
                        {"username": user.name, "password": USER_PASSWORDS.get(user.name, f"{user.name}-Pw-0123456789")}
                    ),
                )
        self._network(name)
        source = self.client("rds", pipeline.source_region)
        if not source.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [pipeline.source_cluster_id]}])[
            "DBClusters"
        ]:
            source.create_db_cluster(
                DBClusterIdentifier=pipeline.source_cluster_id,
                Engine="aurora-mysql",
                EngineVersion="8.0.mysql_aurora.3.05.2",
                MasterUsername=self.master_user(name),
                MasterUserPassword="production-secret-0",
                StorageEncrypted=True,
                DeletionProtection=True,
                Tags=[{"Key": "environment", "Value": "production"}],
            )
            # moto stamps an automated snapshot with the wall-clock minute; the simulated night makes its own.
            self._drop_automated(pipeline.source_region, pipeline.source_cluster_id)
        target = self.client("rds", pipeline.target_region)
        if previous_target:
            target.create_db_cluster(
                DBClusterIdentifier=pipeline.target_cluster_id,
                Engine="aurora-mysql",
                MasterUsername=self.master_user(name),
                MasterUserPassword="previous-night-0",
                # A real cluster always has a security group (its VPC's default one when none is named); moto
                # leaves the list empty unless given one.
                VpcSecurityGroupIds=pipeline.security_group_ids or [DEFAULT_VPC_SECURITY_GROUP],
                Tags=[{"Key": TAG_PIPELINE, "Value": pipeline.name}, {"Key": TAG_RUN, "Value": "previous-night"}],
            )
            for index in range(1, (pipeline.instances.count or DEFAULT_INSTANCE_COUNT) + 1):
                target.create_db_instance(
                    DBInstanceIdentifier=instance_id(pipeline.target_cluster_id, index),
                    DBClusterIdentifier=pipeline.target_cluster_id,
                    Engine="aurora-mysql",
                    DBInstanceClass=pipeline.instances.instance_class or DEFAULT_INSTANCE_CLASS,
                    Tags=[{"Key": TAG_PIPELINE, "Value": pipeline.name}],
                )
            # The restore reuses the identifier. moto names a new cluster's automated snapshot after the cluster and
            # the UTC minute, so a restore in the same minute would collide (DBClusterSnapshotAlreadyExistsFault, a
            # moto bug); real AWS deletes automated backups with the cluster by default (DeleteAutomatedBackups,
            # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBCluster.html).
            self._drop_automated(pipeline.target_region, pipeline.target_cluster_id)
        anchor = pipeline.target_cluster_id if previous_target else None
        for index in range(old_copies):
            self._old_copy(pipeline.name, pipeline.target_region, pipeline.source_cluster_id, anchor, index)

    def _network(self, name: str) -> None:
        """The target's VPC: the pipeline's DB subnet group (two subnets in two AZs, as RDS requires) and its
        security groups, under the ids the pipeline document names (moto draws random ids; the document is fixed)."""
        pipeline = self.config.pipeline(name)
        assert pipeline is not None
        if not pipeline.db_subnet_group:
            return
        region = pipeline.target_region
        ec2, rds = self.client("ec2", region), self.client("rds", region)
        if pipeline.db_subnet_group in {
            g["DBSubnetGroupName"] for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        }:
            return  # another pipeline of this world shares it
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{index}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
                "SubnetId"
            ]
            for index, zone in enumerate("ab")
        ]
        rds.create_db_subnet_group(
            DBSubnetGroupName=pipeline.db_subnet_group,
            DBSubnetGroupDescription="aurora-restore target",
            SubnetIds=subnets,
        )
        backend = ec2_backends[self.account][region]
        for group_id in pipeline.security_group_ids:
            drawn = ec2.create_security_group(
                GroupName=f"aurora-restore-{group_id}", Description="aurora-restore target", VpcId=vpc
            )["GroupId"]
            group = backend.groups[vpc].pop(drawn)
            group.id = group.group_id = group_id
            group.arn = group.arn.replace(drawn, group_id)
            backend.groups[vpc][group_id] = group

    def _settle(self) -> None:
        """Everything the world starts with is `available` (the runtime's lifecycle keeps moto from flipping it)."""
        for backend in rds_backends[self.account].values():
            for cluster in backend.clusters.values():
                cluster.status = "available"

    def _drop_automated(self, region: str, cluster_id: str) -> None:
        rds = self.client("rds", region)
        for snapshot in rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster_id, SnapshotType="automated")[
            "DBClusterSnapshots"
        ]:
            rds_backends[self.account][region].cluster_snapshots.pop(snapshot["DBClusterSnapshotIdentifier"], None)

    def _old_copy(self, pipeline: str, region: str, source_cluster: str, anchor: str | None, index: int) -> None:
        """Copies from earlier nights (ours) and a snapshot somebody else made (never to be touched)."""
        rds = self.client("rds", region)
        cluster = anchor
        if cluster is None:
            cluster = f"{pipeline}-anchor"
        if not rds.describe_db_clusters(Filters=[{"Name": "db-cluster-id", "Values": [cluster]}])["DBClusters"]:
            rds.create_db_cluster(
                DBClusterIdentifier=cluster,
                Engine="aurora-mysql",
                MasterUsername="admin",
                MasterUserPassword="anchor-password-0",
            )
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=cluster,
            DBClusterSnapshotIdentifier=f"ar-{pipeline}-old-{index}",
            Tags=[
                {"Key": TAG_PIPELINE, "Value": pipeline},
                {"Key": TAG_MANAGED_BY, "Value": MANAGED_BY},
                {"Key": TAG_RUN, "Value": f"old-{index}"},
            ],
        )
        # Earlier nights, in order (old-0 is the oldest): retention must not depend on moto's wall-clock stamps.
        backend = rds_backends[self.account][region]
        backend.cluster_snapshots[f"ar-{pipeline}-old-{index}"].created = datetime.now(UTC).replace(
            tzinfo=None
        ) - timedelta(days=10 - index)
        if index == 0:
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier=cluster,
                DBClusterSnapshotIdentifier=f"{pipeline}-manual-keep-me",
                Tags=[{"Key": "owner", "Value": "dba-team"}],
            )

    def settings(self, **overrides: str) -> Settings:
        env = {
            "ENVIRONMENT": "dev",
            "STATE_TABLE_NAME": self.tables["StateTable"]["TableName"],
            "AUDIT_TABLE_NAME": self.tables["AuditTable"]["TableName"],
            "IDEMPOTENCY_TABLE_NAME": self.tables["IdempotencyTable"]["TableName"],
            "EVENT_BUS_NAME": BUS_NAME,
            "EVENT_BUS_ARN": self.bus_arn,
            "WAKEUP_SCHEDULE_GROUP": self.wakeup_group,
            "WAKEUP_ROLE_ARN": f"arn:aws:iam::{self.account}:role/aurora-restore-dev-wakeups",
            "SNS_TOPIC_ARN": self.topic_arn,
            "TARGET_REGION": self.target_region,
            "SOURCE_REGION": self.config.pipelines[0].source_region,
            "CONFIG_PARAMETER_NAME": self.config_parameter,
            "CONFIG_SEED_PARAMETER_NAME": f"{self.config_parameter}.seed",
            **overrides,
        }
        return Settings.model_validate(env)

    # Triggers and observations --------------------------------------------------------------------------------------
    def nightly_snapshot(
        self,
        runtime: LocalRuntime,
        pipeline_name: str | None = None,
        at: datetime | None = None,
        *,
        deliver: bool = True,
    ) -> str:
        """Production's automated backup finishes: moto gets the snapshot, the runtime the RDS-EVENT-0169 (unless
        `deliver` is False: the event is lost; `snapshot_event` rebuilds it, e.g. to replay it later)."""
        pipeline = self.config.pipeline(pipeline_name) if pipeline_name else self.config.pipelines[0]
        assert pipeline is not None
        moment = at or runtime.clock.now()
        snapshot_id = f"rds:{pipeline.source_cluster_id}-{moment:%Y-%m-%d-%H-%M}"
        backend = runtime.rds_backend(pipeline.source_region)
        backend.cluster_snapshots.pop(snapshot_id, None)  # moto's own wall-clock backup may share the name
        snapshot = backend.create_auto_cluster_snapshot(pipeline.source_cluster_id, snapshot_id)
        snapshot.created = moment.replace(tzinfo=None)  # moto stamps wall-clock time; AWS stamps the backup time
        if deliver:
            envelope = self.snapshot_event(pipeline.source_region, snapshot_id, moment)
            runtime.publish("default", envelope, runtime.durations.rds_event_latency)
        return snapshot_id

    def snapshot_event(
        self, region: str, snapshot_id: str, moment: datetime, account: str | None = None
    ) -> dict[str, Any]:
        """The RDS-EVENT-0169 envelope of an automated cluster snapshot (of `account`, default the world's)."""
        account = account or self.account
        arn = f"arn:aws:rds:{region}:{account}:cluster-snapshot:{snapshot_id}"
        return {
            "version": "0",
            "id": f"snap-{snapshot_id}",
            "detail-type": "RDS DB Cluster Snapshot Event",
            "source": "aws.rds",
            "account": account,
            "time": iso(moment),
            "region": region,
            "resources": [arn],
            "detail": {
                "EventCategories": ["backup"],
                "SourceType": "CLUSTER_SNAPSHOT",
                "SourceArn": arn,
                "Date": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "Message": "Automated cluster snapshot created",
                "SourceIdentifier": snapshot_id,
                "EventID": "RDS-EVENT-0169",
            },
        }

    def notifications(self) -> list[str]:
        sqs = self.client("sqs")
        messages: list[str] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(message["Body"])
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
