"""The local runtime's item-level rollback of moto's TransactWriteItems (local_runtime/moto_transactions.py): all of
a transaction's writes or none, as DynamoDB promises, without copying whole tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_runtime import moto_transactions


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    moto_transactions.install()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        for name, keys in (("runs", ["pk"]), ("audit", ["pk", "sk"])):
            client.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in zip(keys, ("HASH", "RANGE"), strict=False)],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
                BillingMode="PAY_PER_REQUEST",
            )
        client.put_item(TableName="runs", Item={"pk": {"S": "run-1"}, "version": {"N": "1"}})
        client.put_item(TableName="audit", Item={"pk": {"S": "run-1"}, "sk": {"S": "a"}, "message": {"S": "first"}})
        yield client


def write(client: Any, expected_version: str, guard: str = "first") -> None:
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "runs",
                    "Key": {"pk": {"S": "run-1"}},
                    "UpdateExpression": "SET version = :new",
                    "ConditionExpression": "version = :old",
                    "ExpressionAttributeValues": {":new": {"N": "2"}, ":old": {"N": expected_version}},
                }
            },
            {"Put": {"TableName": "audit", "Item": {"pk": {"S": "run-1"}, "sk": {"S": "b"}, "message": {"S": "new"}}}},
            {
                "Update": {
                    "TableName": "audit",
                    "Key": {"pk": {"S": "run-1"}, "sk": {"S": "a"}},
                    "UpdateExpression": "SET message = :changed",
                    "ConditionExpression": "message = :guard",
                    "ExpressionAttributeValues": {":changed": {"S": "changed"}, ":guard": {"S": guard}},
                }
            },
        ]
    )


def state(client: Any) -> tuple[str, list[tuple[str, str]]]:
    version = client.get_item(TableName="runs", Key={"pk": {"S": "run-1"}})["Item"]["version"]["N"]
    items = client.query(
        TableName="audit", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "run-1"}}
    )["Items"]
    return version, [(i["sk"]["S"], i["message"]["S"]) for i in items]


def test_a_transaction_whose_last_condition_fails_leaves_every_item_as_it_was(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as error:
        write(dynamodb, expected_version="1", guard="not-what-is-there")  # the first two writes would succeed
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert state(dynamodb) == ("1", [("a", "first")])


def test_a_transaction_whose_conditions_hold_writes_everything(dynamodb: Any) -> None:
    write(dynamodb, expected_version="1")
    assert state(dynamodb) == ("2", [("a", "changed"), ("b", "new")])
    with pytest.raises(ClientError):
        write(dynamodb, expected_version="1", guard="changed")  # stale version: nothing of it lands
    assert state(dynamodb) == ("2", [("a", "changed"), ("b", "new")])
