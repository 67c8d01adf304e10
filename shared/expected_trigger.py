"""When a pipeline's nightly trigger (RDS-EVENT-0169) is expected, and from when on it is overdue.

RDS takes the automated snapshot of an Aurora cluster during its backup window: `PreferredBackupWindow`, "the daily
time range during which automated backups are created", format `hh24:mi-hh24:mi`, in UTC
(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html). A night's trigger is therefore
expected from the window's start; it is overdue once the window's end plus the pipeline's grace period has passed.
The window may cross midnight (`23:45-00:15`). A configured `expected_start` of one time (`hh24:mi`) is a window
of no length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from shared.errors import ConfigError

DAY = timedelta(days=1)
# After a night was examined, the next one starts at least this much later: a window moved later by a few hours must
# not make the watch examine the same night twice.
MIN_NIGHT_GAP = timedelta(hours=12)


@dataclass(frozen=True)
class Window:
    start: time
    end: time

    @property
    def length(self) -> timedelta:
        length = datetime.combine(datetime.min, self.end) - datetime.combine(datetime.min, self.start)
        return length if length >= timedelta(0) else length + DAY

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} UTC"


@dataclass(frozen=True)
class Night:
    """One night of a pipeline: its trigger is expected from `start` and overdue from `due` on."""

    start: datetime
    due: datetime


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?:-([01]\d|2[0-3]):([0-5]\d))?$")


def parse_window(text: str) -> Window:
    """`hh24:mi-hh24:mi` (PreferredBackupWindow) or `hh24:mi` (a configured point in time), UTC."""
    match = _WINDOW.match(text.strip())
    if match is None:
        raise ConfigError(f"backup window {text!r} is not 'hh24:mi-hh24:mi' (UTC)")
    start_h, start_m, end_h, end_m = match.groups()
    start = time(int(start_h), int(start_m))
    end = time(int(end_h), int(end_m)) if end_h is not None else start
    return Window(start, end)


def night_from(window: Window, grace: timedelta, moment: datetime) -> Night:
    """The first night whose window starts at or after `moment`."""
    start = datetime.combine(moment.astimezone(UTC).date(), window.start, UTC)
    if start < moment:
        start += DAY
    return Night(start, start + window.length + grace)


def night_after(window: Window, grace: timedelta, examined: datetime, now: datetime) -> Night:
    """The night to await after the one that started at `examined`: the next one that is not yet due (nights the
    watch could not look at, e.g. while the check was down for days, are not examined one by one)."""
    night = night_from(window, grace, examined + MIN_NIGHT_GAP)
    while night.due <= now:
        night = night_from(window, grace, night.start + MIN_NIGHT_GAP)
    return night
