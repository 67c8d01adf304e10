"""What wakes a function, parsed once into one of three shapes: an RDS event, a pipeline event, or a schedule
tick. Each carries the key that makes its processing idempotent and the words the audit uses for it.

Bad input raises `Rejected` with an operator-readable reason; the dispatcher audits it and never retries it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from shared.base_model import Model
from shared.events import (
    DETAIL_MODELS,
    PIPELINE_SOURCE,
    RDS_SOURCE,
    PipelineDetail,
    PipelineEvent,
    RdsEvent,
    RestoreRequestedDetail,
)
from shared.transitions import DetailType

# EventBridge Scheduler and scheduled rules; the orchestrator's schedule sends an explicit Input (template.yaml).
SCHEDULE_SOURCES = ("aws.events", "aws.scheduler")


class Rejected(Exception):
    pass


class RdsTrigger(Model):
    kind: Literal["rds"] = "rds"
    rds: RdsEvent

    @property
    def idempotency_key(self) -> str:
        # RDS may deliver one occurrence more than once, with different envelope ids: key on what happened.
        d = self.rds.detail
        return f"{d.SourceArn}|{d.EventID}|{d.Date}"

    @property
    def trigger(self) -> str:
        return self.rds.detail.EventID

    @property
    def time(self) -> datetime:
        return self.rds.time

    @property
    def event_id(self) -> str:
        return self.rds.id


class PipelineTrigger(Model):
    kind: Literal["pipeline"] = "pipeline"
    event_id: str
    time: datetime
    detail_type: DetailType
    detail: PipelineDetail | RestoreRequestedDetail

    @property
    def idempotency_key(self) -> str:
        if isinstance(self.detail, RestoreRequestedDetail):
            return f"restore|{self.detail.pipeline}|{self.detail.request_id or self.event_id}"
        return f"{self.detail.run_id}|{self.detail_type.value}|{self.detail.run_version}"

    @property
    def trigger(self) -> str:
        return self.detail_type.value


class ScheduleTick(Model):
    kind: Literal["schedule"] = "schedule"
    event_id: str = ""
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def idempotency_key(self) -> str:
        return self.event_id

    @property
    def trigger(self) -> str:
        return "schedule"


Inbound = Annotated[RdsTrigger | PipelineTrigger | ScheduleTick, Field(discriminator="kind")]


def parse_event(raw: Any) -> RdsTrigger | PipelineTrigger | ScheduleTick:
    """Validate the envelope and its detail. Raises Rejected with an operator-readable reason."""
    if not isinstance(raw, dict):
        raise Rejected(f"event must be a JSON object, got {type(raw).__name__}")
    source, detail_type = raw.get("source"), raw.get("detail-type")
    try:
        if source == RDS_SOURCE:
            return RdsTrigger(rds=RdsEvent.model_validate(raw))
        if source == PIPELINE_SOURCE:
            return _pipeline_trigger(raw)
        if source in SCHEDULE_SOURCES or detail_type == "Scheduled Event" or raw.get("schedule"):
            return ScheduleTick(event_id=str(raw.get("id", "")))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise Rejected(f"malformed {source} event {detail_type!r}: {problems}") from None
    raise Rejected(f"unexpected event source {source!r} / detail-type {detail_type!r}")


def _pipeline_trigger(raw: dict[str, Any]) -> PipelineTrigger:
    envelope = PipelineEvent.model_validate(raw)
    try:
        kind = DetailType(str(raw.get("detail-type")))
    except ValueError:
        raise Rejected(f"unknown detail-type {raw.get('detail-type')!r} from {PIPELINE_SOURCE}") from None
    detail = DETAIL_MODELS[kind].model_validate(envelope.detail)
    assert isinstance(detail, PipelineDetail | RestoreRequestedDetail)
    return PipelineTrigger(event_id=envelope.id, time=envelope.time, detail_type=kind, detail=detail)
