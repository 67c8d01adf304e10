"""moto's TransactWriteItems backs up every table it touches with a deep copy before it writes, to roll back if one
of the operations fails. The state and audit tables grow all night, so each state write costs more than the last:
on a night of 100 pipelines that copying is most of the emulator's time. This keeps moto's transaction (its checks,
writes and errors) and backs up only the items the transaction touches instead; a failed transaction still leaves
every item as it was, as DynamoDB promises ("either all of them succeed or none of them succeeds",
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
"""

from __future__ import annotations

import copy
import types
from typing import Any

from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

_ORIGINAL = DynamoDBBackend.transact_write_items
_INSTALLED = "_aurora_restore_item_backup"

Backup = list[tuple[Table, DynamoType, DynamoType | None, Any]]


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """moto's whole-table backup becomes a no-op (the items are backed up instead); every other copy is deep."""
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _backup(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Backup:
    saved: Backup = []
    for entry in transact_items:
        for op_type, op in entry.items():
            table = backend.tables.get(op.get("TableName", ""))
            if table is None:
                continue
            attrs = op.get("Item") if op_type == "Put" else op.get("Key")
            if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
                continue
            hash_key = DynamoType(attrs[table.hash_key_attr])
            range_attr = table.range_key_attr
            range_key = DynamoType(attrs[range_attr]) if range_attr and range_attr in attrs else None
            if range_attr and range_key is None:
                continue
            current = table.items.get(hash_key)
            if range_key is not None:
                current = current.get(range_key) if isinstance(current, dict) else None
            saved.append((table, hash_key, range_key, copy.deepcopy(current)))
    return saved


def _restore(saved: Backup) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
            continue
        members = table.items[hash_key]
        if item is None:
            members.pop(range_key, None)
        else:
            members[range_key] = item


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    saved = _backup(self, transact_items)
    try:
        _ORIGINAL(self, transact_items)
    except Exception:
        _restore(saved)
        raise


def install() -> None:
    """Idempotent: patch moto's DynamoDB backend for this process."""
    if getattr(DynamoDBBackend, _INSTALLED, False):
        return
    shim = types.SimpleNamespace(**{name: getattr(copy, name) for name in ("copy", "Error")})
    shim.deepcopy = _deepcopy_but_tables
    vars(dynamodb_models)["copy"] = shim  # the module's only whole-table copy is the backup
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    setattr(DynamoDBBackend, _INSTALLED, True)
