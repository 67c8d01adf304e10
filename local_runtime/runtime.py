"""The local runtime: the real handlers, moto for AWS, a simulated clock, an RDS lifecycle emulator and a router
that delivers each event to the functions whose `template.yaml` rules match it.

What AWS does and moto does not, the emulator adds: after each RDS call it moves the resource through its
lifecycle on the simulated clock and emits the RDS events AWS would emit (and none where AWS emits none: a
cluster-snapshot copy finishing is silent). Faults can drop, duplicate or delay any event, inject AWS errors,
or crash a handler between its AWS call and its state write; Lambda's async retries are emulated.
"""

from __future__ import annotations

import heapq
import importlib
import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from botocore.awsrequest import AWSResponse
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import DBCluster, rds_backends

from local_runtime.template_rules import FunctionSpec, Rule, functions, load_template, parameter_defaults, resolve
from shared.clock import iso
from shared.deps import ClientFactory, build_deps
from shared.settings import Settings
from shared.sql.mysql import PyMySqlConnector
from shared.steps.context import Deps
from shared.transitions import Step

LAMBDA_RETRY_DELAYS = (60, 120)  # Lambda async invocation: 2 retries, ~1 and ~2 minutes apart
LOCAL_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1})  # faults surface to the pipeline


class SimulatedCrash(BaseException):  # noqa: N818 - models a Lambda crash (timeout/OOM), not an error
    """Raised inside a handler to emulate the container dying: no except-block of the handler runs."""


class SimClock:
    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment


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


@dataclass
class Fault:
    """Applies to events whose EventID (RDS) or detail-type (pipeline) equals `match`."""

    match: str
    action: str  # "drop" | "duplicate" | "delay" | "concurrent" (a second delivery runs inside the first)
    times: int = 1_000_000
    delay: int = 0


@dataclass
class InjectedError:
    operation: str  # e.g. "CopyDBClusterSnapshot"
    code: str
    times: int = 1
    status: int = 400
    message: str = "injected by the local runtime"


@dataclass
class Delivery:
    at: datetime
    bus: str
    detail_type: str
    key: str
    step: str
    attempt: int
    result: str
    detail: str = ""


@dataclass(order=True)
class _Item:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False)


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@contextmanager
def rds_lifecycle() -> Iterator[None]:
    """moto flips a cluster from `creating` to `available` on its first read; let the emulator own the status."""
    sticky = property(lambda self: self._status, lambda self, value: setattr(self, "_status", value))
    with mock.patch.object(DBCluster, "status", sticky):
        yield


class LocalRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        start: datetime | None = None,
        durations: Durations | None = None,
        faults: list[Fault] | None = None,
        errors: list[InjectedError] | None = None,
        crash_after: set[str] | None = None,
        copy_stuck_at: int | None = None,
        databases: dict[str, Any] | None = None,
        default_database: Any = None,
        account: str = DEFAULT_ACCOUNT_ID,
        idempotency: bool = True,
        template: dict[str, Any] | None = None,
        apply_master_password: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = SimClock(start or datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
        self.durations = durations or Durations()
        self.faults = list(faults or [])
        self.errors = list(errors or [])
        self.crash_after = set(crash_after or ())
        self.copy_stuck_at = copy_stuck_at
        self.apply_master_password = apply_master_password  # False: the database keeps refusing the new password
        self.databases = dict(databases or {})
        self.default_database = default_database
        self.account = account
        self.deliveries: list[Delivery] = []
        self.on_failure: list[Delivery] = []
        self.rds_calls: list[tuple[datetime, str, str]] = []  # (time, region, operation)
        self.metrics: list[tuple[str, float]] = []
        self._queue: list[_Item] = []
        self._seq = itertools.count()
        self._crash_pending = False
        self._doomed: dict[tuple[str, str], Any] = {}
        self._interleave: Callable[[], None] | None = None
        self._template = template or load_template()
        self._specs = functions(self._template)
        self._handlers = {spec.step: self._load_handler(spec) for spec in self._specs}
        self._clients = _HookedClientFactory(self)
        self.deps: Deps = build_deps(
            settings,
            clients=self._clients,
            clock=self.clock,
            sql_for=self._sql_for,
            metric=lambda name, value: self.metrics.append((name, value)),
        )
        self.deps.store = _CrashingStore(self.deps.store, self)
        if not idempotency:
            self.deps.idempotency = None
        self._tick_seconds = self._schedule_seconds()
        self._next_tick = self.clock.now() + timedelta(seconds=self._tick_seconds)

    # Wiring ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _load_handler(spec: FunctionSpec) -> Callable[..., dict[str, Any]]:
        module_name = spec.code_uri.strip("/").replace("/", ".") + "." + spec.handler.rsplit(".", 1)[0]
        module = importlib.import_module(module_name)
        handler: Callable[..., dict[str, Any]] = getattr(module, spec.handler.rsplit(".", 1)[1])
        return handler

    def _schedule_seconds(self) -> int:
        params = parameter_defaults(self._template)
        for spec in self._specs:
            if spec.schedule:
                return _rate_seconds(str(resolve(spec.schedule, params)))
        raise RuntimeError("template.yaml has no scheduled orchestrator check")

    def _schedule_payload(self) -> dict[str, Any]:
        """What the template's schedule sends (its Input), else a scheduled-event envelope."""
        for spec in self._specs:
            if spec.schedule and spec.schedule_input is not None:
                return dict(spec.schedule_input)
        return _schedule_event(self.clock.now(), self.account)

    def _sql_for(self, db: Any) -> PyMySqlConnector:
        return PyMySqlConnector(db.tls, db.connect_timeout_seconds, address_resolver=self._resolve_endpoint)

    def _server_for(self, cluster_id: str) -> Any:
        return self.databases.get(cluster_id.lower(), self.default_database)

    def _resolve_endpoint(self, host: str, port: int) -> tuple[str, int]:
        cluster_id = host.split(".", 1)[0]
        server = self._server_for(cluster_id)
        if server is None:
            raise ConnectionRefusedError(f"no local database server for {host}")
        return server.host, server.port

    @property
    def rules(self) -> list[Rule]:
        return [rule for spec in self._specs for rule in spec.rules]

    # Queue -------------------------------------------------------------------------------------------------------
    def pending_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Events published but not yet delivered, as (bus, envelope), in delivery order."""
        return [(item.payload[0], item.payload[1]) for item in sorted(self._queue) if item.kind == "event"]

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Take the undelivered events off the queue (tests that invoke handlers by hand)."""
        events = self.pending_events()
        self._queue = [item for item in self._queue if item.kind != "event"]
        heapq.heapify(self._queue)
        return events

    def schedule(self, delay_seconds: float, kind: str, payload: Any) -> None:
        at = self.clock.now() + timedelta(seconds=delay_seconds)
        heapq.heappush(self._queue, _Item(at, next(self._seq), kind, payload))

    def publish(self, bus: str, envelope: dict[str, Any], latency: int) -> None:
        """Put an event on a bus, subject to the configured faults."""
        key = _event_key(envelope)
        delays = [latency]
        concurrent = False
        for fault in self.faults:
            if fault.match != key or fault.times <= 0:
                continue
            fault.times -= 1
            if fault.action == "drop":
                delays = []
            elif fault.action == "duplicate":
                delays = delays + [d + 1 for d in delays]
            elif fault.action == "delay":
                delays = [d + fault.delay for d in delays]
            elif fault.action == "concurrent":
                concurrent = True
        for delay in delays:
            self.schedule(delay, "event", (bus, envelope, None, 0, concurrent))

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
    ) -> None:
        now = self.clock.now() + timedelta(seconds=self.durations.rds_event_latency)
        envelope = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aws.rds",
            "account": self.account,
            "time": iso(now),
            "region": region,
            "resources": [arn],
            "detail": {
                "EventCategories": [category],
                "SourceType": source_type,
                "SourceArn": arn,
                "Date": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "Message": message,
                "SourceIdentifier": source_id,
                "EventID": event_id,
            },
        }
        self.publish("default", envelope, self.durations.rds_event_latency)

    def put_pipeline_event(self, detail_type: str, detail: dict[str, Any]) -> None:
        """What `aws events put-events` does for an operator."""
        self.publish("pipeline", self._pipeline_envelope(detail_type, detail, []), 0)

    def _pipeline_envelope(self, detail_type: str, detail: dict[str, Any], resources: list[str]) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": "aurora-restore",
            "account": self.account,
            "time": iso(self.clock.now()),
            "region": self.settings.target_region,
            "resources": resources,
            "detail": detail,
        }

    # Main loop -----------------------------------------------------------------------------------------------------
    def run_until(self, done: Callable[[], bool], max_seconds: int = 24 * 3600) -> bool:
        """Process events and scheduled checks in time order until `done()` or the time limit."""
        limit = self.clock.now() + timedelta(seconds=max_seconds)
        while not done():
            next_item = self._queue[0].at if self._queue else None
            if next_item is None or next_item >= self._next_tick:
                if self._next_tick > limit:
                    return False
                self.clock.set(self._next_tick)
                self._next_tick += timedelta(seconds=self._tick_seconds)
                self._invoke(Step.ORCHESTRATOR_CHECK, self._schedule_payload(), "schedule", "schedule", 0)
                continue
            item = heapq.heappop(self._queue)
            if item.at > limit:
                return False
            self.clock.set(item.at)
            if item.kind == "action":
                item.payload()
            else:
                self._route(*item.payload)
        return True

    def _route(
        self, bus: str, envelope: dict[str, Any], only: Step | None, attempt: int, concurrent: bool = False
    ) -> None:
        key = _event_key(envelope)
        if only is not None:
            self._invoke(only, envelope, bus, key, attempt)
            return
        for rule in self.rules:
            if rule.bus == bus and rule.matches(envelope):
                self._invoke(rule.step, envelope, bus, key, attempt, concurrent)

    def _invoke(
        self, step: Step, envelope: dict[str, Any], bus: str, key: str, attempt: int, concurrent: bool = False
    ) -> None:
        if concurrent:
            # The twin delivery runs to completion while this one is between its AWS call and its state write.
            self._interleave = lambda: self._invoke(step, envelope, bus, key, attempt)
        handler = self._handlers[step]
        context = FakeLambdaContext(f"aurora-restore-{step.value}")
        delivery = Delivery(self.clock.now(), bus, str(envelope.get("detail-type")), key, step.value, attempt, "")
        self.deliveries.append(delivery)
        try:
            outcome = handler(envelope, context, deps=self.deps)
            delivery.result = str(outcome.get("result"))
            delivery.detail = str(outcome.get("detail", ""))
        except SimulatedCrash:
            delivery.result = "crashed"
            self._expire_in_progress_idempotency()
            self._lambda_retry(step, bus, envelope, attempt, delivery)
        except Exception as exc:  # noqa: BLE001 - what Lambda would see: an invocation error
            delivery.result = "error"
            delivery.detail = f"{type(exc).__name__}: {exc}"[:300]
            self._lambda_retry(step, bus, envelope, attempt, delivery)

    def _lambda_retry(self, step: Step, bus: str, envelope: dict[str, Any], attempt: int, delivery: Delivery) -> None:
        if attempt < len(LAMBDA_RETRY_DELAYS):
            self.schedule(LAMBDA_RETRY_DELAYS[attempt], "event", (bus, envelope, step, attempt + 1, False))
        else:
            self.on_failure.append(delivery)

    def _expire_in_progress_idempotency(self) -> None:
        """By the time Lambda retries a crashed invocation, its in-progress idempotency record has expired."""
        table = self.settings.idempotency_table_name
        if not table:
            return
        client = self._clients.client("dynamodb", self.settings.target_region)
        items = client.scan(TableName=table).get("Items", [])
        for item in items:
            if item.get("status", {}).get("S") == "INPROGRESS":
                client.delete_item(TableName=table, Key={"id": item["id"]})

    # Hooks called by the hooked clients ------------------------------------------------------------------------
    def injected_error(self, operation: str) -> InjectedError | None:
        for error in self.errors:
            if error.operation == operation and error.times > 0:
                error.times -= 1
                return error
        return None

    def before_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None:
        """Keep what moto is about to delete: AWS keeps it visible (status `deleting`) for a while."""
        backend = self.rds_backend(region)
        if operation == "DeleteDBInstance":
            self._doomed[(region, params.get("DBInstanceIdentifier", ""))] = backend.databases.get(
                params.get("DBInstanceIdentifier", "")
            )
        elif operation == "DeleteDBCluster":
            self._doomed[(region, params.get("DBClusterIdentifier", ""))] = backend.clusters.get(
                params.get("DBClusterIdentifier", "")
            )

    def after_rds_call(self, region: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        self.rds_calls.append((self.clock.now(), region, operation))
        _RdsEmulator(self, region).after(operation, params, parsed)
        self.maybe_arm_crash(operation)

    def maybe_arm_crash(self, operation: str) -> None:
        """After a call named in `crash_after`, the handler's next state write crashes (once)."""
        if operation in self.crash_after:
            self.crash_after.discard(operation)
            self._crash_pending = True

    def after_put_events(self, region: str, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            bus = "pipeline" if entry.get("EventBusName") == self.settings.event_bus_name else "default"
            envelope = self._pipeline_envelope(
                entry["DetailType"], json.loads(entry["Detail"]), list(entry.get("Resources", []))
            )
            envelope["source"] = entry["Source"]
            self.publish(bus, envelope, self.durations.pipeline_event_latency)

    def take_interleave(self) -> Callable[[], None] | None:
        pending, self._interleave = self._interleave, None
        return pending

    def take_crash(self) -> bool:
        pending, self._crash_pending = self._crash_pending, False
        return pending

    def rds_backend(self, region: str) -> Any:
        return rds_backends[self.account][region]


class _CrashingStore:
    """Wraps the state store: after an AWS call marked in `crash_after`, the next state write 'crashes'."""

    def __init__(self, inner: Any, runtime: LocalRuntime) -> None:
        self._inner = inner
        self._runtime = runtime

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _before_write(self) -> None:
        twin = self._runtime.take_interleave()
        if twin is not None:
            twin()
        if self._runtime.take_crash():
            raise SimulatedCrash("crashed after the AWS call, before the state write")

    def write(self, *args: Any, **kwargs: Any) -> Any:
        self._before_write()
        return self._inner.write(*args, **kwargs)

    def create_run(self, *args: Any, **kwargs: Any) -> Any:
        self._before_write()
        return self._inner.create_run(*args, **kwargs)


class _HookedClientFactory(ClientFactory):
    def __init__(self, runtime: LocalRuntime) -> None:
        super().__init__()
        self._runtime = runtime

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        if key in self._clients:
            return self._clients[key]
        created = self._session.client(service, region_name=region, config=LOCAL_BOTO_CONFIG)  # type: ignore[call-overload]
        service_id = created.meta.service_model.service_id.hyphenize()
        events = created.meta.events
        runtime = self._runtime
        the_region = region or self._session.region_name or "us-east-1"

        def stash(params: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
            context["local_params"] = dict(params)
            if service == "rds":
                runtime.before_rds_call(the_region, model.name, params)

        def inject(model: Any, **_: Any) -> Any:
            error = runtime.injected_error(model.name)
            if error is None:
                return None
            parsed = {
                "Error": {"Code": error.code, "Message": error.message},
                "ResponseMetadata": {"HTTPStatusCode": error.status},
            }
            return AWSResponse("https://local", error.status, {}, None), parsed  # type: ignore[arg-type]

        def after(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if http_response.status_code >= 300:
                return
            params = context.get("local_params", {})
            if service == "rds":
                runtime.after_rds_call(the_region, model.name, params, parsed)
            elif service == "events" and model.name == "PutEvents" and not parsed.get("FailedEntryCount"):
                runtime.after_put_events(the_region, params.get("Entries", []))
            if service != "rds":
                runtime.maybe_arm_crash(model.name)

        events.register(f"provide-client-params.{service_id}", stash)
        events.register(f"before-call.{service_id}", inject)
        events.register(f"after-call.{service_id}", after)
        self._clients[key] = created
        return created


class _RdsEmulator:
    """Moves moto's RDS resources through their lifecycle and emits the RDS events AWS would emit."""

    def __init__(self, runtime: LocalRuntime, region: str) -> None:
        self.rt = runtime
        self.region = region
        self.backend = runtime.rds_backend(region)
        self.d = runtime.durations

    def after(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{operation}", None)
        if handler is not None:
            handler(params, parsed)

    def _arn(self, kind: str, identifier: str) -> str:
        return f"arn:aws:rds:{self.region}:{self.rt.account}:{kind}:{identifier}"

    def _later(self, seconds: float, action: Callable[[], None]) -> None:
        self.rt.schedule(seconds, "action", action)

    def _on_CopyDBClusterSnapshot(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:  # noqa: N802
        snapshot_id = params["TargetDBClusterSnapshotIdentifier"]
        snapshot = self.backend.cluster_snapshots[snapshot_id]
        snapshot.status, snapshot.percent_progress = "copying", 0
        stuck = self.rt.copy_stuck_at
        for percent in (10, 25, 40, 55, 70, 85):

            def progress(p: int = percent) -> None:
                if snapshot.status == "copying" and (stuck is None or p <= stuck):
                    snapshot.percent_progress = p

            self._later(self.d.copy * percent / 100, progress)
        if stuck is None:

            def finish() -> None:
                snapshot.status, snapshot.percent_progress = "available", 100

            self._later(self.d.copy, finish)  # no RDS event: Aurora emits none for cluster-snapshot copies

    def _delete_slowly(self, collection: Any, resource_id: str, seconds: int, emit: Callable[[], None]) -> None:
        """moto deleted it at once; AWS shows it `deleting` for a while, then emits the deletion event."""
        resource = self.rt._doomed.pop((self.region, resource_id), None)
        if resource is not None:
            resource.status = "deleting"
            collection[resource_id] = resource

        def gone() -> None:
            if collection.get(resource_id) is resource:
                del collection[resource_id]
            emit()

        self._later(seconds, gone)

    def _on_DeleteDBInstance(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:  # noqa: N802
        instance_id = params["DBInstanceIdentifier"]
        arn = self._arn("db", instance_id)
        self._delete_slowly(
            self.backend.databases,
            instance_id,
            self.d.instance_delete,
            lambda: self.rt.emit_rds_event(
                self.region,
                "RDS DB Instance Event",
                "RDS-EVENT-0003",
                arn,
                instance_id,
                "DB_INSTANCE",
                "DB instance deleted",
                "deletion",
            ),
        )

    def _on_DeleteDBCluster(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:  # noqa: N802
        cluster_id = params["DBClusterIdentifier"]
        # Real AWS removes the automated backups by default; moto keeps them and its snapshot names would clash.
        for snapshot_id, snapshot in list(self.backend.cluster_snapshots.items()):
            if snapshot.snapshot_type == "automated" and snapshot.cluster.db_cluster_identifier == cluster_id:
                del self.backend.cluster_snapshots[snapshot_id]
        arn = self._arn("cluster", cluster_id)
        self._delete_slowly(
            self.backend.clusters,
            cluster_id,
            self.d.cluster_delete,
            lambda: self.rt.emit_rds_event(
                self.region,
                "RDS DB Cluster Event",
                "RDS-EVENT-0171",
                arn,
                cluster_id,
                "CLUSTER",
                "DB cluster deleted",
                "deletion",
            ),
        )

    def _on_RestoreDBClusterFromSnapshot(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:  # noqa: N802
        cluster_id = params["DBClusterIdentifier"]
        cluster = self.backend.clusters[cluster_id]
        cluster.status = "creating"
        # moto ignores falsy overrides and inherits the source's DeletionProtection; AWS applies the request's.
        cluster.deletion_protection = bool(params.get("DeletionProtection", False))

        def created() -> None:
            if cluster_id not in self.backend.clusters:
                return
            cluster.status = "available"
            server = self.rt._server_for(cluster_id)
            if server is not None:  # the restored data: a production copy with production's accounts
                server.seed_restored_cluster(cluster.master_username or "admin", "production-only-" + uuid.uuid4().hex)
            self.rt.emit_rds_event(
                self.region,
                "RDS DB Cluster Event",
                "RDS-EVENT-0170",
                self._arn("cluster", cluster_id),
                cluster_id,
                "CLUSTER",
                "DB cluster created",
                "creation",
            )

        self._later(self.d.cluster_restore, created)

    def _on_CreateDBInstance(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:  # noqa: N802
        instance_id = params["DBInstanceIdentifier"]
        instance = self.backend.databases[instance_id]
        instance.status = "creating"
        cluster = self.backend.clusters.get(params.get("DBClusterIdentifier", ""))
        wait = self.d.instance_create
        if cluster is not None and cluster.status == "creating":
            wait += self.d.cluster_restore  # an instance cannot be ready before its cluster

        def created() -> None:
            if instance_id not in self.backend.databases:
                return
            instance.status = "available"
            self.rt.emit_rds_event(
                self.region,
                "RDS DB Instance Event",
                "RDS-EVENT-0005",
                self._arn("db", instance_id),
                instance_id,
                "DB_INSTANCE",
                "DB instance created",
                "creation",
            )

        self._later(wait, created)

    def _on_ModifyDBCluster(self, params: dict[str, Any], parsed: dict[str, Any]) -> None:  # noqa: N802
        password = params.get("MasterUserPassword")
        if not password:
            return
        cluster_id = params["DBClusterIdentifier"]
        cluster = self.backend.clusters[cluster_id]
        cluster.status = "resetting-master-credentials"

        def applied() -> None:
            cluster.status = "available"
            server = self.rt._server_for(cluster_id)
            if server is not None and self.rt.apply_master_password:
                server.set_password(cluster.master_username or "admin", password)
            self.rt.emit_rds_event(
                self.region,
                "RDS DB Cluster Event",
                "RDS-EVENT-0016",
                self._arn("cluster", cluster_id),
                cluster_id,
                "CLUSTER",
                "Reset master credentials",
                "configuration change",
            )

        self._later(self.d.password_apply, applied)


def _event_key(envelope: dict[str, Any]) -> str:
    detail = envelope.get("detail")
    if envelope.get("source") == "aws.rds" and isinstance(detail, dict):
        return str(detail.get("EventID"))
    return str(envelope.get("detail-type"))


def _schedule_event(now: datetime, account: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": account,
        "time": iso(now),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }


def _rate_seconds(expression: str) -> int:
    """`rate(1 minute)` -> 60. The local runtime only emulates rate schedules."""
    match = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", expression.strip())
    if match is None:
        raise ValueError(f"the local runtime only runs rate(...) schedules, not {expression!r}")
    return int(match.group(1)) * (60 if match.group(2).startswith("minute") else 3600)
