"""From a raw EventBridge event to one step call: parse, find the run, check it is this step's turn, advance.

Bad input never raises (a raise would make Lambda retry it twice and then dead-letter it): it is rejected with
a clear message in the log and the audit table. Domain errors are recorded on the run (retry or fail). Only
unexpected bugs and infrastructure outages propagate, so Lambda's retries and the on-failure queue see them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from shared.errors import PipelineError
from shared.events import (
    DETAIL_MODELS,
    PIPELINE_SOURCE,
    RDS_SOURCE,
    PipelineDetail,
    PipelineEvent,
    RdsEvent,
    RestoreRequestedDetail,
    RunCheckDueDetail,
)
from shared.model import AuditRecord, Run, RunStatus
from shared.naming import lock_key_for
from shared.routing import ROUTES
from shared.steps import (
    archive_snapshot,
    check_copy_status,
    check_restore_status,
    copy_snapshot,
    delete_rds,
    orchestrator_check,
    restore_snapshot,
    runflow,
    setup_db_users,
    snapshot_check,
    sns_notification,
)
from shared.steps.context import Deps
from shared.transitions import DetailType, Step

Advance = Callable[[Deps, Run, str | None], None]

_ADVANCE: dict[Step, Advance] = {
    Step.COPY_SNAPSHOT: copy_snapshot.advance,
    Step.CHECK_COPY_STATUS: check_copy_status.advance,
    Step.DELETE_RDS: delete_rds.advance,
    Step.RESTORE_SNAPSHOT: restore_snapshot.advance,
    Step.CHECK_RESTORE_STATUS: check_restore_status.advance,
    Step.SETUP_DB_USERS: setup_db_users.advance,
    Step.ARCHIVE_SNAPSHOT: archive_snapshot.advance,
    Step.SNS_NOTIFICATION: sns_notification.advance,
}
RUN_STEPS: dict[Step, tuple[frozenset[RunStatus], Advance]] = {
    route.step: (frozenset(route.acts_in), _ADVANCE[route.step]) for route in ROUTES if route.acts_in
}


class Outcome(BaseModel):
    """What a handler returns (and what Powertools idempotency stores for duplicates)."""

    step: str
    result: str
    run_id: str | None = None
    detail: str = ""


class ParsedEvent(BaseModel):
    kind: str  # "rds", "pipeline", "schedule"
    idempotency_key: str
    trigger: str
    time: datetime
    event_id: str
    rds: RdsEvent | None = None
    detail_type: DetailType | None = None
    detail: BaseModel | None = None


class Rejected(Exception):
    pass


def _tick(event_id: str) -> ParsedEvent:
    return ParsedEvent(
        kind="schedule", idempotency_key=event_id, trigger="schedule", time=datetime.now(UTC), event_id=event_id
    )


def parse_event(raw: Any) -> ParsedEvent:
    """Validate the envelope and its detail. Raises Rejected with an operator-readable reason."""
    if not isinstance(raw, dict):
        raise Rejected(f"event must be a JSON object, got {type(raw).__name__}")
    source = raw.get("source")
    detail_type = raw.get("detail-type")
    try:
        if source == RDS_SOURCE:
            rds = RdsEvent.model_validate(raw)
            d = rds.detail
            return ParsedEvent(
                kind="rds",
                idempotency_key=f"{d.SourceArn}|{d.EventID}|{d.Date}",
                trigger=f"{d.EventID}",
                time=rds.time,
                event_id=rds.id,
                rds=rds,
            )
        if source == PIPELINE_SOURCE:
            envelope = PipelineEvent.model_validate(raw)
            try:
                kind = DetailType(str(detail_type))
            except ValueError:
                raise Rejected(f"unknown detail-type {detail_type!r} from {PIPELINE_SOURCE}") from None
            detail = DETAIL_MODELS[kind].model_validate(envelope.detail)
            if isinstance(detail, PipelineDetail):
                key = f"{detail.run_id}|{kind.value}|{detail.run_version}"
            else:
                assert isinstance(detail, RestoreRequestedDetail)
                key = f"restore|{detail.pipeline}|{detail.request_id or envelope.id}"
            return ParsedEvent(
                kind="pipeline",
                idempotency_key=key,
                trigger=kind.value,
                time=envelope.time,
                event_id=envelope.id,
                detail_type=kind,
                detail=detail,
            )
        if source in ("aws.events", "aws.scheduler") or detail_type == "Scheduled Event" or raw.get("schedule"):
            return _tick(str(raw.get("id", "")))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise Rejected(f"malformed {source} event {detail_type!r}: {problems}") from None
    raise Rejected(f"unexpected event source {source!r} / detail-type {detail_type!r}")


def reject(deps: Deps, step: Step, reason: str) -> Outcome:
    deps.log.warning("event rejected", extra={"step": step.value, "reason": reason})
    deps.metric("RejectedEvents", 1)
    try:
        deps.store.audit(
            AuditRecord(
                subject="rejected",
                at=deps.clock.now(),
                kind="rejected",
                step=step.value,
                message=reason[:1000],
                code="MalformedEvent",
            )
        )
    except PipelineError as exc:  # auditing must not turn bad input into a retry storm
        deps.log.error("could not audit a rejected event", extra={"code": exc.code})
    return Outcome(step=step.value, result="rejected", detail=reason[:500])


def handle(step: Step, raw: Any, deps: Deps) -> Outcome:
    if step is Step.ORCHESTRATOR_CHECK:
        # Only the schedule invokes it, whatever payload the scheduler sends: every invocation is a tick.
        return process(step, _tick(""), deps)
    try:
        event = parse_event(raw)
    except Rejected as exc:
        return reject(deps, step, str(exc))
    if deps.idempotency is None:
        return process(step, event, deps)
    return _idempotent_process(step, event, deps)


def _idempotent_process(step: Step, event: ParsedEvent, deps: Deps) -> Outcome:
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    persistence, config = deps.idempotency

    @idempotent_function(
        data_keyword_argument="key", config=config, persistence_store=persistence, output_serializer=None
    )
    def once(key: dict[str, str]) -> dict[str, Any]:
        return process(step, event, deps).model_dump()

    return Outcome.model_validate(once(key={"step": step.value, "occurrence": event.idempotency_key}))


def process(step: Step, event: ParsedEvent, deps: Deps) -> Outcome:
    try:
        if step is Step.ORCHESTRATOR_CHECK:
            summary = orchestrator_check.tick(deps)
            return Outcome(step=step.value, result="checked", detail=summary.model_dump_json())
        if step is Step.SNAPSHOT_CHECK:
            return _snapshot_check(event, deps)
        return _run_step(step, event, deps)
    except PipelineError as exc:
        # Errors outside a run (e.g. describing the source snapshot): audited and reported, not retried forever.
        if exc.transient:
            raise
        return reject(deps, step, f"{exc.code}: {exc.message}")


def _snapshot_check(event: ParsedEvent, deps: Deps) -> Outcome:
    step = Step.SNAPSHOT_CHECK
    if event.rds is not None:
        opened = snapshot_check.on_rds_snapshot(deps, event.rds.detail, event.time)
        return Outcome(step=step.value, result="opened" if opened else "none", run_id=",".join(opened) or None)
    if isinstance(event.detail, RestoreRequestedDetail):
        run_id = snapshot_check.on_restore_requested(deps, event.detail, event.event_id, event.time)
        return Outcome(step=step.value, result="opened" if run_id else "refused", run_id=run_id)
    return reject(deps, step, f"snapshot-check does not handle {event.trigger}")


def _resolve_run(step: Step, event: ParsedEvent, deps: Deps) -> tuple[Run | None, str]:
    if isinstance(event.detail, PipelineDetail):
        run = deps.store.get_run(event.detail.run_id)
        return run, "" if run else f"run {event.detail.run_id} not found"
    if event.rds is not None:
        region, _account, resource_type, resource_id = event.rds.detail.arn_parts
        cluster_id = _cluster_of(deps, region, resource_type, resource_id)
        pipeline = deps.config.by_target(region, cluster_id) if cluster_id else None
        if pipeline is None:
            return None, f"{resource_type} {resource_id} in {region} is not a configured target"
        run_id = deps.store.lock_holder(lock_key_for(pipeline.target_region, pipeline.target_cluster_id))
        if run_id is None:
            return None, f"no active run for target {pipeline.target_cluster_id}"
        run = deps.store.get_run(run_id)
        return run, "" if run else f"run {run_id} not found"
    return None, f"{step.value} does not handle {event.trigger}"


def _cluster_of(deps: Deps, region: str, resource_type: str, resource_id: str) -> str | None:
    if resource_type == "cluster":
        return resource_id
    if resource_type == "db":
        instance = deps.rds_for(region).find_instance(resource_id)
        if instance is not None and instance.cluster_id:
            return instance.cluster_id
        # Deleted instances cannot be described: fall back to the `<target>-<n>` naming of our instances.
        for pipeline in deps.config.pipelines:
            if pipeline.target_region == region and resource_id.lower().startswith(
                pipeline.target_cluster_id.lower() + "-"
            ):
                return pipeline.target_cluster_id
    return None


def _run_step(step: Step, event: ParsedEvent, deps: Deps) -> Outcome:
    owned, advance = RUN_STEPS[step]
    run, problem = _resolve_run(step, event, deps)
    if run is None:
        deps.log.info("no run for event", extra={"step": step.value, "reason": problem})
        deps.store.audit(
            AuditRecord(
                subject="unmatched",
                at=deps.clock.now(),
                kind="ignored",
                step=step.value,
                message=problem,
                trigger=event.trigger,
            )
        )
        return Outcome(step=step.value, result="ignored", detail=problem)
    if run.status not in owned:
        runflow.ignore(
            deps,
            run,
            step.value,
            f"run is {run.status.value}; {step.value} acts on {sorted(s.value for s in owned)}",
            event.trigger,
        )
        return Outcome(step=step.value, result="ignored", run_id=run.run_id, detail=run.status.value)
    if isinstance(event.detail, RunCheckDueDetail) and event.detail.run_version != run.version:
        runflow.ignore(
            deps, run, step.value, f"stale check (v{event.detail.run_version}, run is v{run.version})", event.trigger
        )
        return Outcome(step=step.value, result="ignored", run_id=run.run_id, detail="stale check")
    try:
        advance(deps, run, event.trigger)
    except PipelineError as exc:
        runflow.record_error(deps, run, step.value, exc, event.trigger)
        return Outcome(step=step.value, result="error", run_id=run.run_id, detail=f"{exc.code}")
    except Exception as exc:  # a bug or an unclassified failure: recorded on the run and retried within budget
        deps.log.exception("unexpected error", extra={"run_id": run.run_id, "step": step.value})
        error = PipelineError("InternalError", f"unexpected {type(exc).__name__} in {step.value}", transient=True)
        runflow.record_error(deps, run, step.value, error, event.trigger)
        return Outcome(step=step.value, result="error", run_id=run.run_id, detail="InternalError")
    return Outcome(step=step.value, result="advanced", run_id=run.run_id)
