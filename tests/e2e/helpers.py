"""Assertions shared by the end-to-end suites."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.model import RunStatus
from shared.transitions import STATES

HAPPY_PATH = [RunStatus.REQUESTED.value]
while STATES[RunStatus(HAPPY_PATH[-1])].next_states:
    HAPPY_PATH.append(STATES[RunStatus(HAPPY_PATH[-1])].next_states[0].value)


def calls(harness: Any, operation: str, region: str | None = "us-west-2") -> int:
    """Successful AWS calls of `operation` seen by the RDS emulator."""
    return sum(1 for _, r, op in harness.runtime.rds_calls if op == operation and (region is None or r == region))


def assert_exactly_once(harness: Any, runs: int = 1) -> None:
    """One copy, one restore, one success notification per run."""
    assert calls(harness, "CopyDBClusterSnapshot") == runs
    assert calls(harness, "RestoreDBClusterFromSnapshot") == runs
    messages = harness.world.notifications()
    assert len(messages) == runs, messages
    assert Counter("SUCCEEDED" in m for m in messages)[True] == runs


def transitions(harness: Any, run_id: str) -> list[Any]:
    return [r for r in harness.trail(run_id) if r.kind == "transition"]


def nightly(harness: Any) -> Any:
    """Production's nightly snapshot arrives; run the clock until the run is finished and notified."""
    harness.world.nightly_snapshot(harness.runtime)
    [run] = harness.run_to_end()
    return run
