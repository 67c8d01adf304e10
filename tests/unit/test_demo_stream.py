"""The demo's live timeline: each audit record goes to the printer the moment the store has written it (never
one whose write failed), in the timeline's columns, as plain text off a terminal."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

from local_runtime.demo_stream import AuditTap, TimelinePrinter, happy_path, record_line
from shared.errors import StaleRunError
from shared.model import AuditRecord, RunStatus
from shared.transitions import STATES
from tests.unit.fakes import RUN_ID, T0, InMemoryStateStore, make_run


def record(to: RunStatus | None, at_minutes: int = 0, kind: str = "transition") -> AuditRecord:
    return AuditRecord(
        subject=RUN_ID,
        at=T0 + timedelta(minutes=at_minutes),
        kind=kind,  # type: ignore[arg-type]
        step="copy-snapshot",
        message=f"[{kind}] copy requested",  # brackets: not rich markup
        run_id=RUN_ID,
        pipeline="nightly",
        from_status=RunStatus.REQUESTED if to else None,
        to_status=to,
        trigger="RunRequested",
    )


def test_each_audit_record_reaches_the_listener_once_written() -> None:
    # Given a store whose writes are tapped
    heard: list[AuditRecord] = []
    inner = InMemoryStateStore()
    store = AuditTap(inner, heard.append)
    run = make_run(RunStatus.REQUESTED)
    opened, moved, remark = record(RunStatus.REQUESTED), record(RunStatus.COPYING, 1), record(None, 2, "decision")
    # When a run is created, moved, and remarked on
    store.create_run(run, "lock", opened)
    stored = inner.runs[run.run_id]
    store.write(stored.model_copy(update={"status": RunStatus.COPYING}), (stored.status, stored.version), moved)
    store.audit(remark)
    # Then the listener heard each record in order, and reads pass through
    assert heard == [opened, moved, remark] == inner.audits
    assert store.get_run(run.run_id) is not None and store.lock_holder("lock") == run.run_id


def test_a_failed_write_tells_the_listener_nothing() -> None:
    heard: list[AuditRecord] = []
    inner = InMemoryStateStore()
    store = AuditTap(inner, heard.append)
    run = inner.seed(make_run(RunStatus.COPYING))
    with pytest.raises(StaleRunError):
        store.write(run, (RunStatus.COPYING, run.version + 1), record(RunStatus.REPLACING_TARGET))
    store.write(run, (run.status, run.version), None)  # a write without a record
    assert heard == []


def test_a_line_carries_simulated_time_night_offset_and_real_seconds() -> None:
    line = record_line(record(RunStatus.COPYING, 75), T0, 2.25)
    assert line.startswith("04:25:00Z +01:15:00    2.2s  copy-snapshot ")
    assert "REQUESTED -> COPYING" in line and line.endswith("[transition] copy requested")


def test_off_a_terminal_the_timeline_is_plain_lines_as_they_come() -> None:
    # Given a printer on a pipe (not a terminal)
    out = io.StringIO()
    with TimelinePrinter(out, T0, lambda: T0) as printer:
        assert not printer.live
        printer.on_record(record(RunStatus.REQUESTED))
        first = out.getvalue()
        printer.on_record(record(RunStatus.COPYING, 1))
        printer.note(T0 + timedelta(minutes=2), "a note")
    # Then each line was written when its record came, and nothing is a control code
    assert first.splitlines()[-1] == printer.lines[0]
    assert out.getvalue().splitlines()[1:] == [*printer.lines, out.getvalue().splitlines()[-1]]
    assert "\x1b" not in out.getvalue() and "\r" not in out.getvalue()


def test_on_a_terminal_a_status_line_shows_the_clock_and_each_runs_state() -> None:
    out = io.StringIO()
    with TimelinePrinter(out, T0, lambda: T0 + timedelta(minutes=5), live=True) as printer:
        printer.on_record(record(RunStatus.COPYING, 5))
        status = printer._progress().plain
    path = happy_path()
    assert f"nightly: COPYING ({path.index(RunStatus.COPYING) + 1}/{len(path)})" in status
    assert "simulated 03:15:00Z +00:05:00" in status


def test_the_happy_path_is_read_from_the_transition_table() -> None:
    path = happy_path()
    assert path[0] is RunStatus.REQUESTED and path[-1].is_terminal
    assert all(b in STATES[a].next_states for a, b in zip(path, path[1:], strict=False))
