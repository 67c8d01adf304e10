"""The demo's live timeline: every audit record printed the moment a handler writes it (on the simulated clock),
with the simulated time, the offset into the night and the real seconds elapsed; on a terminal, a status line
below it shows the simulated clock and each run's state.

Nothing here knows the state names or how many there are: a run's position is read from `shared.transitions`
(the happy path, first next state after first next state), so new states show up without a change here. Off a
terminal (CI logs, a pipe) the lines are plain text: no colours, no cursor movement, no spinner."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from rich.console import Console
from rich.status import Status
from rich.text import Text

from shared.model import AuditRecord, RunStatus
from shared.transitions import STATES


def happy_path() -> list[RunStatus]:
    """The states a run passes through when all goes well, in order (from the transition table)."""
    path = [RunStatus.REQUESTED]
    while STATES[path[-1]].next_states:
        path.append(STATES[path[-1]].next_states[0])
    return path


class AuditTap:
    """Wraps the state store: each audit record, once written, goes to `listener` (a failed write tells nothing)."""

    def __init__(self, inner: Any, listener: Callable[[AuditRecord], None]) -> None:
        self._inner = inner
        self._listener = listener

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def create_run(self, run: Any, lock_key: str, audit: AuditRecord) -> Any:
        result = self._inner.create_run(run, lock_key, audit)
        self._listener(audit)
        return result

    def write(self, run: Any, expected: Any, audit: AuditRecord | None, release_lock: str | None = None) -> Any:
        result = self._inner.write(run, expected, audit, release_lock)
        if audit is not None:
            self._listener(audit)
        return result

    def audit(self, record: AuditRecord) -> Any:
        result = self._inner.audit(record)
        self._listener(record)
        return result


def stamp(moment: datetime, start: datetime) -> str:
    offset = max(0, int((moment - start).total_seconds()))
    return f"{moment:%H:%M:%S}Z +{offset // 3600:02d}:{offset % 3600 // 60:02d}:{offset % 60:02d}"


def record_line(record: AuditRecord, start: datetime, real_seconds: float) -> str:
    move = f"{record.from_status or '':>16} -> {record.to_status}" if record.kind == "transition" else ""
    return (
        f"{stamp(record.at, start)} {real_seconds:6.1f}s  {record.step:<21} {record.kind:<10} "
        f"{(record.trigger or '')[:24]:<24} {move:<36} {record.message}"
    ).rstrip()


class TimelinePrinter:
    """Prints the records as they come; `tick()` (called between the runtime's events) refreshes the status line."""

    HEADER = f"{'SIMULATED':<9} {'NIGHT':<9} {'REAL':>7}  {'STEP':<21} {'KIND':<10} {'TRIGGER':<24} MOVE / MESSAGE"

    def __init__(self, out: TextIO, start: datetime, clock: Callable[[], datetime], live: bool | None = None) -> None:
        self._out = out
        self._start = start
        self._clock = clock
        self._began = time.monotonic()
        self._console = Console(file=out, highlight=False, soft_wrap=True)
        self.live = self._console.is_terminal if live is None else live
        self._status: Status | None = None
        self._runs: dict[str, tuple[str, RunStatus]] = {}  # run id -> (pipeline, state)
        self._path = happy_path()
        self.lines: list[str] = []

    def __enter__(self) -> TimelinePrinter:
        self.print(self.HEADER)
        if self.live:
            # Not redirecting stdout: the demo swallows the handlers' own prints while the night runs.
            self._status = Status(self._progress(), console=self._console, spinner="dots")
            self._status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def print(self, line: str) -> None:
        if self.live:
            self._console.print(Text(line))  # Text: a `[code]` in a message is not markup
        else:
            self._out.write(line + "\n")
            self._out.flush()

    def note(self, moment: datetime, text: str) -> None:
        """A line of the world's own (not an audit record), in the timeline's columns."""
        self.print(f"{stamp(moment, self._start)} {time.monotonic() - self._began:6.1f}s  {text}")

    def on_record(self, record: AuditRecord) -> None:
        if record.run_id and record.to_status is not None:
            self._runs[record.run_id] = (record.pipeline or "", record.to_status)
        line = record_line(record, self._start, time.monotonic() - self._began)
        self.lines.append(line)
        self.print(line)
        self.tick()

    def tick(self) -> None:
        if self._status is not None:
            self._status.update(self._progress())

    def _progress(self) -> Text:
        now = self._clock()
        runs = [self._position(pipeline, state) for pipeline, state in self._runs.values()] or ["waiting for a trigger"]
        real = time.monotonic() - self._began
        return Text(f"simulated {stamp(now, self._start)}  real {real:5.1f}s  " + "  ".join(runs))

    def _position(self, pipeline: str, state: RunStatus) -> str:
        if state in self._path and not state.is_terminal:
            return f"{pipeline}: {state.value} ({self._path.index(state) + 1}/{len(self._path)})"
        return f"{pipeline}: {state.value}"
