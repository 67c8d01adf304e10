"""Post-restore SQL that outlasts one invocation: one statement at a time, progress on the run, a retry resumes
after the last finished statement, a statement that cannot finish in one invocation fails the run clearly.

Time is the fake invocation's (`Fakes.timer`): each fake statement uses up `durations[text]` seconds of it, and
one still running when its timeout passes is cancelled (StatementTimedOut), like the PyMySQL adapter does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.errors import PipelineError
from shared.model import Run, RunStatus, SqlProgress
from shared.steps import setup_db_users
from shared.steps.post_restore_sql import FULL_ATTEMPTS, GRACE, fingerprint
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_config, make_run, owned_tags, pipeline_doc

MASTER = "aurora-restore/db-credentials"
USERS = {
    "aurora-restore/nightly/app": {"password": "App-pass-9f8e"},
    "aurora-restore/nightly/analyst": {"password": "An-1a2b"},
}
STATEMENTS = ["UPDATE t1 SET c = 1", "UPDATE t2 SET c = 2", "UPDATE t3 SET c = 3"]


def given(statements: list[str] = STATEMENTS, **run: Any) -> tuple[Fakes, Run]:
    doc = pipeline_doc()
    doc["database"] = {**doc["database"], "post_restore_sql": statements}
    fakes = Fakes(config=make_config(doc))
    fakes.target.add_cluster("staging-aurora", tags=owned_tags())
    fakes.secrets_in("us-west-2").values.update({MASTER: {"username": "admin", "password": "pw"}, **USERS})
    seeded = fakes.store.seed(make_run(RunStatus.CONFIGURING_DB, now=T0, master_rotated_at=T0, **run))
    return fakes, seeded


def invoke(fakes: Fakes, seconds: float = 100, trigger: str = "RunCheckDue") -> Run:
    """One invocation of setup-db-users with `seconds` of Lambda time, on the run as stored."""
    fakes.timer.new_invocation(seconds)
    run = fakes.store.run()
    setup_db_users.act(StepTurn(fakes.deps, run, Step.SETUP_DB_USERS, trigger))
    return fakes.store.run()


def messages(fakes: Fakes) -> list[str]:
    return [record.message for record in fakes.store.audit_trail(RUN_ID)]


def finished(fakes: Fakes) -> list[str]:
    return [m for m in messages(fakes) if " finished in " in m]


def test_statements_longer_than_one_invocation_resume_after_the_last_finished_one() -> None:
    # Given three statements of 45 s each and invocations of 100 s (reserve 10 s)
    fakes, _ = given()
    fakes.sql.durations = {"t1": 45, "t2": 45, "t3": 45}

    # When the first invocation runs: two statements fit, the third would not start with enough time left
    first = invoke(fakes)

    assert first.status is RunStatus.CONFIGURING_DB
    assert first.sql_progress is not None and first.sql_progress.done == 2 and not first.sql_progress.in_flight
    assert "2/3 post-restore statement(s) done" in messages(fakes)[-1]
    assert first.next_check_at == T0 + timedelta(seconds=30), "the check drives the continuation soon"

    # When the continuation runs (a fresh invocation)
    fakes.clock.advance(seconds=60)
    second = invoke(fakes)

    # Then the third statement ran once, nothing ran twice, and the run moved on
    assert second.status is RunStatus.ARCHIVING
    assert fakes.sql.executed()[:3] == STATEMENTS
    assert fakes.sql.cancelled == []
    assert [m.split(" finished")[0] for m in finished(fakes)] == [
        "post-restore statement 1/3",
        "post-restore statement 2/3",
        "post-restore statement 3/3",
    ]


def test_a_statement_started_late_in_an_invocation_is_cancelled_and_finished_in_a_fresh_one() -> None:
    # Given statements of 40 s: after two, 20 s are left, enough to start a third but not to finish it
    fakes, _ = given()
    fakes.sql.durations = {"t1": 40, "t2": 40, "t3": 40}

    first = invoke(fakes)
    assert fakes.sql.cancelled == ["UPDATE t3 SET c = 3"]
    progress = first.sql_progress
    assert progress is not None and progress.done == 2 and progress.full_attempts == 0, "not a whole invocation"
    assert "cancelled after 10s (not enough time left)" in messages(fakes)[-1]

    fakes.clock.advance(seconds=60)
    assert invoke(fakes).status is RunStatus.ARCHIVING
    assert len(finished(fakes)) == 3


def test_a_statement_that_cannot_finish_in_one_invocation_fails_the_run_clearly() -> None:
    # Given a statement that needs 200 s and invocations of 100 s
    fakes, _ = given(["UPDATE big SET email = NULL", "UPDATE t2 SET c = 2"])
    fakes.sql.durations = {"big": 200}

    first = invoke(fakes)
    assert first.status is RunStatus.CONFIGURING_DB and first.sql_progress is not None
    assert first.sql_progress.full_attempts == 1
    fakes.clock.advance(minutes=2)
    failed = invoke(fakes)

    assert FULL_ATTEMPTS == 2
    assert failed.status is RunStatus.FAILED and failed.failure is not None
    assert failed.failure.code == "StatementTooLong"
    message = failed.failure.message
    assert message.startswith("post-restore statement 1 of 2 did not finish within one invocation")
    assert "2 times" in message and "the last attempt ran 90s" in message and "2 min since it first started" in message
    assert "DbUserFunctionTimeout" in message and "split the statement, or batch it" in message
    assert "UPDATE big SET email = NULL" in message
    assert "UPDATE t2 SET c = 2" not in [s for s, _ in fakes.sql.statements], "nothing after it ran"


def test_a_statement_whose_invocation_died_is_cancelled_on_the_server_and_run_again() -> None:
    # Given an invocation that died (Lambda timeout) while statement 2 ran on connection 7, which the server
    # still runs
    progress = SqlProgress(
        fingerprint=fingerprint(STATEMENTS),
        total=3,
        done=1,
        first_started_at=T0,
        running_since=T0,
        running_until=T0 + timedelta(seconds=120),
        running_fresh=True,
        connection_id=7,
    )
    fakes, _ = given(sql_progress=progress)
    fakes.sql.running[7] = STATEMENTS[1]
    fakes.clock.advance(minutes=3)

    # When the retry runs
    run = invoke(fakes, trigger="RunCheckDue")

    # Then the leftover was cancelled first, statement 1 was not run again, 2 and 3 ran once each
    assert fakes.sql.killed == [7]
    assert fakes.sql.executed()[:2] == STATEMENTS[1:]
    assert run.status is RunStatus.ARCHIVING
    assert any("ended before it finished: killed at the function's timeout" in m for m in messages(fakes))
    assert len(finished(fakes)) == 2


def test_a_statement_still_running_in_another_invocation_is_left_alone() -> None:
    # Given statement 1 started 10 s ago by an invocation that may run until T0 + 120 s
    progress = SqlProgress(
        fingerprint=fingerprint(STATEMENTS),
        total=3,
        running_since=T0,
        running_until=T0 + timedelta(seconds=120),
        running_fresh=True,
        connection_id=7,
    )
    fakes, seeded = given(sql_progress=progress)
    fakes.sql.running[7] = STATEMENTS[0]
    fakes.clock.advance(seconds=10)

    # When another delivery (e.g. RDS-EVENT-0016) arrives
    run = invoke(fakes, trigger="RDS-EVENT-0016")

    # Then nothing runs or is cancelled, and the run is unchanged
    assert fakes.sql.statements == [] and fakes.sql.killed == []
    assert run == seeded
    assert "may still be running in another invocation" in messages(fakes)[-1]


def test_an_invocation_that_died_twice_on_the_same_statement_fails_the_run() -> None:
    progress = SqlProgress(
        fingerprint=fingerprint(STATEMENTS),
        total=3,
        full_attempts=1,
        first_started_at=T0,
        running_since=T0 + timedelta(minutes=3),
        running_until=T0 + timedelta(minutes=5),
        running_fresh=True,
    )
    fakes, _ = given(sql_progress=progress)
    fakes.clock.advance(minutes=10)

    run = invoke(fakes)

    assert run.status is RunStatus.FAILED and run.failure is not None and run.failure.code == "StatementTooLong"
    assert "post-restore statement 1 of 3" in run.failure.message and "10 min since" in run.failure.message
    assert fakes.sql.statements == []


def test_a_failing_statement_is_recorded_as_no_longer_running_and_raised() -> None:
    fakes, _ = given()
    fakes.sql.fail_statement("t2", PipelineError("MySql1213", "deadlock", transient=True))

    with pytest.raises(PipelineError, match="deadlock"):
        invoke(fakes)

    progress = fakes.store.run().sql_progress
    assert progress is not None and progress.done == 1 and not progress.in_flight
    assert progress.full_attempts == 0, "an error is not a timeout: the dispatcher's retry budget applies"


def test_the_started_record_keeps_the_check_away_until_the_invocation_is_over() -> None:
    # Given an invocation of 300 s whose first statement fails after it was recorded as started
    fakes, _ = given()
    fakes.sql.fail_statement("t1", PipelineError("Boom", "stop right after the start"))

    with pytest.raises(PipelineError):
        invoke(fakes, seconds=300)

    # Then the start was recorded (statement and text), and the run's next check waits for the invocation's end:
    # the orchestrator check does not re-drive a run while its statement may still run
    assert "post-restore statement 1/3 started: UPDATE t1 SET c = 1" in messages(fakes)
    assert fakes.store.run().next_check_at == T0 + timedelta(seconds=300) + GRACE
    assert messages(fakes)[-1] == "post-restore statement 1/3 failed: Boom"


def test_a_changed_statement_list_starts_over() -> None:
    old = SqlProgress(fingerprint="0" * 16, total=2, done=2)
    fakes, _ = given(sql_progress=old)

    run = invoke(fakes)

    assert run.status is RunStatus.ARCHIVING
    assert fakes.sql.executed()[:3] == STATEMENTS


def test_a_changed_statement_list_waits_for_a_statement_of_the_old_one_still_running() -> None:
    old = SqlProgress(
        fingerprint="0" * 16,
        total=2,
        done=1,
        running_since=T0,
        running_until=T0 + timedelta(seconds=120),
        running_fresh=True,
        connection_id=7,
    )
    fakes, seeded = given(sql_progress=old)
    fakes.clock.advance(seconds=30)

    run = invoke(fakes)

    assert fakes.sql.statements == [] and run == seeded
    assert "may still be running in another invocation" in messages(fakes)[-1]
    fakes.clock.advance(minutes=5)
    assert invoke(fakes).status is RunStatus.ARCHIVING
    assert fakes.sql.executed()[:3] == STATEMENTS and fakes.sql.killed == [], "an unknown text is never cancelled"
