"""Event contracts: the RDS events we consume and the pipeline's own events (source `aurora-restore`).

Every pipeline event's `detail` carries `version` (schema), `run_id`, `pipeline`, `correlation_id`, `occurred_at`
and `run_version` (the state version when it was emitted, part of the idempotency key). JSON samples of each live
in `events/` and are validated against these models by the contract tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.base_model import Model
from shared.model import RunStatus
from shared.transitions import DetailType

PIPELINE_SOURCE = "aurora-restore"
RDS_SOURCE = "aws.rds"
SCHEDULE_SOURCE = "aws.events"  # EventBridge Scheduler / scheduled rules

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class EventBridgeEnvelope(Model):
    """The EventBridge envelope (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html),
    field for field as Powertools' parser EventBridgeModel, which we used before. Ours for cold start: importing
    that one model loads the whole parser package and every model of it (about a fifth of a handler's import)."""

    model_config = ConfigDict(populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: Any
    replay_name: str | None = Field(None, alias="replay-name")


class RdsEventDetail(Model):
    """`detail` of an RDS event on EventBridge. Match on EventID, never on Message (texts vary)."""

    model_config = ConfigDict(extra="ignore")

    EventID: Annotated[str, StringConstraints(pattern=r"^RDS-EVENT-\d{4}$")]
    SourceArn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:[a-z-]+:.+$")]
    SourceIdentifier: str = ""
    SourceType: str = ""
    Date: str = ""
    Message: str = ""
    EventCategories: list[str] = Field(default_factory=list)

    @property
    def arn_parts(self) -> tuple[str, str, str, str]:
        """(region, account, resource type, resource id); ids of automated snapshots keep their `rds:` prefix."""
        parts = self.SourceArn.split(":", 6)
        return parts[3], parts[4], parts[5], parts[6]


class RdsEvent(EventBridgeEnvelope):
    detail: RdsEventDetail


class PipelineDetail(Model):
    model_config = ConfigDict(extra="ignore")

    version: Literal["1"] = "1"
    run_id: ShortText
    pipeline: ShortText
    correlation_id: ShortText
    occurred_at: datetime
    run_version: int = Field(ge=0)


class RunCheckDueDetail(PipelineDetail):
    status: RunStatus
    # When the look is due, on a wake-up asked for early (the step waits until then in place); None: look now.
    look_at: datetime | None = None


class RunFinishedDetail(PipelineDetail):
    status: RunStatus
    message: str = ""


class RestoreRequestedDetail(Model):
    """An operator's rerun. `snapshot_identifier` pins a snapshot (id or ARN); otherwise the newest is used.
    A run never rolls the target back to a snapshot older than the one it holds, unless the request pins that
    snapshot and says `allow_older: true`."""

    model_config = ConfigDict(extra="forbid")

    version: Literal["1"] = "1"
    pipeline: ShortText
    snapshot_identifier: ShortText | None = None
    allow_older: bool = False
    request_id: ShortText | None = None
    requested_by: ShortText | None = None
    reason: Annotated[str, StringConstraints(max_length=512)] | None = None
    correlation_id: ShortText | None = None

    @model_validator(mode="after")
    def _older_only_when_pinned(self) -> RestoreRequestedDetail:
        if self.allow_older and self.snapshot_identifier is None:
            raise ValueError("allow_older needs snapshot_identifier: only a pinned snapshot may roll the target back")
        return self


class PipelineEvent(EventBridgeEnvelope):
    detail: dict[str, Any]


DETAIL_MODELS: dict[DetailType, type[BaseModel]] = {
    DetailType.RESTORE_REQUESTED: RestoreRequestedDetail,
    DetailType.RUN_REQUESTED: PipelineDetail,
    DetailType.SNAPSHOT_COPIED: PipelineDetail,
    DetailType.TARGET_DELETED: PipelineDetail,
    DetailType.TARGET_READ: PipelineDetail,
    DetailType.STAGING_READY: PipelineDetail,
    DetailType.CLUSTER_AVAILABLE: PipelineDetail,
    DetailType.DATABASE_READY: PipelineDetail,
    DetailType.RUN_SUCCEEDED: RunFinishedDetail,
    DetailType.RUN_FAILED: RunFinishedDetail,
    DetailType.RUN_CHECK_DUE: RunCheckDueDetail,
}


class OutgoingEvent(Model):
    """An event to publish on the pipeline bus."""

    detail_type: DetailType
    detail: BaseModel
    resources: list[str] = Field(default_factory=list)
