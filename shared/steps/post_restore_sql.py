"""The post-restore SQL of setup-db-users: one statement at a time, resumable across invocations.

Masking a real database can take longer than one invocation of the DB-user function (its timeout is the template
parameter DbUserFunctionTimeout, at most 900 s). So, per statement:

- before it starts, the run records "statement k started" with this invocation's end (`running_until`) and the
  server connection running it; that write also pushes the run's next check past that end, so the orchestrator
  check does not re-drive the run while the statement runs;
- it runs with a timeout that keeps a reserve of the invocation's time: a statement still running then is
  cancelled on the server (`StatementTimedOut`), recorded, and the run continues in a fresh invocation
  (`turn.wait(0)`) instead of being killed by Lambda mid-statement;
- once finished, the run records "statement k finished", so a retry resumes after it: each statement is recorded
  as finished once;
- a statement found still "started" after its invocation's end means that invocation died (killed at its timeout
  or crashed); the server may still be running it (MySQL does not stop a statement when its client vanishes), so it
  is cancelled before the statement is tried again.

A statement that twice had a whole invocation to itself and still did not finish fails the run with
`StatementTooLong`, naming the statement, its run time and what to do. Statements must be idempotent: a cancelled
or interrupted statement is rolled back, but one cancelled at the moment it finished is re-run.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import timedelta
from enum import Enum

from shared.clock import iso
from shared.errors import PipelineError, StatementTimedOut
from shared.model import SqlProgress
from shared.ports import SqlSession
from shared.sql.statements import cancel_statement, connection_id, running_statement
from shared.steps.turn import StepTurn

# Whole invocations one statement may take (the second rules out a slow moment, e.g. a lock wait).
FULL_ATTEMPTS = 2
# After an invocation's end, before a later look treats its statement as abandoned (clock skew, Lambda's teardown).
GRACE = timedelta(seconds=30)
# Recorded in audit messages and the failure, so an operator sees which statement it was.
STATEMENT_EXCERPT = 160


class SqlOutcome(Enum):
    DONE = "done"  # every statement finished: go on with roles and users
    STOPPED = "stopped"  # this invocation ends here; the run records what happens next


class Budget:
    """This invocation's time as the step sees it. `reserve` is kept back to cancel a statement, record that and
    return: a tenth of the invocation's time when the SQL starts, between 1 and 20 seconds."""

    def __init__(self, time_left: Callable[[], float]) -> None:
        self._time_left = time_left
        self.reserve = min(20.0, max(1.0, 0.1 * time_left()))

    def left(self) -> float:
        return self._time_left()

    def window(self) -> float:
        """How long the next statement may run."""
        return max(self._time_left() - self.reserve, 1.0)

    def room_for_another(self) -> bool:
        """Start another statement in this invocation only while at least twice the reserve is left."""
        return self._time_left() >= 2 * self.reserve


def fingerprint(statements: list[str]) -> str:
    return hashlib.sha256("\x00".join(statements).encode("utf-8")).hexdigest()[:16]


def excerpt(sql: str) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= STATEMENT_EXCERPT else flat[: STATEMENT_EXCERPT - 3] + "..."


class PostRestoreSql:
    """Runs the statements of one run in one invocation, as far as its time allows. `turn` follows the run as
    this writes it; `budget` is left for what the step does next."""

    def __init__(self, turn: StepTurn, session: SqlSession, statements: list[str]) -> None:
        self.turn = turn
        self.budget = Budget(turn.deps.time_left)
        self._session = session
        self._statements = statements
        self._connection_id: int | None = None

    @property
    def _total(self) -> int:
        return len(self._statements)

    def run(self) -> SqlOutcome:
        if not self._statements:
            return SqlOutcome.DONE
        progress = self._progress()
        if progress.in_flight:
            resumed = self._abandoned(progress)
            if resumed is None:
                return SqlOutcome.STOPPED
            progress = resumed
        fresh = True
        while progress.done < self._total:
            if not fresh and not self.budget.room_for_another():
                self.turn.wait(
                    0,
                    f"{progress.done}/{self._total} post-restore statement(s) done; "
                    f"{self.budget.left():.0f}s left, continuing in a fresh invocation",
                )
                return SqlOutcome.STOPPED
            finished = self._one(progress, fresh)
            if finished is None:
                return SqlOutcome.STOPPED
            progress, fresh = finished, False
        return SqlOutcome.DONE

    # ---- where the run stands ----------------------------------------------------------------------------------
    def _progress(self) -> SqlProgress:
        current = self.turn.run.sql_progress
        digest = fingerprint(self._statements)
        if current is not None and current.fingerprint == digest:
            return current
        if current is None:
            return SqlProgress(fingerprint=digest, total=self._total)
        self.turn.deps.log.warning(
            "post-restore SQL changed since the last attempt; starting over at statement 1",
            extra={"run_id": self.turn.run.run_id},
        )
        # A statement of the old list may still run in another invocation: wait for its end as for any other (its
        # text is unknown now, so it cannot be matched for a cancel).
        return SqlProgress(
            fingerprint=digest,
            total=self._total,
            running_since=current.running_since,
            running_until=current.running_until,
        )

    def _abandoned(self, progress: SqlProgress) -> SqlProgress | None:
        """A statement recorded as started and never as ended: still running elsewhere, or its invocation died."""
        k, turn = progress.next_statement, self.turn
        assert progress.running_until is not None and progress.running_since is not None
        if turn.now() < progress.running_until + GRACE:
            turn.ignore(
                f"post-restore statement {k}/{self._total} started at {iso(progress.running_since)} may still be "
                f"running in another invocation (until {iso(progress.running_until)})"
            )
            return None
        self._cancel_leftover(progress)
        ran = int((progress.running_until - progress.running_since).total_seconds())
        ended = _attempt_ended(progress, ran)
        what = (
            f"the invocation running post-restore statement {k}/{self._total} (started "
            f"{iso(progress.running_since)}) ended before it finished: killed at the function's timeout after "
            f"up to {ran}s, or crashed"
        )
        if ended.full_attempts >= FULL_ATTEMPTS:
            turn.fail(self._too_long(ended))
            return None
        stored = turn.note("error", f"{what}; trying it again", sql_progress=ended)
        if stored is None:
            return None
        self.turn = turn.moved(stored)
        return ended

    # ---- one statement -----------------------------------------------------------------------------------------
    def _one(self, progress: SqlProgress, fresh: bool) -> SqlProgress | None:
        """Run statement `done + 1`; the progress after it finished, or None when this invocation stops here."""
        turn, deps = self.turn, self.turn.deps
        k, sql = progress.next_statement, self._statements[progress.next_statement - 1]
        now = turn.now()
        left = self.budget.left()
        until = turn.run.deadline_at if math.isinf(left) else min(now + timedelta(seconds=left), turn.run.deadline_at)
        started = progress.model_copy(
            update={
                "first_started_at": progress.first_started_at or now,
                "running_since": now,
                "running_until": until,
                "running_fresh": fresh,
                "connection_id": self._session_id(),
            }
        )
        stored = turn.claim(
            f"post-restore statement {k}/{self._total} started: {excerpt(sql)}",
            sql_progress=started,
            next_check_at=until + GRACE,
        )
        if stored is None:
            turn.ignore(f"run changed before post-restore statement {k} started; leaving it to that change")
            return None
        self.turn = turn = turn.moved(stored)
        window = self.budget.window()
        began = deps.monotonic()
        try:
            self._session.execute(sql, timeout=None if math.isinf(window) else window)
        except StatementTimedOut:
            self._timed_out(started, int(deps.monotonic() - began))
            return None
        except PipelineError as exc:
            turn.note(
                "error",
                f"post-restore statement {k}/{self._total} failed: {exc.code}",
                sql_progress=_attempt_ended(started, None, counts=False),
            )
            raise
        seconds = deps.monotonic() - began
        finished = SqlProgress(fingerprint=started.fingerprint, total=started.total, done=k)
        stored = turn.note(
            "decision", f"post-restore statement {k}/{self._total} finished in {seconds:.1f}s", sql_progress=finished
        )
        if stored is None:
            return None
        self.turn = turn.moved(stored)
        return finished

    def _session_id(self) -> int | None:
        """The server connection running our statements (asked once per session)."""
        if self._connection_id is None:
            probe = connection_id()
            rows = self._session.query(probe.sql, probe.params)
            self._connection_id = int(str(rows[0][0])) if rows and rows[0][0] is not None else None
        return self._connection_id

    def _timed_out(self, started: SqlProgress, seconds: int) -> None:
        """Cancelled at the end of its window: retried in a fresh invocation, unless it already had two whole ones."""
        k = started.next_statement
        ended = _attempt_ended(started, seconds)
        if ended.full_attempts >= FULL_ATTEMPTS:
            self.turn.fail(self._too_long(ended))
            return
        why = "a whole invocation was not enough; one more try" if started.running_fresh else "not enough time left"
        self.turn.wait(
            0,
            f"post-restore statement {k}/{self._total} cancelled after {seconds}s ({why}); "
            "continuing in a fresh invocation",
            sql_progress=ended,
        )

    def _cancel_leftover(self, progress: SqlProgress) -> None:
        """The server may still run a statement whose client died: cancel it, so it neither holds its locks nor
        runs twice. Matched on the connection id and the statement text, so nothing else is ever cancelled."""
        if progress.connection_id is None:
            return
        sql = self._statements[progress.next_statement - 1]
        probe = running_statement(progress.connection_id, sql)
        if self._session.query(probe.sql, probe.params):
            cancel = cancel_statement(progress.connection_id)
            self._session.execute(cancel.sql, cancel.params)
            self.turn.deps.log.warning(
                "cancelled a post-restore statement left running by a dead invocation",
                extra={"run_id": self.turn.run.run_id, "statement": progress.next_statement},
            )

    def _too_long(self, progress: SqlProgress) -> PipelineError:
        k = progress.next_statement
        sql = self._statements[k - 1]
        since = progress.first_started_at or self.turn.now()
        minutes = int((self.turn.now() - since).total_seconds() // 60)
        return PipelineError(
            "StatementTooLong",
            f"post-restore statement {k} of {self._total} did not finish within one invocation of the DB-user "
            f"function, {progress.full_attempts} times (the last attempt ran {progress.last_attempt_seconds}s; "
            f"{minutes} min since it first started at {iso(since)}). Raise the stack parameter "
            "DbUserFunctionTimeout (Lambda allows up to 900 s), split the statement, or batch it (e.g. several "
            f"statements each updating a range of ids). Statement: {excerpt(sql)}",
        )


def _attempt_ended(progress: SqlProgress, seconds: int | None, *, counts: bool = True) -> SqlProgress:
    """The statement is no longer running; a whole invocation's attempt counts towards FULL_ATTEMPTS."""
    full = progress.full_attempts + (1 if counts and progress.running_fresh else 0)
    return progress.model_copy(
        update={
            "full_attempts": full,
            "last_attempt_seconds": seconds if seconds is not None else progress.last_attempt_seconds,
            "running_since": None,
            "running_until": None,
            "running_fresh": False,
            "connection_id": None,
        }
    )
