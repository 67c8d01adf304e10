"""VALIDATING, acted on by setup-db-users: the pipeline's checks (shared/validation.py) on the configured cluster.

The checks run one at a time, the SQL ones in one read-only transaction, each with a timeout that keeps the
invocation's reserve (the post-restore SQL's `Budget`), so a slow check is cancelled on the server instead of
outliving the invocation. Results are kept on the run (`run.validation`) when an invocation stops early, so the next
invocation goes on with the checks left. A check cancelled in an invocation that had all its time for the checks
fails; one cancelled after the database was configured in the same invocation is tried again in a fresh one.

Every check passed: the run moves on (`next_state`). Any failed: the run fails with `ValidationFailed`, naming each
failing check and what it found.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from shared.errors import PipelineError, StatementTimedOut
from shared.model import CheckResult, Run, RunStatus
from shared.ports import SqlSession
from shared.sql.statements import begin_read_only, end_read_only
from shared.steps.post_restore_sql import GRACE, Budget
from shared.steps.swap_clusters import after_validation
from shared.steps.turn import StepTurn
from shared.validation import Check, Checker, failure_message, planned_checks


def next_state(run: Run) -> RunStatus:
    """Where a run goes once every check passed (the one place that decides it)."""
    return after_validation(run)


def busy_until(turn: StepTurn, budget: Budget) -> datetime:
    """The end of this invocation (the run's deadline if unknown), past which the check may re-drive the run."""
    left = budget.left()
    now = turn.now()
    end = turn.run.deadline_at if math.isinf(left) else min(now + timedelta(seconds=left), turn.run.deadline_at)
    return end + GRACE


def start(turn: StepTurn, checker: Checker, session: SqlSession, budget: Budget) -> None:
    """A fresh invocation in VALIDATING: claim the run for this invocation's time, then validate."""
    stored = turn.claim("validation checks started", next_check_at=busy_until(turn, budget))
    if stored is None:
        turn.ignore("run changed before the validation checks started; leaving it to that change")
        return
    validate(turn.moved(stored), checker, session, budget, whole_invocation=True)


def validate(turn: StepTurn, checker: Checker, session: SqlSession, budget: Budget, *, whole_invocation: bool) -> None:
    """Run the checks not yet done; then move on, fail the run, or leave the rest to a fresh invocation."""
    checks = planned_checks(turn.pipeline)
    done = {result.name for result in turn.run.validation}
    results = list(turn.run.validation)
    pending = [check for check in checks if check.name not in done]
    sql_checks = [check for check in pending if check.kind != "tls-login"]
    if sql_checks:
        begin = begin_read_only()
        session.execute(begin.sql, begin.params)
    try:
        for index, check in enumerate(pending):
            if index and not budget.room_for_another():
                _continue_later(turn, results, len(checks), f"{budget.left():.0f}s left")
                return
            result = _run(checker, check, budget, fresh=whole_invocation and index == 0)
            if result is None:
                _continue_later(turn, results, len(checks), f"{check.name} cancelled for lack of time")
                return
            results.append(result)
    finally:
        if sql_checks:
            end = end_read_only()
            session.execute(end.sql, end.params)
    _conclude(turn, results)


def _run(checker: Checker, check: Check, budget: Budget, *, fresh: bool) -> CheckResult | None:
    """The check's result; None when it was cancelled and deserves a fresh invocation."""
    window = budget.window()
    try:
        return checker.run(check, None if math.isinf(window) else window)
    except StatementTimedOut:
        if not fresh:
            return None
        return CheckResult(
            name=check.name,
            kind=check.kind,
            passed=False,
            detail=f"cancelled after {window:.0f}s, a whole invocation of the DB-user function: make the query "
            "cheaper (an index, a narrower condition) or raise the stack parameter DbUserFunctionTimeout",
        )


def _continue_later(turn: StepTurn, results: list[CheckResult], total: int, why: str) -> None:
    turn.wait(
        0,
        f"{len(results)}/{total} validation check(s) done ({why}); continuing in a fresh invocation",
        validation=results,
    )


def _conclude(turn: StepTurn, results: list[CheckResult]) -> None:
    passed = sum(result.passed for result in results)
    if passed == len(results):
        turn.transition(next_state(turn.run), f"{passed} validation check(s) passed", validation=results)
        return
    stored = turn.note("decision", f"{passed}/{len(results)} validation check(s) passed", validation=results)
    if stored is None:
        return
    turn.moved(stored).fail(PipelineError("ValidationFailed", failure_message(results)))
