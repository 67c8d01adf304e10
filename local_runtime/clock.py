"""The simulated clock the local runtime, the handlers and the RDS emulator share, so no test ever sleeps."""

from __future__ import annotations

from datetime import datetime


class SimClock:
    """Satisfies `shared.clock.Clock`; only moves forward, because the event queue is processed in time order."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment
