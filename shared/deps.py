"""Builds the production dependencies from the environment, once per container (clients are lazy and cached;
moto only patches clients created after it starts, so nothing is created at import time)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from botocore.config import Config

from shared import observability
from shared.aws.eventbridge import EventBridgePublisher
from shared.aws.evidence_bucket import S3EvidenceStore
from shared.aws.parameters import ParameterStore
from shared.aws.preflight import AwsPreflightProbe
from shared.aws.rds import Rds
from shared.aws.scheduler import SchedulerWakeUps
from shared.aws.secrets import Secrets
from shared.aws.sns import SnsNotifier
from shared.aws.state_store import DynamoStateStore
from shared.clock import Clock, SystemClock
from shared.config import AppConfig, DatabaseConfig, parse_config
from shared.errors import ConfigError
from shared.ports import SqlConnector, StateStore, WakeUpScheduler
from shared.settings import Settings, load_settings
from shared.steps.context import Deps
from shared.wakeups import NoWakeUps

# Standard retry mode retries throttling and 5xx with backoff inside one call before we see an error.
BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


class ClientFactory:
    """One boto3 client per (service, region) per container."""

    def __init__(self, session: boto3.session.Session | None = None) -> None:
        self._session = session or boto3.session.Session()
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(service, region_name=region, config=BOTO_CONFIG)  # type: ignore[call-overload]
        return self._clients[key]


class ConfigSource:
    """The pipelines document: inline (PIPELINES_CONFIG); else the operator's SSM parameter (CONFIG_PARAMETER_NAME,
    never created or updated by the stack, written by `python -m ops config push`); else, only while that parameter
    does not exist, the stack's seed (CONFIG_SEED_PARAMETER_NAME). Read at most every CONFIG_MAX_AGE seconds, so a
    push reaches running containers within minutes without a deploy."""

    CONFIG_MAX_AGE = 300

    def __init__(
        self, settings: Settings, clients: ClientFactory, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clients = clients
        self._monotonic = monotonic
        self._cached: tuple[float, AppConfig] | None = None

    def load(self) -> AppConfig:
        if self._settings.pipelines_config:
            return parse_config(self._settings.pipelines_config)
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self.CONFIG_MAX_AGE:
            return self._cached[1]
        name, raw = self._read()
        try:
            config = parse_config(raw)
        except ConfigError as exc:
            raise ConfigError(f"{exc.message} (document: SSM parameter {name})") from None
        self._cached = (now, config)
        return config

    def _read(self) -> tuple[str, str]:
        """(parameter name, document): the operator's, else the seed. Only a missing parameter falls back."""
        store = ParameterStore(self._clients.client("ssm", self._settings.target_region))
        names = [self._settings.config_parameter_name, self._settings.config_seed_parameter_name]
        for name in filter(None, names):
            raw = store.read(name)
            if raw is not None:
                return name, raw
        raise ConfigError(
            f"no pipelines document: neither {' nor '.join(filter(None, names))} exists; push one with "
            "`python -m ops config push FILE`"
        )


def mysql_connector(db: DatabaseConfig) -> SqlConnector:
    """The production SQL connector, X-Ray traced. Cold-start deferral (docs/architecture.md): only setup-db-users
    opens SQL sessions, so pymysql and its X-Ray patch load on its first connection, not in every function."""
    from shared.sql.mysql import PyMySqlConnector

    observability.trace_module("pymysql")
    return PyMySqlConnector(db.tls, db.connect_timeout_seconds)


def wakeup_scheduler(settings: Settings, clients: ClientFactory) -> WakeUpScheduler:
    """EventBridge Scheduler wake-ups when the stack configures them; otherwise none (the periodic check only)."""
    if not (settings.wakeup_schedule_group and settings.wakeup_role_arn and settings.event_bus_arn):
        return NoWakeUps()
    region = settings.target_region
    return SchedulerWakeUps(
        lambda: clients.client("scheduler", region),  # created on the first wake-up: most invocations ask for none
        settings.wakeup_schedule_group,
        settings.event_bus_arn,
        settings.wakeup_role_arn,
    )


def idempotency_layer(settings: Settings, clients: ClientFactory) -> Any:
    if not settings.idempotency_table_name:
        return None
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table_name,
        boto3_client=clients.client("dynamodb", settings.target_region),
    )
    return persistence, IdempotencyConfig(expires_after_seconds=24 * 3600, raise_on_no_idempotency_key=True)


def build_deps(
    settings: Settings,
    clients: ClientFactory | None = None,
    clock: Clock | None = None,
    sql_for: Any = None,
    logger: Any = None,
    metric: Any = None,
    config: AppConfig | None = None,
    pipeline_metric: Any = None,
    state_metric: Any = None,
) -> Deps:
    clients = clients or ClientFactory()
    config = config or ConfigSource(settings, clients).load()
    region = settings.target_region
    deps = Deps(
        config=config,
        store=DynamoStateStore(
            clients.client("dynamodb", region), settings.state_table_name, settings.audit_table_name
        ),
        bus=EventBridgePublisher(clients.client("events", region), settings.event_bus_name),
        rds_for=lambda r: Rds(clients.client("rds", r), r),
        secrets_for=lambda r: Secrets(clients.client("secretsmanager", r)),
        notifier=SnsNotifier(clients.client("sns", region), settings.sns_topic_arn),
        sql_for=sql_for or mysql_connector,
        clock=clock or SystemClock(),
        idempotency=idempotency_layer(settings, clients),
        probe_for=lambda r: AwsPreflightProbe(
            r, clients.client("rds", r), clients.client("kms", r), clients.client("ec2", r)
        ),
        evidence=S3EvidenceStore(clients.client("s3", region), settings.evidence_bucket_name)
        if settings.evidence_bucket_name
        else None,
        wakeups=wakeup_scheduler(settings, clients),
    )
    if logger is not None:
        deps.log = logger
    if metric is not None:
        deps.metric = metric
    if pipeline_metric is not None:
        deps.pipeline_metric = pipeline_metric
    if state_metric is not None:
        deps.state_metric = state_metric
    return deps


@cache
def _container() -> tuple[ConfigSource, Deps]:
    settings = load_settings()
    clients = ClientFactory()
    source = ConfigSource(settings, clients)
    return source, build_deps(
        settings,
        clients,
        logger=observability.logger,
        metric=observability.count,
        config=source.load(),
        pipeline_metric=observability.count_for_pipeline,
        state_metric=observability.seconds_in_state,
    )


def default_deps() -> Deps:
    """The container's dependencies (built once), with the configuration as of at most CONFIG_MAX_AGE ago."""
    source, deps = _container()
    deps.config = source.load()
    return deps


def fallback_store() -> StateStore | None:
    """The audit table alone, from the environment: for recording a failure to build the dependencies."""
    audit_table = os.environ.get("AUDIT_TABLE_NAME")
    if not audit_table:
        return None
    return DynamoStateStore(boto3.client("dynamodb"), os.environ.get("STATE_TABLE_NAME", ""), audit_table)


def reset_default_deps() -> None:
    """Forget the container's dependencies (tests that change the environment)."""
    _container.cache_clear()
