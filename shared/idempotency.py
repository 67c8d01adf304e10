"""At most one processing per event occurrence (Powertools idempotency on DynamoDB), keyed by step and the
event's own idempotency key, so EventBridge's and Lambda's at-least-once deliveries act once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import idempotent_function

from shared.outcome import Outcome


def run_once(idempotency: Any, step: str, key: str, work: Callable[[], Outcome]) -> Outcome:
    """`work()` unless this (step, key) was processed before; then the stored Outcome. `idempotency` is the
    (persistence layer, config) pair of shared.deps, or None to rely on the state store's conditions only."""
    if idempotency is None:
        return work()
    persistence, config = idempotency

    @idempotent_function(
        data_keyword_argument="key", config=config, persistence_store=persistence, output_serializer=None
    )
    def once(key: dict[str, str]) -> dict[str, Any]:
        return work().model_dump()

    return Outcome.model_validate(once(key={"step": step, "occurrence": key}))
