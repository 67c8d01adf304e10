"""Exact wake-ups: when a step decides to look at a run again at time T, a one-time schedule puts the run's
`RunCheckDue` on the pipeline bus at T (EventBridge Scheduler, `shared/aws/scheduler.py`), so the step that owns
the run's state looks at T, not at the next sweep of the periodic check.

The name is derived from the run and the version the wait wrote, so a retried invocation asks for the same schedule
(the scheduler answers `ConflictException`: already there) and a wake-up for a run that has moved on since carries
an old `run_version`, which the dispatcher ignores as a stale check. Nothing here imports an SDK.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.events import PipelineDetail
    from shared.model import Run

# Schedule names: 1-64 characters of [0-9a-zA-Z-_.] (CreateSchedule, Name;
# https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html).
NAME_MAX = 64
WAKEUP_PRECISION_SECONDS = 60  # "invoke their targets with 60 second precision" (schedule-types.html)
_NOT_ALLOWED = re.compile(r"[^0-9A-Za-z_.-]")


def wakeup_name(run: Run) -> str:
    """One name per (run, version): `<run id>-v<version>`, hashed down when too long for the scheduler."""
    name = _NOT_ALLOWED.sub("-", f"{run.run_id}-v{run.version}")
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[: NAME_MAX - 17]}-{digest}"


def at_expression(moment: datetime) -> str:
    """`at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the whole second (never earlier than asked)."""
    whole = moment.replace(microsecond=0)
    if whole < moment:
        whole += timedelta(seconds=1)
    return f"at({whole.strftime('%Y-%m-%dT%H:%M:%S')})"


def minute_before(moment: datetime) -> datetime:
    """A time whose wake-up comes at or before `moment`: the scheduler invokes a schedule set for 1:00 "between
    1:00:00 and 1:00:59" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html), so ask for
    the whole minute that starts one to two minutes before. Whole minutes, so that how a seconds value moves the
    firing within its minute (UNVERIFIED) does not matter."""
    return (moment - timedelta(seconds=WAKEUP_PRECISION_SECONDS)).replace(second=0, microsecond=0)


def parse_at(expression: str) -> datetime | None:
    """The naive UTC time of an `at(...)` expression, or None for rate/cron expressions."""
    match = re.fullmatch(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)", expression.strip())
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S") if match else None


class NoWakeUps:
    """Satisfies `shared.ports.WakeUpScheduler` where wake-ups are off: the periodic check alone finds due runs."""

    def wake_at(self, name: str, at: datetime, detail: PipelineDetail) -> bool:
        return False
