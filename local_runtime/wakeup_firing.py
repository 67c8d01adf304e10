"""EventBridge Scheduler's one-time schedules, fired on the simulated clock: moto stores a `CreateSchedule` and
never fires it (tooling facts), so the runtime does what the scheduler would.

When the handlers create a schedule, its firing goes on the runtime's agenda; when that time comes, the schedule is
read back from moto (so one deleted or disabled since does not fire), its templated EventBridge target's event is
put on the bus through the runtime's router (like every other event), and an `ActionAfterCompletion: DELETE`
schedule is deleted, as "EventBridge Scheduler deletes the schedule after its last target invocation"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html).

When: "All schedule types on EventBridge Scheduler invoke their targets with 60 second precision. This means that if
you set your schedule to run at 1:00, it will invoke the target API between 1:00:00 and 1:00:59"
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). Where in that minute is not
documented (UNVERIFIED): `precision="minute"` fires a schedule up to 59 s after its time (never before it), at an
offset fixed per schedule name so a night is reproducible; `precision="second"` fires it at its time, as the
expression's seconds ask.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from moto.scheduler.models import scheduler_backends

from shared.wakeups import parse_at

Precision = Literal["second", "minute"]


class Agenda(Protocol):
    def now(self) -> datetime: ...

    def later(self, seconds: float, action: Callable[[], None]) -> None: ...

    def put_scheduled_event(self, bus_arn: str, detail_type: str, source: str, detail: dict[str, Any]) -> None: ...


def lateness(name: str, precision: Precision) -> float:
    """Seconds after its time that a schedule fires (within the documented minute; fixed per name)."""
    if precision == "second":
        return 0.0
    return float(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 60)


class WakeUpFiring:
    def __init__(self, agenda: Agenda, account: str, precision: Precision = "minute") -> None:
        self.agenda = agenda
        self.account = account
        self.precision = precision
        self.fired: list[tuple[datetime, str, float]] = []  # (when, schedule name, seconds after its time)

    def created(self, region: str, params: dict[str, Any]) -> None:
        """A CreateSchedule the handlers made: put its firing on the agenda (only one-time `at()` schedules)."""
        at = parse_at(str(params.get("ScheduleExpression", "")))
        if at is None:
            return
        if params.get("ScheduleExpressionTimezone", "UTC") != "UTC":
            raise NotImplementedError("the local runtime fires at() schedules in UTC only")
        name, group = str(params["Name"]), str(params.get("GroupName") or "default")
        due = at.replace(tzinfo=UTC).timestamp() + lateness(name, self.precision)
        seconds = max(due - self.agenda.now().timestamp(), 0.0)  # one in the past fires at once
        self.agenda.later(seconds, lambda: self.fire(region, group, name, at))

    def fire(self, region: str, group: str, name: str, at: datetime) -> None:
        backend = scheduler_backends[self.account][region]
        schedules = backend.schedule_groups.get(group)
        schedule = schedules.schedules.get(name) if schedules is not None else None
        if schedule is None or schedule.state != "ENABLED" or parse_at(schedule.schedule_expression) != at:
            return  # deleted, disabled or moved since
        target = schedule.target
        parameters = target.get("EventBridgeParameters")
        if parameters is None:
            raise NotImplementedError("the local runtime fires EventBridge (PutEvents) targets only")
        late = (self.agenda.now() - at.replace(tzinfo=UTC)).total_seconds()
        self.fired.append((self.agenda.now(), name, late))
        detail = json.loads(target.get("Input") or "{}")
        self.agenda.put_scheduled_event(target["Arn"], parameters["DetailType"], parameters["Source"], detail)
        if schedule.action_after_completion == "DELETE":
            backend.delete_schedule(group, name)
