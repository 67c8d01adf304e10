"""The EventBridge envelopes the local runtime delivers, shaped as AWS shapes them: RDS events on the default
bus, the pipeline's own events, the scheduler's tick. Pure functions of their inputs and the time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import iso


def event_key(envelope: dict[str, Any]) -> str:
    """What faults match on: an RDS event's EventID, else the detail-type."""
    detail = envelope.get("detail")
    if envelope.get("source") == "aws.rds" and isinstance(detail, dict):
        return str(detail.get("EventID"))
    return str(envelope.get("detail-type"))


@dataclass(frozen=True)
class RdsNotice:
    """What an RDS event says: which resource, which EventID, in which words (as in the Aurora event list)."""

    region: str
    detail_type: str
    event_id: str
    arn: str
    source_id: str
    source_type: str
    message: str
    category: str


def rds_event(at: datetime, account: str, notice: RdsNotice) -> dict[str, Any]:
    region, detail_type, event_id, arn = notice.region, notice.detail_type, notice.event_id, notice.arn
    source_id, source_type, message, category = notice.source_id, notice.source_type, notice.message, notice.category
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.rds",
        "account": account,
        "time": iso(at),
        "region": region,
        "resources": [arn],
        "detail": {
            "EventCategories": [category],
            "SourceType": source_type,
            "SourceArn": arn,
            "Date": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "Message": message,
            "SourceIdentifier": source_id,
            "EventID": event_id,
        },
    }


def pipeline_event(
    at: datetime, account: str, region: str, detail_type: str, detail: dict[str, Any], resources: list[str]
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aurora-restore",
        "account": account,
        "time": iso(at),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def scheduled_event(at: datetime, account: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": account,
        "time": iso(at),
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
