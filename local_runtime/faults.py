"""What can go wrong, on purpose: faults on event deliveries, AWS errors, a handler's crash. Kept apart from
the runtime so the fault rules read in one place and the AWS hooks can use them without importing the runtime."""

from __future__ import annotations

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
