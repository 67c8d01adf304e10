"""`redrive`: put the original events of failed invocations back on the pipeline's bus.

A function invoked asynchronously by EventBridge sends the invocations that failed all their retries to its
OnFailure destination, FailedInvocationsQueue (infra/template.src.yaml). Each SQS message is an invocation record
whose `requestPayload` is the event the function received, next to `requestContext` (functionArn, condition,
approximateInvokeCount) and `responsePayload`:
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
A message without `requestPayload` is taken as the event itself (a dead-letter queue holds the bare event).

Only this application's own events are re-published: an account may not put events with an AWS service's `aws.*`
source (a failed entry, `NotAuthorizedForSourceException`, in
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsResultEntry.html; UNVERIFIED that every
`aws.*` source is refused), so an RDS event's message stays in the queue, reported with the function to invoke."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ops.session import Settings

SQS_BATCH = 10  # ReceiveMessage returns at most 10 messages


@dataclass(frozen=True)
class Redriven:
    message_id: str
    source: str
    detail_type: str
    function: str
    outcome: str  # republished | would republish | kept: <why>


def original_event(body: str) -> tuple[dict[str, Any] | None, str]:
    """(the event the function received, the function's ARN) from a queue message body."""
    try:
        record = json.loads(body)
    except json.JSONDecodeError:
        return None, ""
    if not isinstance(record, dict):
        return None, ""
    function = str(record.get("requestContext", {}).get("functionArn", ""))
    event = record.get("requestPayload", record)
    return (event if isinstance(event, dict) and "detail-type" in event else None), function


def redrive(settings: Settings, dry_run: bool, limit: int) -> list[Redriven]:
    sqs, events = settings.client("sqs"), settings.client("events")
    queue, bus = settings.name("failed_queue"), settings.name("bus")
    seen: set[str] = set()
    done: list[Redriven] = []
    kept: list[str] = []
    while len(seen) < limit:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=SQS_BATCH, VisibilityTimeout=30)
        messages = [m for m in batch.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        for message in messages[: limit - len(seen)]:
            seen.add(message["MessageId"])
            result = _one(sqs, events, queue, bus, message, dry_run)
            done.append(result)
            if result.outcome != "republished":
                kept.append(message["ReceiptHandle"])
    for handle in kept:  # visible again at once: a dry run (or a kept message) changes nothing
        sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
    return done


def _one(sqs: Any, events: Any, queue: str, bus: str, message: dict[str, Any], dry_run: bool) -> Redriven:
    event, function = original_event(message["Body"])
    if event is None:
        return Redriven(message["MessageId"], "", "", function, "kept: not an invocation record of an event")
    source, detail_type = str(event.get("source", "")), str(event.get("detail-type", ""))

    def result(outcome: str) -> Redriven:
        return Redriven(message["MessageId"], source, detail_type, function, outcome)

    if source.startswith("aws."):
        return result("kept: an AWS service's event cannot be re-published; invoke the function with it")
    if dry_run:
        return result("would republish")
    entry = {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps(event.get("detail", {})),
        "Resources": list(event.get("resources", [])),
        "EventBusName": bus,
    }
    response = events.put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        return result(f"kept: PutEvents refused it ({failed.get('ErrorCode')}: {failed.get('ErrorMessage')})")
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return result("republished")
