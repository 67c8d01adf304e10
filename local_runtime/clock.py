"""The simulated clock the local runtime, the handlers and the RDS emulator share, so no test ever sleeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    """Satisfies `shared.clock.Clock`; only moves forward, because the event queue is processed in time order."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        # What happens while a handler sleeps (the runtime processes what falls due meanwhile); None: nothing does.
        self.while_asleep: Callable[[datetime], None] | None = None

    def sleep(self, seconds: float) -> None:
        until = self._now + timedelta(seconds=seconds)
        if self.while_asleep is not None:
            self.while_asleep(until)
        self.set(until)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment > self._now:
            self._now = moment
