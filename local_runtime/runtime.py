"""The local runtime: the real handlers, moto for AWS, a simulated clock, an RDS lifecycle emulator and a router
that delivers each event to the functions whose `template.yaml` rules match it.

This module holds the main loop over the event queue, the router and Lambda's async retries, and wires the
parts beside it, none of which imports it: `clock` (simulated time), `event_queue` (what happens next),
`faults` (what goes wrong on purpose), `envelopes` (what EventBridge delivers), `lambda_emulation`, `schedule`
(the scheduled check), `database_endpoints` (which local server answers for a cluster), `aws_hooks` (the seam
on the handlers' boto3 clients and state store, met through `CallObserver` and `WriteHooks`) and `rds_emulator`
(RDS lifecycles and events, met through `Timeline`) and `wakeup_firing` (the handlers' one-time schedules, fired
on the simulated clock, met through `Agenda`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from local_runtime import moto_transactions
from local_runtime.aws_hooks import CrashingStore, HookedClientFactory
from local_runtime.clock import SimClock
from local_runtime.database_endpoints import DatabaseEndpoints
from local_runtime.envelopes import RdsNotice, event_key, pipeline_event, rds_event
from local_runtime.event_queue import ACTION, EVENT, EventQueue
from local_runtime.faults import (
    Fault,
    InjectedError,
    SimulatedCrash,
    WriteFaults,
    delivery_delays,
    take_injected_error,
)
from local_runtime.lambda_emulation import (
    LAMBDA_RETRY_DELAYS,
    FakeLambdaContext,
    expire_in_progress_idempotency,
    load_handler,
)
from local_runtime.rds_emulator import COARSE_PROGRESS, Durations, RdsEmulator, rds_lifecycle
from local_runtime.schedule import ScheduledCheck
from local_runtime.template_rules import Rule, functions, load_template
from local_runtime.wakeup_firing import Precision, WakeUpFiring
from shared.deps import build_deps
from shared.settings import Settings
from shared.steps.context import Deps
from shared.transitions import Step

__all__ = [  # what other code imports from here, wherever it now lives
    "LAMBDA_RETRY_DELAYS",
    "Delivery",
    "Durations",
    "FakeLambdaContext",
    "Fault",
    "InjectedError",
    "LocalRuntime",
    "SimClock",
    "SimulatedCrash",
    "rds_lifecycle",
]


@dataclass(frozen=True)
class RdsRequest:
    """One successful RDS call the handlers made, with what they asked for (tests assert on the parameters)."""

    at: datetime
    region: str
    operation: str
    params: dict[str, Any]


def without_secrets(params: dict[str, Any]) -> dict[str, Any]:
    """The call's parameters minus any password (ModifyDBCluster's MasterUserPassword): never kept, not even here."""
    return {key: value for key, value in params.items() if "password" not in key.lower()}


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


class LocalRuntime:
    """Satisfies `aws_hooks.CallObserver` (the hooked clients report to it) and `rds_emulator.Timeline`."""

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
        manual_snapshot_quota: int = 100,
        account_quotas: dict[str, int] | None = None,
        timeouts: dict[Step, float] | None = None,
        crash_during_sql: list[str] | None = None,
        wakeup_precision: Precision = "minute",
        copy_progress: tuple[tuple[float, int], ...] = COARSE_PROGRESS,
    ) -> None:
        moto_transactions.install()  # item-level rollback: a state write costs the same all night long
        self.settings = settings
        self.clock = SimClock(start or datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
        self.durations = durations or Durations()
        self.faults = list(faults or [])
        self.errors = list(errors or [])
        self.crash_after = set(crash_after or ())
        self.write_faults = WriteFaults(self.crash_after)
        self.account = account
        self.endpoints = DatabaseEndpoints(databases or {}, default_database, crash_during_sql)
        self.rds_emulator = RdsEmulator(
            self,
            self.durations,
            account=account,
            database_for=self.endpoints.server_for,
            copy_stuck_at=copy_stuck_at,
            apply_master_password=apply_master_password,
            manual_snapshot_quota=manual_snapshot_quota,
            copy_progress=copy_progress,
            **(account_quotas or {}),
        )
        self.deliveries: list[Delivery] = []
        self.on_failure: list[Delivery] = []
        self.rds_calls: list[tuple[datetime, str, str]] = []  # (time, region, operation)
        self.rds_requests: list[RdsRequest] = []  # the same calls with their parameters (passwords left out)
        # Every AWS request the handlers make (time, step, service, operation); the step is "" outside an invocation.
        self.api_calls: list[tuple[datetime, str, str, str]] = []
        self._invoking = ""
        self.wakeups = WakeUpFiring(self, account, wakeup_precision)
        self.metrics: list[tuple[str, float]] = []
        self.pipeline_metrics: list[tuple[str, str, float]] = []  # (name, pipeline, value)
        self._queue = EventQueue()
        self._template = template or load_template()
        self._specs = functions(self._template)
        self._handlers = {spec.step: load_handler(spec) for spec in self._specs}
        self._function_names = {spec.step: spec.function_name for spec in self._specs}  # as deployed
        # Real seconds an invocation may run: the template's Timeout, unless a test gives a function less.
        self.timeouts = {spec.step: spec.timeout for spec in self._specs} | dict(timeouts or {})
        # Everything the hooks consult exists by now: build_deps may already call AWS (the SSM configuration).
        self._clients = HookedClientFactory(self)
        self.deps: Deps = build_deps(
            settings,
            clients=self._clients,
            clock=self.clock,
            sql_for=self.endpoints.sql_for,
            metric=lambda name, value: self.metrics.append((name, value)),
            pipeline_metric=lambda name, pipeline, value: self.pipeline_metrics.append((name, pipeline, value)),
        )
        self.deps.store = CrashingStore(self.deps.store, self.write_faults)
        if not idempotency:
            self.deps.idempotency = None
        self._check = ScheduledCheck.from_template(self._template, self._specs)
        self._next_tick = self.clock.now() + timedelta(seconds=self._check.seconds)
        self._contexts: list[FakeLambdaContext] = []  # the invocations running, innermost last
        self.clock.while_asleep = self._while_asleep

    # Lookups -----------------------------------------------------------------------------------------------------
    @property
    def rules(self) -> list[Rule]:
        return [rule for spec in self._specs for rule in spec.rules]

    def rds_backend(self, region: str) -> Any:
        return self.rds_emulator.backend(region)

    # Queue -------------------------------------------------------------------------------------------------------
    def pending_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Events published but not yet delivered, as (bus, envelope), in delivery order."""
        return self._queue.pending_events()

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Take the undelivered events off the queue (tests that invoke handlers by hand)."""
        return self._queue.drain_events()

    def now(self) -> datetime:
        return self.clock.now()

    def schedule(self, delay_seconds: float, kind: str, payload: Any) -> None:
        self._queue.push(self.clock.now() + timedelta(seconds=delay_seconds), kind, payload)

    def later(self, seconds: float, action: Callable[[], None]) -> None:
        self.schedule(seconds, ACTION, action)

    def publish(self, bus: str, envelope: dict[str, Any], latency: int) -> None:
        """Put an event on a bus, subject to the configured faults."""
        delays, concurrent = delivery_delays(self.faults, event_key(envelope), latency)
        for delay in delays:
            self.schedule(delay, EVENT, (bus, envelope, None, 0, concurrent))

    def emit_rds_event(self, notice: RdsNotice) -> None:
        at = self.clock.now() + timedelta(seconds=self.durations.rds_event_latency)
        envelope = rds_event(at, self.account, notice)
        self.publish("default", envelope, self.durations.rds_event_latency)

    def put_pipeline_event(self, detail_type: str, detail: dict[str, Any]) -> None:
        """What `aws events put-events` does for an operator."""
        self.publish("pipeline", self._pipeline_envelope(detail_type, detail, []), 0)

    def _pipeline_envelope(self, detail_type: str, detail: dict[str, Any], resources: list[str]) -> dict[str, Any]:
        region = self.settings.target_region
        return pipeline_event(self.clock.now(), self.account, region, detail_type, detail, resources)

    # Main loop -----------------------------------------------------------------------------------------------------
    def run_until(self, done: Callable[[], bool], max_seconds: int = 24 * 3600) -> bool:
        """Process events and scheduled checks in time order until `done()` or the time limit."""
        limit = self.clock.now() + timedelta(seconds=max_seconds)
        while not done():
            if not self._next_due(limit):
                return False
        return True

    def _next_due(self, limit: datetime) -> bool:
        """Process the next thing due (an event, an emulator change, the periodic check) if it falls due by `limit`;
        else move the clock to `limit` and say False (what is queued stays queued for a later call)."""
        next_item = self._queue.next_at()
        if next_item is None or next_item >= self._next_tick:
            if self._next_tick > limit:
                self.clock.set(limit)  # the time passed, with nothing due in it
                return False
            self.clock.set(self._next_tick)
            self._next_tick += timedelta(seconds=self._check.seconds)
            payload = self._check.payload(self.clock.now(), self.account)
            self._invoke(Step.ORCHESTRATOR_CHECK, payload, "schedule", "schedule", 0)
            return True
        if next_item > limit:
            self.clock.set(limit)
            return False
        item = self._queue.pop()
        self.clock.set(item.at)
        if item.kind == ACTION:
            item.payload()
        else:
            self._route(*item.payload)
        return True

    def _while_asleep(self, until: datetime) -> None:
        """A handler waits in place (StepTurn.wait_here): what falls due meanwhile happens, as around a running
        Lambda (other deliveries are other invocations, run here nested), and its time left shrinks by the wait."""
        seconds = (until - self.clock.now()).total_seconds()
        if self._contexts:
            self._contexts[-1].deadline -= seconds
        while self._next_due(until):
            pass

    def _route(
        self, bus: str, envelope: dict[str, Any], only: Step | None, attempt: int, concurrent: bool = False
    ) -> None:
        key = event_key(envelope)
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
            self.write_faults.interleave(lambda: self._invoke(step, envelope, bus, key, attempt))
        handler = self._handlers[step]
        context = FakeLambdaContext(self._function_names[step], self.timeouts[step])
        self._contexts.append(context)
        delivery = Delivery(self.clock.now(), bus, str(envelope.get("detail-type")), key, step.value, attempt, "")
        self.deliveries.append(delivery)
        outer, self._invoking = self._invoking, step.value
        try:
            with self.endpoints.invocation(context.deadline):
                outcome = handler(envelope, context, deps=self.deps)
            delivery.result = str(outcome.get("result"))
            delivery.detail = str(outcome.get("detail", ""))
        except SimulatedCrash:
            delivery.result = "crashed"
            dynamodb = self._clients.client("dynamodb", self.settings.target_region)
            expire_in_progress_idempotency(dynamodb, self.settings.idempotency_table_name)
            self._lambda_retry(step, bus, envelope, attempt, delivery)
        except Exception as exc:  # noqa: BLE001 - what Lambda would see: an invocation error
            delivery.result = "error"
            delivery.detail = f"{type(exc).__name__}: {exc}"[:300]
            self._lambda_retry(step, bus, envelope, attempt, delivery)
        finally:
            self._invoking = outer
            self._contexts.remove(context)

    def _lambda_retry(self, step: Step, bus: str, envelope: dict[str, Any], attempt: int, delivery: Delivery) -> None:
        if attempt < len(LAMBDA_RETRY_DELAYS):
            self.schedule(LAMBDA_RETRY_DELAYS[attempt], EVENT, (bus, envelope, step, attempt + 1, False))
        else:
            self.on_failure.append(delivery)

    # CallObserver: what the hooked clients report -----------------------------------------------------------------
    def injected_error(self, operation: str) -> InjectedError | None:
        return take_injected_error(self.errors, operation)

    def emulated_rds_response(
        self, region: str, operation: str, params: dict[str, Any]
    ) -> InjectedError | dict[str, Any] | None:
        return self.rds_emulator.respond(region, operation, params)

    def before_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None:
        self.rds_emulator.before(region, operation, params)

    def after_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None:
        self.rds_calls.append((self.clock.now(), region, operation))
        self.rds_requests.append(RdsRequest(self.clock.now(), region, operation, without_secrets(params)))
        self.rds_emulator.after(region, operation, params)

    def after_put_events(self, region: str, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            bus = "pipeline" if entry.get("EventBusName") == self.settings.event_bus_name else "default"
            envelope = self._pipeline_envelope(
                entry["DetailType"], json.loads(entry["Detail"]), list(entry.get("Resources", []))
            )
            envelope["source"] = entry["Source"]
            self.publish(bus, envelope, self.durations.pipeline_event_latency)

    def after_create_schedule(self, region: str, params: dict[str, Any]) -> None:
        self.wakeups.created(region, params)

    def count_call(self, service: str, operation: str) -> None:
        self.api_calls.append((self.clock.now(), self._invoking, service, operation))

    # Agenda: what a fired wake-up does -------------------------------------------------------------------------
    def put_scheduled_event(self, bus_arn: str, detail_type: str, source: str, detail: dict[str, Any]) -> None:
        """The scheduler's templated PutEvents target: the event goes on the bus its ARN names."""
        bus = "pipeline" if bus_arn.endswith(f"/{self.settings.event_bus_name}") else "default"
        envelope = self._pipeline_envelope(detail_type, detail, [])
        envelope["source"] = source
        self.publish(bus, envelope, self.durations.pipeline_event_latency)

    def arm_crash_after(self, operation: str) -> None:
        self.write_faults.arm_crash_after(operation)
