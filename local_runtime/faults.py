"""What can go wrong, on purpose: faults on event deliveries, AWS errors, and a crash or a concurrent twin
delivery at a handler's next state write. Kept apart from the runtime so the fault rules read in one place
and the AWS hooks can use them without importing the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class SimulatedCrash(BaseException):  # noqa: N818 - models a Lambda crash (timeout/OOM), not an error
    """Raised inside a handler to emulate the container dying: no except-block of the handler runs."""


@dataclass
class Fault:
    """Applies to events whose EventID (RDS) or detail-type (pipeline) equals `match`."""

    match: str
    action: str  # "drop" | "duplicate" | "delay" | "concurrent" (a second delivery runs inside the first)
    times: int = 1_000_000
    delay: int = 0


@dataclass
class InjectedError:
    operation: str  # e.g. "CopyDBClusterSnapshot"
    code: str
    times: int = 1
    status: int = 400
    message: str = "injected by the local runtime"


def delivery_delays(faults: list[Fault], key: str, latency: int) -> tuple[list[int], bool]:
    """The delays (seconds) after which an event with `key` is delivered, once per delay, and whether the
    deliveries run concurrently. Uses up one of `times` of every matching fault, in list order."""
    delays = [latency]
    concurrent = False
    for fault in faults:
        if fault.match != key or fault.times <= 0:
            continue
        fault.times -= 1
        if fault.action == "drop":
            delays = []
        elif fault.action == "duplicate":
            delays = delays + [d + 1 for d in delays]
        elif fault.action == "delay":
            delays = [d + fault.delay for d in delays]
        elif fault.action == "concurrent":
            concurrent = True
    return delays, concurrent


def take_injected_error(errors: list[InjectedError], operation: str) -> InjectedError | None:
    """The first error still armed for `operation`, used up once; None lets the call reach moto."""
    for error in errors:
        if error.operation == operation and error.times > 0:
            error.times -= 1
            return error
    return None


class WriteFaults:
    """What strikes at a handler's next state write: a twin delivery that runs to completion first (a
    `concurrent` fault), or a crash armed by an AWS call named in `crash_after` (once per name)."""

    def __init__(self, crash_after: set[str]) -> None:
        self.crash_after = crash_after  # shared with the runtime's attribute of the same name
        self._crash_pending = False
        self._interleave: Callable[[], None] | None = None

    def arm_crash_after(self, operation: str) -> None:
        if operation in self.crash_after:
            self.crash_after.discard(operation)
            self._crash_pending = True

    def interleave(self, twin: Callable[[], None]) -> None:
        self._interleave = twin

    def take_interleave(self) -> Callable[[], None] | None:
        pending, self._interleave = self._interleave, None
        return pending

    def take_crash(self) -> bool:
        pending, self._crash_pending = self._crash_pending, False
        return pending
