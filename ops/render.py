"""What the CLI prints: rich tables for people, JSON (`-o json`) for scripts. Statuses as words, lists joined,
no `None`; rich wraps long values at word boundaries instead of cutting them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.clock import iso
from shared.model import AuditRecord, Run, RunStatus
from shared.report import duration

BAR_WIDTH = 40


def console(stderr: bool = False) -> Console:
    """A console on the current stdout (made per call, so a test runner's captured stream is the one written)."""
    return Console(stderr=stderr, soft_wrap=False, highlight=False)


def print_json(data: Any) -> None:
    console().print_json(json.dumps(data, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "value"):
        return value.value
    return str(value)


# Columns of free text: they wrap (at spaces; a word longer than the column folds) and take the width left over.
# Every other column (ids, times, statuses, codes) stays on one line.
WRAPPING = {"MESSAGE": 3, "TRIGGER": 2, "MOVE": 1, "LAST ERROR": 3, "WHY": 3, "OUTCOME": 2, "FUNCTION": 1, "DETAIL": 4}


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    grid = Table(title=title, title_justify="left", expand=any(c in WRAPPING for c in columns))
    for column in columns:
        wraps = column in WRAPPING
        grid.add_column(
            column, overflow="fold", no_wrap=not wraps, ratio=WRAPPING.get(column), min_width=16 if wraps else None
        )
    for row in rows:
        grid.add_row(*(Text(text(cell)) for cell in row))  # Text: a `[code]` in a message is not markup
    console().print(grid)


def text(value: object) -> str:
    """A value as an operator reads it: no None, enum values as words, lists joined."""
    if value is None:
        return ""
    if isinstance(value, RunStatus):
        return value.value
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(text(v) for v in value)
    return str(value)


def move(record: AuditRecord) -> str:
    """`REQUESTED -> COPYING`, or `-> REQUESTED` for the first transition (there was no state before it)."""
    if record.kind != "transition":
        return ""
    before = f"{record.from_status.value} " if record.from_status else ""
    return f"{before}-> {text(record.to_status)}"


def run_row(run: Run) -> dict[str, Any]:
    error = run.failure or run.last_error
    waiting = run.status.is_terminal and run.notified_at
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "status": run.status.value,
        "started": iso(run.created_at),
        "next_check": None if waiting else iso(run.next_check_at),
        "error": f"{error.code}: {error.message}" if error else None,
    }


def audit_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": iso(record.at),
        "subject": record.subject,
        "step": record.step,
        "kind": record.kind,
        "move": move(record) or None,
        "trigger": record.trigger,
        "code": record.code,
        "message": record.message,
    }


def timeline(run: Run, now: datetime) -> list[dict[str, Any]]:
    """Each state the run went through, in order, with its duration (an unfinished state: so far)."""
    stages = []
    for status in RunStatus:
        timing = run.timings.get(status.value)
        if timing is None:
            continue
        end = timing.ended_at or (run.ended_at if run.status.is_terminal else None) or now
        seconds = max(int((end - timing.started_at).total_seconds()), 0)
        stages.append(
            {"state": status.value, "started": iso(timing.started_at), "seconds": seconds, "open": not timing.ended_at}
        )
    return sorted(stages, key=lambda stage: stage["started"])


def timeline_chart(stages: list[dict[str, Any]]) -> None:
    """A bar per state, its length proportional to the state's duration."""
    longest = max((stage["seconds"] for stage in stages), default=0) or 1
    grid = Table(title="Timeline", title_justify="left", show_header=True, box=None)
    for column in ("STATE", "STARTED", "DURATION", ""):
        grid.add_column(column, no_wrap=column != "STARTED")
    for stage in stages:
        length = max(1, round(BAR_WIDTH * stage["seconds"] / longest))
        bar = "[green]" + "█" * length + "[/green]" + (" …" if stage["open"] else "")
        grid.add_row(stage["state"], stage["started"], duration(stage["seconds"]), bar)
    console().print(grid)
