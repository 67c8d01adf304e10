"""From an inbound event to one step's turn on one run: the registry, the guards and the error policy.

Bad input never raises (a raise would make Lambda retry it twice and then dead-letter it): it is rejected with
a clear message in the log and the audit table. Domain errors are recorded on the run (retry or fail). Only
unexpected bugs and infrastructure outages propagate, so Lambda's retries and the on-failure queue see them.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from shared.errors import PipelineError
from shared.events import RunCheckDueDetail
from shared.idempotency import run_once
from shared.inbound import PipelineTrigger, RdsTrigger, Rejected, ScheduleTick, parse_event
from shared.outcome import Outcome
from shared.outside_run import REJECTED, record_outside_run
from shared.routing import Route, route_of
from shared.run_resolution import resolve_run
from shared.steps.context import Deps
from shared.steps.turn import StepTurn
from shared.transitions import Step

Event = RdsTrigger | PipelineTrigger | ScheduleTick


def step_module(step: Step) -> ModuleType:
    """The step's module, `shared.steps.<step>`: `act(turn)` (and optionally `on_error(turn, error)`) for a
    step that acts on a run, `handle(deps, event) -> Outcome` for one that needs none (see shared.routing).
    Imported on first use, a documented cold-start deferral: each function loads only its own step."""
    return importlib.import_module(f"shared.steps.{step.value.replace('-', '_')}")


def handle(step: Step, raw: Any, deps: Deps) -> Outcome:
    if step is Step.ORCHESTRATOR_CHECK:
        return process(step, ScheduleTick(), deps)  # any invocation of the check is a tick, whatever its payload
    try:
        event = parse_event(raw)
    except Rejected as exc:
        return reject(deps, step, str(exc))
    return run_once(deps.idempotency, step.value, event.idempotency_key, lambda: process(step, event, deps))


def reject(deps: Deps, step: Step, reason: str) -> Outcome:
    record_outside_run(
        deps.store,
        deps.log,
        deps.clock.now(),
        step=step.value,
        kind="rejected",
        message=reason,
        subject=REJECTED,
        code="MalformedEvent",
    )
    deps.metric("RejectedEvents", 1)
    return Outcome(step=step.value, result="rejected", detail=reason[:500])


def process(step: Step, event: Event, deps: Deps) -> Outcome:
    route = route_of(step)
    try:
        if not route.acts_in:
            outcome: Outcome = step_module(step).handle(deps, event)
            return outcome
        return _take_turn(route, event, deps)
    except Rejected as exc:
        return reject(deps, step, str(exc))
    except PipelineError as exc:
        # Errors outside a run (e.g. describing the source snapshot): audited and reported, not retried forever.
        if exc.transient:
            raise
        return reject(deps, step, f"{exc.code}: {exc.message}")


def _take_turn(route: Route, event: Event, deps: Deps) -> Outcome:
    step = route.step
    run, problem = resolve_run(deps, event)
    if run is None:
        now = deps.clock.now()
        record_outside_run(
            deps.store, deps.log, now, step=step.value, kind="ignored", message=problem, trigger=event.trigger
        )
        return Outcome(step=step.value, result="ignored", detail=problem)
    check = event.detail if isinstance(event, PipelineTrigger) else None
    look_at = check.look_at if isinstance(check, RunCheckDueDetail) else None
    turn = StepTurn(deps, run, step, event.trigger, look_at)
    if run.status not in route.acts_in:
        turn.ignore(f"run is {run.status.value}; {step.value} acts on {sorted(s.value for s in route.acts_in)}")
        return Outcome(step=step.value, result="ignored", run_id=run.run_id, detail=run.status.value)
    if isinstance(check, RunCheckDueDetail) and check.run_version != run.version:
        turn.ignore(f"stale check (v{check.run_version}, run is v{run.version})")
        return Outcome(step=step.value, result="ignored", run_id=run.run_id, detail="stale check")
    module = step_module(step)
    on_error = getattr(module, "on_error", StepTurn.retry_or_fail)
    try:
        module.act(turn)
    except PipelineError as exc:
        on_error(turn, exc)
        return Outcome(step=step.value, result="error", run_id=run.run_id, detail=exc.code)
    except Exception as exc:  # a bug or an unclassified failure: recorded on the run and retried within budget
        deps.log.exception("unexpected error", extra={"run_id": run.run_id, "step": step.value})
        on_error(
            turn, PipelineError("InternalError", f"unexpected {type(exc).__name__} in {step.value}", transient=True)
        )
        return Outcome(step=step.value, result="error", run_id=run.run_id, detail="InternalError")
    return Outcome(step=step.value, result="advanced", run_id=run.run_id)
