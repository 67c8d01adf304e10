"""The template's scheduled orchestrator check, as EventBridge Scheduler would fire it: every so many seconds,
with the schedule's Input (or a scheduled-event envelope). Nothing in moto fires schedules, so the runtime does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local_runtime.envelopes import scheduled_event
from local_runtime.template_rules import FunctionSpec, parameter_defaults, resolve


@dataclass(frozen=True)
class ScheduledCheck:
    seconds: int
    input: dict[str, Any] | None  # the schedule's Input, if the template gives one

    @classmethod
    def from_template(cls, template: dict[str, Any], specs: list[FunctionSpec]) -> ScheduledCheck:
        params = parameter_defaults(template)
        scheduled = [spec for spec in specs if spec.schedule]
        if not scheduled:
            raise RuntimeError("template.yaml has no scheduled orchestrator check")
        seconds = rate_seconds(str(resolve(scheduled[0].schedule, params)))
        inputs = [spec.schedule_input for spec in scheduled if spec.schedule_input is not None]
        return cls(seconds, inputs[0] if inputs else None)

    def payload(self, now: datetime, account: str) -> dict[str, Any]:
        return dict(self.input) if self.input is not None else scheduled_event(now, account)


def rate_seconds(expression: str) -> int:
    """`rate(1 minute)` -> 60. The local runtime only emulates rate schedules."""
    match = re.fullmatch(r"rate\((\d+) (minutes?|hours?)\)", expression.strip())
    if match is None:
        raise ValueError(f"the local runtime only runs rate(...) schedules, not {expression!r}")
    return int(match.group(1)) * (60 if match.group(2).startswith("minute") else 3600)
