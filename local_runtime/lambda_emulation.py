"""What Lambda does around a handler call that the local runtime has to imitate: load the handler the template
names, hand it a context, retry a failed async invocation twice, and let a crashed invocation's in-progress
idempotency record expire before the retry."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID

from local_runtime.template_rules import FunctionSpec

LAMBDA_RETRY_DELAYS = (60, 120)  # Lambda async invocation: 2 retries, ~1 and ~2 minutes apart


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context, and the invocation's remaining time: real seconds
    from its creation to `timeout_seconds` (the function's Timeout in the template), as Lambda counts it."""

    def __init__(self, function_name: str, timeout_seconds: float = 60.0) -> None:
        self.deadline = time.monotonic() + timeout_seconds
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def load_handler(spec: FunctionSpec) -> Callable[..., dict[str, Any]]:
    """The function `Handler` names inside `CodeUri`, imported as Lambda would."""
    module_name = spec.code_uri.strip("/").replace("/", ".") + "." + spec.handler.rsplit(".", 1)[0]
    module = importlib.import_module(module_name)
    handler: Callable[..., dict[str, Any]] = getattr(module, spec.handler.rsplit(".", 1)[1])
    return handler


def expire_in_progress_idempotency(dynamodb: Any, table: str | None) -> None:
    """By the time Lambda retries a crashed invocation, its in-progress idempotency record has expired."""
    if not table:
        return
    items = dynamodb.scan(TableName=table).get("Items", [])
    for item in items:
        if item.get("status", {}).get("S") == "INPROGRESS":
            dynamodb.delete_item(TableName=table, Key={"id": item["id"]})
