"""Publishes pipeline events on the pipeline's own bus: batches of 10, failures raised (never silently lost)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from shared.aws.errors import translate
from shared.errors import PipelineError
from shared.events import PIPELINE_SOURCE, OutgoingEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

MAX_ENTRIES_PER_CALL = 10  # PutEvents limit


class EventBridgePublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str, source: str = PIPELINE_SOURCE) -> None:
        self._client = client
        self._bus = bus_name
        self._source = source

    def publish(self, events: Sequence[OutgoingEvent]) -> None:
        entries = [
            {
                "Source": self._source,
                "DetailType": event.detail_type.value,
                "Detail": event.detail.model_dump_json(),
                "EventBusName": self._bus,
                "Resources": event.resources,
            }
            for event in events
        ]
        for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
            batch = entries[start : start + MAX_ENTRIES_PER_CALL]
            try:
                response = self._client.put_events(Entries=batch)  # type: ignore[arg-type]
            except ClientError as exc:
                raise translate(exc, "PutEvents") from None
            if response.get("FailedEntryCount", 0):
                failed = [e for e in response.get("Entries", []) if e.get("ErrorCode")]
                codes = sorted({str(e.get("ErrorCode")) for e in failed})
                raise PipelineError(
                    "PutEventsFailed",
                    f"{len(failed)} of {len(batch)} events were not accepted by bus {self._bus}: {codes}",
                    transient=True,
                )
