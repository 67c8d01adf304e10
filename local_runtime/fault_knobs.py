"""The demo's `--fault` knobs: one short spec per fault, parsed into the test harness's own fault model
(`local_runtime.faults`) and the runtime's stuck-copy knob, so the demo injects exactly what the tests do.

    drop:KEY[:TIMES]              the event is never delivered
    delay:KEY:SECONDS[:TIMES]     delivered SECONDS (simulated) late
    duplicate:KEY[:TIMES]         delivered twice
    error:OPERATION:CODE[:TIMES]  the AWS call fails with CODE (TIMES calls, default 1)
    stuck-copy[:PERCENT]          snapshot copies stop at PERCENT (default 40) and never finish

KEY is an RDS event id (`RDS-EVENT-0171`) or one of the pipeline's own detail-types (`SnapshotCopied`); without
TIMES a drop, delay or duplicate applies to every such event."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session

from local_runtime.faults import Fault, InjectedError
from shared.routing import RDS_EVENTS
from shared.transitions import DetailType

KNOBS_HELP = __doc__.split("\n\n", 1)[1] if __doc__ else ""
EVENT_KEYS: tuple[str, ...] = (*RDS_EVENTS, *(d.value for d in DetailType))
DEFAULT_STUCK_PERCENT = 40
# HTTP status of the errors common to every AWS API; the rest are 400s
# (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html).
_SERVER_ERRORS = {"InternalFailure": 500, "ServiceUnavailable": 503}
# The services whose clients the functions build (shared/deps.py): an injected error names one of their operations.
SERVICES = ("rds", "dynamodb", "events", "sns", "secretsmanager", "ssm")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")  # an error code: ThrottlingException, AWS.SimpleQueueService.X


class FaultSpecError(ValueError):
    """A `--fault` spec that does not parse; the message says what a right one looks like."""


@dataclass
class FaultPlan:
    """What the runtime is given: event faults, AWS errors, and where copies get stuck (None: they finish)."""

    faults: list[Fault] = field(default_factory=list)
    errors: list[InjectedError] = field(default_factory=list)
    copy_stuck_at: int | None = None

    def runtime_options(self) -> dict[str, Any]:
        return {"faults": self.faults, "errors": self.errors, "copy_stuck_at": self.copy_stuck_at}

    def describe(self) -> list[str]:
        lines = [f"{f.action} {f.match}" + (f" by {f.delay}s" if f.action == "delay" else "") for f in self.faults]
        lines += [f"{e.operation} fails with {e.code} (HTTP {e.status}) x{e.times}" for e in self.errors]
        if self.copy_stuck_at is not None:
            lines.append(f"snapshot copies stop at {self.copy_stuck_at}%")
        return lines


def parse_faults(specs: list[str]) -> FaultPlan:
    plan = FaultPlan()
    for spec in specs:
        _parse_one(spec.strip(), plan)
    return plan


def _parse_one(spec: str, plan: FaultPlan) -> None:
    kind, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if kind in ("drop", "duplicate"):
        key, times = _take(spec, parts, 1, f"{kind}:KEY[:TIMES]")
        plan.faults.append(Fault(_event_key(spec, key[0]), kind, _times(spec, times, 1_000_000)))
    elif kind == "delay":
        args, times = _take(spec, parts, 2, "delay:KEY:SECONDS[:TIMES]")
        seconds = _positive(spec, args[1], "SECONDS")
        plan.faults.append(Fault(_event_key(spec, args[0]), "delay", _times(spec, times, 1_000_000), seconds))
    elif kind == "error":
        args, times = _take(spec, parts, 2, "error:OPERATION:CODE[:TIMES]")
        operation, code = args
        if operation not in known_operations():
            raise FaultSpecError(
                f"{spec!r}: no operation {operation!r} in {', '.join(SERVICES)} (API names such as "
                "CopyDBClusterSnapshot, as the AWS API reference spells them)"
            )
        if not _CODE.match(code):
            raise FaultSpecError(f"{spec!r}: CODE is an AWS error code such as ThrottlingException")
        status = _SERVER_ERRORS.get(code, 400)
        plan.errors.append(InjectedError(operation, code, _times(spec, times, 1), status))
    elif kind == "stuck-copy":
        if len(parts) > 1:
            raise FaultSpecError(f"{spec!r}: expected stuck-copy[:PERCENT]")
        percent = _positive(spec, parts[0], "PERCENT") if parts else DEFAULT_STUCK_PERCENT
        if percent >= 100:
            raise FaultSpecError(f"{spec!r}: PERCENT must be below 100 (a copy at 100% has finished)")
        plan.copy_stuck_at = percent
    else:
        raise FaultSpecError(f"{spec!r}: unknown fault {kind!r}; one of drop, delay, duplicate, error, stuck-copy")


@cache
def known_operations() -> frozenset[str]:
    session = botocore.session.get_session()
    return frozenset(op for service in SERVICES for op in session.get_service_model(service).operation_names)


def _take(spec: str, parts: list[str], needed: int, form: str) -> tuple[list[str], str | None]:
    if len(parts) not in (needed, needed + 1) or not all(parts):
        raise FaultSpecError(f"{spec!r}: expected {form}")
    return parts[:needed], (parts[needed] if len(parts) > needed else None)


def _event_key(spec: str, key: str) -> str:
    if key not in EVENT_KEYS:
        raise FaultSpecError(f"{spec!r}: unknown event {key!r}; one of {', '.join(EVENT_KEYS)}")
    return key


def _times(spec: str, value: str | None, default: int) -> int:
    return default if value is None else _positive(spec, value, "TIMES")


def _positive(spec: str, value: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise FaultSpecError(f"{spec!r}: {what} must be a whole number above 0, not {value!r}")
    return int(value)
