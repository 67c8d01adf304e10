"""DynamoDB state store: runs, target locks and the audit trail.

State table items:
- `RUN#<run_id>`: the run. `due` (a constant) + `next_check_epoch` exist only while the run needs attention (active,
  or terminal but not yet notified), so the `due-by-time` index is sparse: one Query (`due = run`, next check <=
  now) returns every due run whatever its status, and the orchestrator check reads O(due runs). A run leaves the
  index when it no longer needs attention (notified, or notification abandoned). `active_status` feeds the older
  `active-by-status` index, kept for one release because CloudFormation creates or deletes at most one global
  secondary index per table update ("You can create or delete only one global secondary index per UpdateTable
  operation", https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html).
- `LOCK#<region>#<cluster>`: the one active run of a target cluster.
- `PIPELINE#<name>`: the pipeline's watch (the awaited night, a deferred trigger); no `created_at` and no
  `active_status`, so it stays out of both indexes.

Every write is a transaction: the run put is conditional on the expected (status, version), the audit record is
written in the same transaction (one audit item per transition, atomically), and a terminal transition releases
the target lock. A stale or duplicate event therefore changes nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from shared.aws.errors import translate
from shared.clock import epoch, iso
from shared.errors import PipelineError, RunExistsError, StaleRunError, StaleWatchError, TargetBusyError
from shared.model import AuditRecord, PipelineWatch, Run, RunStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ACTIVE_INDEX = "active-by-status"  # superseded by DUE_INDEX; dropped in the next release
DUE_INDEX = "due-by-time"
DUE = "run"  # the partition of every run in DUE_INDEX (a few hundred at most at once: one partition holds them)
PIPELINE_INDEX = "by-pipeline"
BATCH_GET_MAX = 100  # keys per BatchGetItem request
BATCH_GET_ATTEMPTS = 5
AUDIT_RETENTION = timedelta(days=90)
RUN_RETENTION = timedelta(days=400)

_ser = TypeSerializer()
_de = TypeDeserializer()


def _to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in data.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def run_key(run_id: str) -> str:
    return f"RUN#{run_id}"


def run_item(run: Run) -> dict[str, Any]:
    data = run.model_dump(mode="json")
    data["pk"] = run_key(run.run_id)
    data["kind"] = "run"
    if not run.status.is_terminal or run.pending_notification:
        data["active_status"] = run.status.value
        data["due"] = DUE
        data["next_check_epoch"] = epoch(run.next_check_at)
    if run.status.is_terminal and run.ended_at is not None:
        data["expires_at"] = epoch(run.ended_at + RUN_RETENTION)
    return _to_item(data)


def watch_key(pipeline: str) -> str:
    return f"PIPELINE#{pipeline}"


def watch_item(watch: PipelineWatch) -> dict[str, Any]:
    data = watch.model_dump(mode="json")
    data["pk"] = watch_key(watch.pipeline)
    data["kind"] = "pipeline"
    return _to_item(data)


def audit_item(record: AuditRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    data["pk"] = record.subject
    # Sorts by event time, then by write order (several records can share one simulated instant).
    data["sk"] = f"{record.at.isoformat(timespec='microseconds')}#{time.time_ns():020d}#{uuid.uuid4().hex[:6]}"
    data["expires_at"] = epoch(record.at + AUDIT_RETENTION)
    return _to_item(data)


class DynamoStateStore:
    def __init__(self, client: DynamoDBClient, state_table: str, audit_table: str) -> None:
        self._client = client
        self._state = state_table
        self._audit = audit_table

    # Creation and lock ---------------------------------------------------------------------------------------
    def create_run(self, run: Run, lock_key: str, audit: AuditRecord) -> None:
        lock = _to_item(
            {
                "pk": lock_key,
                "kind": "lock",
                "run_id": run.run_id,
                "pipeline": run.pipeline,
                "acquired_at": iso(run.created_at),
            }
        )
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._state,
                            "Item": run_item(run),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._state,
                            "Item": lock,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    {"Put": {"TableName": self._audit, "Item": audit_item(audit)}},
                ]
            )
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                raise RunExistsError(run.run_id) from None
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                holder = _from_item(dict(reasons[1].get("Item") or {})).get("run_id")
                raise TargetBusyError(lock_key, str(holder) if holder else None) from None
            if "TransactionConflict" in codes:
                raise TargetBusyError(lock_key, None) from None
            raise translate(exc, "TransactWriteItems") from None

    def lock_holder(self, lock_key: str) -> str | None:
        item = self._get(lock_key)
        return str(item["run_id"]) if item else None

    # Runs ------------------------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run | None:
        item = self._get(run_key(run_id))
        return Run.model_validate(item) if item else None

    def _get(self, pk: str) -> dict[str, Any] | None:
        try:
            response = self._client.get_item(TableName=self._state, Key={"pk": {"S": pk}}, ConsistentRead=True)
        except ClientError as exc:
            raise translate(exc, "GetItem") from None
        item = response.get("Item")
        return _from_item(item) if item else None

    def write(
        self, run: Run, expected: tuple[RunStatus, int], audit: AuditRecord | None, release_lock: str | None = None
    ) -> Run:
        """Replace the run if it is still at `expected` (status, version); the stored version becomes +1."""
        expected_status, expected_version = expected
        new = run.model_copy(update={"version": expected_version + 1})
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._state,
                    "Item": run_item(new),
                    "ConditionExpression": "#st = :st AND #ver = :ver",
                    "ExpressionAttributeNames": {"#st": "status", "#ver": "version"},
                    "ExpressionAttributeValues": {
                        ":st": {"S": expected_status.value},
                        ":ver": {"N": str(expected_version)},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ]
        if audit is not None:
            items.append({"Put": {"TableName": self._audit, "Item": audit_item(audit)}})
        if release_lock is not None:
            items.append(
                {
                    "Delete": {
                        "TableName": self._state,
                        "Key": {"pk": {"S": release_lock}},
                        "ConditionExpression": "attribute_not_exists(pk) OR run_id = :rid",
                        "ExpressionAttributeValues": {":rid": {"S": run.run_id}},
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
                current = self.get_run(run.run_id)
                raise StaleRunError(
                    run.run_id,
                    current.status.value if current else None,
                    current.version if current else None,
                ) from None
            raise translate(exc, "TransactWriteItems") from None
        return new

    def due_runs(self, now: datetime, limit: int) -> list[Run]:
        try:
            response = self._client.query(
                TableName=self._state,
                IndexName=DUE_INDEX,
                KeyConditionExpression="#due = :due AND next_check_epoch <= :now",
                ExpressionAttributeNames={"#due": "due"},
                ExpressionAttributeValues={":due": {"S": DUE}, ":now": {"N": str(epoch(now))}},
                Limit=limit,
            )
        except ClientError as exc:
            raise translate(exc, "Query") from None
        return [Run.model_validate(_from_item(item)) for item in response.get("Items", [])]

    def recent_runs(self, pipeline: str | None, limit: int) -> list[Run]:
        try:
            if pipeline:
                response = self._client.query(
                    TableName=self._state,
                    IndexName=PIPELINE_INDEX,
                    KeyConditionExpression="pipeline = :p",
                    ExpressionAttributeValues={":p": {"S": pipeline}},
                    ScanIndexForward=False,
                    Limit=limit,
                )
                items = response.get("Items", [])
            else:  # operator convenience only (status command), never on the pipeline's hot path
                response = self._client.scan(
                    TableName=self._state,
                    FilterExpression="kind = :k",
                    ExpressionAttributeValues={":k": {"S": "run"}},
                )
                items = response.get("Items", [])
        except ClientError as exc:
            raise translate(exc, "Query") from None
        runs = [Run.model_validate(_from_item(i)) for i in items]
        return sorted(runs, key=lambda r: r.created_at, reverse=True)[:limit]

    # Pipeline watch ----------------------------------------------------------------------------------------------
    def get_watch(self, pipeline: str) -> PipelineWatch | None:
        item = self._get(watch_key(pipeline))
        return PipelineWatch.model_validate(item) if item else None

    def get_watches(self, pipelines: Sequence[str]) -> dict[str, PipelineWatch]:
        """BatchGetItem, 100 keys a request, strongly consistent; keys DynamoDB leaves unprocessed (throttling, the
        16 MB response limit) are asked again with a short backoff (https://docs.aws.amazon.com/amazondynamodb/
        latest/APIReference/API_BatchGetItem.html: "up to 100 items"; "If DynamoDB returns any unprocessed items,
        you should retry the batch operation on those items")."""
        found: dict[str, PipelineWatch] = {}
        names = list(dict.fromkeys(pipelines))
        for start in range(0, len(names), BATCH_GET_MAX):
            keys: list[Any] = [{"pk": {"S": watch_key(name)}} for name in names[start : start + BATCH_GET_MAX]]
            for attempt in range(BATCH_GET_ATTEMPTS):
                request: dict[str, Any] = {self._state: {"Keys": keys, "ConsistentRead": True}}
                try:
                    response = self._client.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise translate(exc, "BatchGetItem") from None
                for item in response.get("Responses", {}).get(self._state, []):
                    watch = PipelineWatch.model_validate(_from_item(item))
                    found[watch.pipeline] = watch
                unprocessed: dict[str, Any] = dict(response.get("UnprocessedKeys") or {})
                keys = list(unprocessed.get(self._state, {}).get("Keys", []))
                if not keys:
                    break
                time.sleep(0.05 * 2**attempt)
            if keys:
                raise PipelineError("Throttled", f"{len(keys)} pipeline watches left unread", transient=True)
        return found

    def put_watch(self, watch: PipelineWatch, expected_version: int | None) -> PipelineWatch:
        new = watch.model_copy(update={"version": 0 if expected_version is None else expected_version + 1})
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        if expected_version is not None:
            condition = {
                "ConditionExpression": "#ver = :ver",
                "ExpressionAttributeNames": {"#ver": "version"},
                "ExpressionAttributeValues": {":ver": {"N": str(expected_version)}},
            }
        try:
            self._client.put_item(TableName=self._state, Item=watch_item(new), **condition)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise StaleWatchError(watch.pipeline) from None
            raise translate(exc, "PutItem") from None
        return new

    # Audit -----------------------------------------------------------------------------------------------------
    def audit(self, record: AuditRecord) -> None:
        try:
            self._client.put_item(TableName=self._audit, Item=audit_item(record))
        except ClientError as exc:
            raise translate(exc, "PutItem") from None

    def audit_trail(self, subject: str) -> list[AuditRecord]:
        records: list[AuditRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self._audit,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": subject}},
        }
        while True:
            response = self._client.query(**kwargs)
            for item in response.get("Items", []):
                data = _from_item(item)
                for extra in ("pk", "sk", "expires_at"):
                    data.pop(extra, None)
                records.append(AuditRecord.model_validate(data))
            if "LastEvaluatedKey" not in response:
                return records
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
