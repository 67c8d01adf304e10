"""What a handler returns (and what Powertools idempotency stores to answer a duplicate delivery)."""

from __future__ import annotations

from typing import Literal

from shared.base_model import Model

Result = Literal["rejected", "ignored", "none", "refused", "checked", "opened", "error", "advanced"]


class Outcome(Model):
    step: str
    result: Result
    run_id: str | None = None
    detail: str = ""
