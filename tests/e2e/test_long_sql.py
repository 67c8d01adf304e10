"""Post-restore SQL longer than one invocation of the DB-user function, on the real MariaDB, with Lambda's timeout
emulated in real seconds (the template's Timeout, shortened here so the tests take seconds): the run resumes after
the last finished statement and succeeds, each statement finished once; a statement that cannot finish within one
invocation fails the run with StatementTooLong, naming it, its run time and what to do."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local_runtime.world import default_config
from shared.model import RunStatus
from shared.transitions import Step
from tests.e2e.helpers import nightly

pytestmark = pytest.mark.mariadb

MASK = (
    "UPDATE appdb.customers SET email = CONCAT('customer', id, '@example.invalid'), full_name = CONCAT('Customer ', id)"
)


def config(statements: list[str]) -> dict[str, Any]:
    document = default_config()
    document["pipelines"][0]["database"]["post_restore_sql"] = statements
    return document


def finished(harness: Any, run_id: str) -> list[int]:
    """Statement numbers recorded as finished, in order."""
    pattern = re.compile(r"^post-restore statement (\d+)/\d+ finished in ")
    return [int(m.group(1)) for r in harness.trail(run_id) if (m := pattern.match(r.message))]


def started(harness: Any, run_id: str) -> list[int]:
    pattern = re.compile(r"^post-restore statement (\d+)/\d+ started: ")
    return [int(m.group(1)) for r in harness.trail(run_id) if (m := pattern.match(r.message))]


def masked(mariadb: Any) -> bool:
    connection = mariadb.root()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM appdb.customers WHERE email NOT LIKE '%@example.invalid'")
            row = cursor.fetchone()
            return row is not None and row[0] == 0
    finally:
        connection.close()


def test_sql_longer_than_one_invocation_resumes_after_the_last_finished_statement(harness: Any, mariadb: Any) -> None:
    # Given four statements that together need more than one 3-second invocation
    statements = [MASK, "DO SLEEP(0.9)", "DO SLEEP(0.9)", "DO SLEEP(0.9)"]
    h = harness(config(statements), timeouts={Step.SETUP_DB_USERS: 3.0})

    run = nightly(h)

    # Then the run succeeded, the masking ran, each statement finished exactly once, in order
    assert run.status is RunStatus.SUCCEEDED, run.failure
    assert masked(mariadb)
    assert finished(h, run.run_id) == [1, 2, 3, 4]
    assert started(h, run.run_id) == [1, 2, 3, 4], "no statement was started twice"
    # ... over more than one invocation: the first stopped starting statements when its time ran short
    waits = [r.message for r in h.trail(run.run_id) if "continuing in a fresh invocation" in r.message]
    assert waits, "the SQL did not need a second invocation; the test would prove nothing"
    assert not h.runtime.on_failure and not h.runtime.endpoints.abandoned


def test_a_statement_cut_off_by_the_function_timeout_is_cancelled_and_the_run_resumes_there(
    harness: Any, mariadb: Any
) -> None:
    # Given an invocation that dies (emulated Lambda timeout) 0.2 s into statement 3, a 2-second UPDATE
    slow = "UPDATE appdb.customers SET full_name = CONCAT('Customer ', id) WHERE SLEEP(0.4) = 0"
    statements = [MASK, "DO SLEEP(0.1)", slow, "DO SLEEP(0.1)"]
    h = harness(config(statements), timeouts={Step.SETUP_DB_USERS: 8.0}, crash_during_sql=[slow])

    run = nightly(h)

    # Then the run succeeded; statements 1 and 2 were not run again; 3 was started twice and finished once
    assert run.status is RunStatus.SUCCEEDED, run.failure
    assert finished(h, run.run_id) == [1, 2, 3, 4]
    assert started(h, run.run_id) == [1, 2, 3, 3, 4]
    assert any("ended before it finished" in r.message for r in h.trail(run.run_id))
    # ... and the statement the dead invocation left running on the server was cancelled before the retry
    [left] = h.runtime.endpoints.abandoned
    assert left.statement == slow and left.outcome == "MySql1317", "cancelled (Query execution was interrupted)"
    crashed = [d for d in h.runtime.deliveries if d.step == Step.SETUP_DB_USERS.value and d.result == "crashed"]
    assert len(crashed) == 1
    assert masked(mariadb)


def test_a_statement_that_cannot_finish_in_one_invocation_fails_the_run_clearly(harness: Any) -> None:
    # Given a statement that needs 10 s and invocations of 2.5 s
    statements = [MASK, "DO SLEEP(10)"]
    h = harness(config(statements), timeouts={Step.SETUP_DB_USERS: 2.5})

    run = nightly(h)

    # Then the run failed with the statement's number, its run time and what to do
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.code == "StatementTooLong" and run.failure.step == Step.SETUP_DB_USERS.value
    message = run.failure.message
    assert message.startswith("post-restore statement 2 of 2 did not finish within one invocation")
    assert re.search(r"the last attempt ran \d+s", message)
    assert "DbUserFunctionTimeout" in message and "Statement: DO SLEEP(10)" in message
    assert finished(h, run.run_id) == [1], "statement 1 ran once, before"
    assert not h.runtime.endpoints.abandoned, "each attempt was cancelled by the step, never killed by Lambda"
    notification = h.world.notifications()
    assert any("StatementTooLong" in n for n in notification)
