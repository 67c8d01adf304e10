"""The validation gate on the SQL and secrets fakes: each check kind judged from what the database answers, the run
failing with every failing check named, the checks kept on the run across invocations, slow checks cancelled.

Queries get their rows from `FakeSqlConnector.answers` (by a text they contain); time is the fake invocation's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from shared.config import parse_config
from shared.errors import ConfigError, PipelineError
from shared.model import Run, RunStatus
from shared.report import summary
from shared.steps import setup_db_users
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_config, make_run, owned_tags, pipeline_doc

MASTER = "aurora-restore/db-credentials"
USERS = {
    "aurora-restore/nightly/app": {"password": "App-pass-9f8e"},
    "aurora-restore/nightly/analyst": {"password": "An-1a2b"},
}
SNAPSHOT_AT = datetime(2026, 11, 25, 3, 5, tzinfo=T0.tzinfo)
EMAILS = "SELECT email FROM appdb.customers WHERE email NOT LIKE '%@example.invalid'"
VALIDATION: dict[str, Any] = {
    "no_rows": [{"name": "no unmasked e-mail", "sql": EMAILS}],
    "min_rows": [{"table": "appdb.customers", "minimum": 5}],
    "freshness": [{"name": "orders fresh", "sql": "SELECT MAX(created_at) FROM appdb.orders", "max_age_hours": 24}],
}
PASSING = {
    "FROM appdb.customers WHERE": [],
    "COUNT(*)": [(5,)],
    "MAX(created_at)": [(datetime(2026, 11, 24, 22, 0),)],  # 5h05 before the snapshot, naive as PyMySQL returns it
}


def given(
    checks: dict[str, Any] | None = None, status: RunStatus = RunStatus.VALIDATING, **run: Any
) -> tuple[Fakes, Run]:
    doc = pipeline_doc()
    doc["validation"] = VALIDATION if checks is None else checks
    fakes = Fakes(config=make_config(doc))
    fakes.target.add_cluster("staging-aurora", tags=owned_tags())
    fakes.secrets_in("us-west-2").values.update({MASTER: {"username": "admin", "password": "pw"}, **USERS})
    fakes.sql.answers.update(PASSING)
    seeded = fakes.store.seed(
        make_run(status, now=T0, master_rotated_at=T0, **{"source_snapshot_created_at": SNAPSHOT_AT, **run})
    )
    return fakes, seeded


def invoke(fakes: Fakes, seconds: float = 100) -> Run:
    fakes.timer.new_invocation(seconds)
    setup_db_users.act(StepTurn(fakes.deps, fakes.store.run(), Step.SETUP_DB_USERS, "RunCheckDue"))
    return fakes.store.run()


def results(run: Run) -> dict[str, tuple[bool, str]]:
    return {r.name: (r.passed, r.detail) for r in run.validation}


def test_every_check_passes_and_the_run_moves_on() -> None:
    fakes, _ = given()

    run = invoke(fakes)

    assert run.status is RunStatus.ARCHIVING
    assert results(run) == {
        "no unmasked e-mail": (True, "no rows"),
        "appdb.customers rows": (True, "5 row(s), at least 5 expected"),
        "orders fresh": (True, "newest 2026-11-24T22:00:00+00:00, 5.1h before the snapshot (at most 24.0h)"),
        "TLS login app": (True, "app@% logged in over TLS (TLS_AES_128_GCM_SHA256)"),
        "TLS login analyst": (True, "analyst@% logged in over TLS (TLS_AES_128_GCM_SHA256)"),
    }
    assert [s.closed for s in fakes.sql.sessions] == [True, True, True]


def test_sql_checks_run_read_only_with_a_timeout_and_read_at_most_four_rows() -> None:
    fakes, _ = given()
    seen: list[float | None] = []
    run_statement = fakes.sql.run
    fakes.sql.run = lambda session, sql, params, timeout: (
        seen.append(timeout)
        or run_statement(  # type: ignore[method-assign]
            session, sql, params, timeout
        )
    )

    invoke(fakes, seconds=100)

    sql = [statement for statement, _ in fakes.sql.statements]
    assert sql[0] == "START TRANSACTION READ ONLY" and sql[-1] == "ROLLBACK"
    assert sql[1] == f"SELECT * FROM (\n{EMAILS}\n) AS found LIMIT 4"
    assert sql[2] == "SELECT COUNT(*) FROM `appdb`.`customers`"
    assert seen[1:4] == [90.0, 90.0, 90.0], "each check may run until the invocation's reserve (10 s of 100 s)"


def test_failed_checks_fail_the_run_naming_each_check_and_what_it_found() -> None:
    fakes, _ = given()
    leaked = [(f"person{i}@real.example",) for i in range(10)]
    fakes.sql.answers.update({"FROM appdb.customers WHERE": leaked[:4], "COUNT(*)": [(2,)]})

    run = invoke(fakes)

    assert run.status is RunStatus.FAILED
    assert run.failure is not None and run.failure.code == "ValidationFailed"
    assert run.failure.status is RunStatus.VALIDATING and not run.failure.transient
    assert run.failure.message == (
        "2 of 5 validation check(s) failed: no unmasked e-mail (no-rows): more than 3 row(s) found, e.g. "
        "'person0@real.example', 'person1@real.example', 'person2@real.example'; "
        "appdb.customers rows (min-rows): 2 row(s), at least 5 expected"
    )
    assert "person3" not in run.model_dump_json(), "never more than 3 sample values"
    assert [r.passed for r in run.validation] == [False, False, True, True, True], "passed ones are kept too"


def test_a_stale_snapshot_fails_freshness() -> None:
    fakes, _ = given()
    fakes.sql.answers["MAX(created_at)"] = [(datetime(2026, 11, 20, 3, 5),)]

    run = invoke(fakes)

    assert results(run)["orders fresh"] == (
        False,
        "newest 2026-11-20T03:05:00+00:00, 120.0h before the snapshot (at most 24.0h)",
    )
    assert run.status is RunStatus.FAILED


@pytest.mark.parametrize(
    ("answer", "snapshot_at", "detail"),
    [
        ([(None,)], SNAPSHOT_AT, "returned no timestamp ('None')"),
        ([], SNAPSHOT_AT, "returned no timestamp (no rows)"),
        ([("2026-11-25 01:00:00",)], SNAPSHOT_AT, "newest 2026-11-25T01:00:00+00:00, 2.1h before the snapshot"),
        ([(datetime(2026, 11, 25, 1, 0),)], None, "the run has no snapshot time to compare with"),
    ],
)
def test_freshness_needs_a_timestamp_and_the_snapshot_time(
    answer: list[tuple[object, ...]], snapshot_at: datetime | None, detail: str
) -> None:
    fakes, _ = given({"freshness": VALIDATION["freshness"], "tls_login": False}, source_snapshot_created_at=snapshot_at)
    fakes.sql.answers["MAX(created_at)"] = answer

    run = invoke(fakes)

    assert results(run)["orders fresh"][1].startswith(detail)


def test_a_refused_or_unencrypted_login_fails_its_check() -> None:
    fakes, _ = given({})
    fakes.sql.connect_failures.add(
        "connect:app", PipelineError("DbLoginRefused", "DB refused login for user 'app'", transient=True)
    )
    fakes.sql.answers["Ssl_cipher"] = [("Ssl_cipher", "")]

    run = invoke(fakes)

    assert results(run) == {
        "TLS login app": (False, "login failed: DB refused login for user 'app'"),
        "TLS login analyst": (False, "analyst logged in, but the session is not encrypted"),
    }
    assert run.status is RunStatus.FAILED


def test_an_unreachable_database_is_retried_not_judged() -> None:
    fakes, run = given({})
    fakes.sql.connect_failures.add("connect:app", PipelineError("DbUnreachable", "cannot reach", transient=True))

    with pytest.raises(PipelineError) as raised:
        setup_db_users.act(StepTurn(fakes.deps, run, Step.SETUP_DB_USERS, "RunCheckDue"))

    assert raised.value.code == "DbUnreachable" and raised.value.transient
    assert fakes.store.run().status is RunStatus.VALIDATING


def test_a_check_whose_own_sql_fails_is_a_failed_check() -> None:
    fakes, _ = given({"min_rows": [{"table": "appdb.orders", "minimum": 1}], "tls_login": False})
    fakes.sql.fail_statement("appdb`.`orders", PipelineError("MySql1146", "Table 'appdb.orders' doesn't exist"))

    run = invoke(fakes)

    assert results(run) == {"appdb.orders rows": (False, "query failed: Table 'appdb.orders' doesn't exist")}
    assert run.failure is not None and "appdb.orders rows (min-rows): query failed" in run.failure.message


def test_checks_left_when_time_runs_out_go_on_in_a_fresh_invocation() -> None:
    # Given checks of 45 s each and invocations of 100 s (reserve 10 s: a check starts only with 20 s left)
    fakes, _ = given({**VALIDATION, "tls_login": False})
    fakes.sql.durations = {"found LIMIT": 45, "COUNT(*)": 45, "MAX(created_at)": 45}

    first = invoke(fakes)

    assert first.status is RunStatus.VALIDATING
    assert [r.name for r in first.validation] == ["no unmasked e-mail", "appdb.customers rows"]
    assert fakes.store.audit_trail(RUN_ID)[-1].message.startswith(
        "2/3 validation check(s) done (10s left); continuing in a fresh invocation"
    )

    second = invoke(fakes)

    assert second.status is RunStatus.ARCHIVING
    assert [r.name for r in second.validation] == ["no unmasked e-mail", "appdb.customers rows", "orders fresh"]
    counted = [s for s, _ in fakes.sql.statements if "COUNT(*)" in s]
    assert len(counted) == 1, "a finished check is not run again"


def test_a_check_longer_than_a_whole_invocation_fails_clearly() -> None:
    fakes, _ = given({"min_rows": [{"table": "appdb.customers", "minimum": 5}], "tls_login": False})
    fakes.sql.durations = {"COUNT(*)": 500}

    run = invoke(fakes, seconds=100)

    assert run.status is RunStatus.FAILED
    assert results(run)["appdb.customers rows"] == (
        False,
        "cancelled after 90s, a whole invocation of the DB-user function: make the query cheaper (an index, a "
        "narrower condition) or raise the stack parameter DbUserFunctionTimeout",
    )
    assert fakes.sql.cancelled == ["SELECT COUNT(*) FROM `appdb`.`customers`"]


def test_a_check_cancelled_after_configuring_gets_a_fresh_invocation() -> None:
    # Given the configuration used most of the invocation, the first check is cancelled and tried again later
    fakes, _ = given(
        {"min_rows": [{"table": "appdb.customers", "minimum": 5}], "tls_login": False}, RunStatus.CONFIGURING_DB
    )
    fakes.sql.durations = {"UPDATE appdb.customers": 40, "COUNT(*)": 60}

    after_configuring = invoke(fakes, seconds=100)

    assert after_configuring.status is RunStatus.VALIDATING and after_configuring.validation == []
    assert fakes.sql.cancelled == ["SELECT COUNT(*) FROM `appdb`.`customers`"]

    validated = invoke(fakes, seconds=100)

    assert validated.status is RunStatus.ARCHIVING
    assert results(validated) == {"appdb.customers rows": (True, "5 row(s), at least 5 expected")}


def test_a_pipeline_without_checks_passes_straight_through() -> None:
    fakes, _ = given({"tls_login": False})

    run = invoke(fakes)

    assert run.status is RunStatus.ARCHIVING and run.validation == []
    assert fakes.store.audit_trail(RUN_ID)[-1].message == "0 validation check(s) passed"


@pytest.mark.parametrize(
    ("validation", "problem"),
    [
        (
            {"no_rows": [{"name": "x", "sql": "DELETE FROM appdb.customers"}]},
            "validation.no_rows.0.sql: no_rows.sql must be a single SELECT",
        ),
        (
            {"no_rows": [{"name": "x", "sql": "SELECT 1; DROP TABLE appdb.customers"}]},
            "validation.no_rows.0.sql: no_rows.sql must be a single SELECT",
        ),
        ({"min_rows": [{"table": "customers", "minimum": 1}]}, "table 'customers' must look like 'db.table'"),
        ({"min_rows": [{"table": "appdb.c`x", "minimum": 1}]}, "invalid database/table name 'c`x'"),
        ({"freshness": [{"name": "f", "sql": "SELECT NOW()", "max_age_hours": 0}]}, "greater than 0"),
        (
            {
                "no_rows": [{"name": "appdb.t rows", "sql": "SELECT 1"}],
                "min_rows": [{"table": "appdb.t", "minimum": 1}],
            },
            "validation check names must be unique: ['appdb.t rows']",
        ),
    ],
)
def test_invalid_checks_are_refused_with_a_clear_error(validation: dict[str, Any], problem: str) -> None:
    doc = pipeline_doc()
    doc["validation"] = validation

    with pytest.raises(ConfigError) as refused:
        parse_config({"pipelines": [doc]})

    assert problem in str(refused.value)


def test_the_run_keeps_its_evidence_when_the_checks_span_invocations() -> None:
    # A result recorded by an earlier invocation is neither lost nor repeated when the run goes on
    fakes, _ = given(
        {"min_rows": [{"table": "appdb.customers", "minimum": 5}]},
        validation=[{"name": "appdb.customers rows", "kind": "min-rows", "passed": True, "detail": "5 row(s)"}],
    )

    run = invoke(fakes)

    assert [r.name for r in run.validation] == ["appdb.customers rows", "TLS login app", "TLS login analyst"]
    assert not [s for s, _ in fakes.sql.statements if "COUNT(*)" in s]
    assert "START TRANSACTION READ ONLY" not in [s for s, _ in fakes.sql.statements]
    assert run.state_entered_at == T0 and run.updated_at - T0 < timedelta(seconds=1)


def test_the_report_lists_passed_and_failed_checks() -> None:
    fakes, _ = given()
    fakes.sql.answers["FROM appdb.customers WHERE"] = [("ana.silva@example.com",)]

    text = summary(invoke(fakes))

    assert "Cause [ValidationFailed]: 1 of 5 validation check(s) failed: no unmasked e-mail (no-rows): 1 row(s)" in text
    assert (
        "Validation: 4 passed, 1 failed\n"
        "  FAIL no unmasked e-mail (no-rows): 1 row(s) found, e.g. 'ana.silva@example.com'\n"
        "  PASS appdb.customers rows (min-rows): 5 row(s), at least 5 expected\n"
    ) in text
    assert "  PASS TLS login analyst (tls-login): analyst@% logged in over TLS" in text
