"""setup-db-users on the secrets and SQL fakes: the master password is stored before it is applied, then the
post-restore SQL, roles and users run over one session that is always closed."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import PipelineError
from shared.model import Run, RunStatus
from shared.steps import setup_db_users
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_run, owned_tags

MASTER = "aurora-restore/db-credentials"
USERS = {
    "aurora-restore/nightly/app": {"password": "App-pass-9f8e"},
    "aurora-restore/nightly/analyst": {"password": "An-1a2b"},
}


def given_restored(fakes: Fakes, **run: Any) -> Run:
    fakes.target.add_cluster("staging-aurora", tags=owned_tags())
    fakes.secrets_in("us-west-2").values.update({MASTER: {"username": "admin", "password": "old"}, **USERS})
    return fakes.store.seed(make_run(RunStatus.CONFIGURING_DB, now=T0, **run))


def act(fakes: Fakes, run: Run) -> None:
    setup_db_users.act(StepTurn(fakes.deps, run, Step.SETUP_DB_USERS, "ClusterAvailable"))


def test_first_turn_stores_a_new_master_password_then_applies_it_and_waits() -> None:
    fakes = Fakes()
    run = given_restored(fakes)
    act(fakes, run)
    [applied] = fakes.target.calls_to("set_master_password")
    stored = fakes.secrets_in("us-west-2").values[MASTER]
    assert stored["password"] == applied.args["password"] != "old"
    assert stored["host"] == "staging-aurora.cluster-c0ffee.us-west-2.rds.amazonaws.com"
    waiting = fakes.store.run()
    assert waiting.status is RunStatus.CONFIGURING_DB and waiting.master_rotated_at == T0
    assert fakes.sql.connections == [], "no SQL until RDS applied the password"


def test_a_failed_modify_leaves_the_new_password_in_the_secret() -> None:
    # The secret is written before ModifyDBCluster: a crash or error in between never loses the password
    fakes = Fakes()
    run = given_restored(fakes)
    fakes.target.fail("set_master_password", "InvalidDBClusterStateFault")
    with pytest.raises(PipelineError):
        act(fakes, run)
    [attempted] = fakes.target.calls_to("set_master_password")
    assert fakes.secrets_in("us-west-2").values[MASTER]["password"] == attempted.args["password"]


def test_second_turn_configures_the_database_and_moves_on() -> None:
    fakes = Fakes()
    run = given_restored(fakes, master_rotated_at=T0)
    act(fakes, run)
    endpoint = "staging-aurora.cluster-c0ffee.us-west-2.rds.amazonaws.com"
    assert fakes.sql.connections == [
        {"host": endpoint, "port": 3306, "user": "admin", "password": "old"},
        # then the validation's TLS logins, as each configured user with its secret's password
        {"host": endpoint, "port": 3306, "user": "app", "password": "App-pass-9f8e"},
        {"host": endpoint, "port": 3306, "user": "analyst", "password": "An-1a2b"},
    ]
    sql = [statement for statement, _ in fakes.sql.statements]
    assert sql[0].startswith("UPDATE appdb.customers SET email"), "post-restore SQL first"
    assert sql.index("CREATE ROLE %s") < sql.index("CREATE USER %s@%s IDENTIFIED BY %s REQUIRE SSL")
    created = [params for statement, params in fakes.sql.statements if statement.startswith("CREATE USER")]
    assert created == [("app", "%", "App-pass-9f8e"), ("analyst", "%", "An-1a2b")]
    assert all(session.closed for session in fakes.sql.sessions)
    done = fakes.store.run()
    assert done.status is RunStatus.ARCHIVING, "validated in the same invocation"
    assert [(r.name, r.passed) for r in done.validation] == [
        ("no unmasked e-mail", True),
        ("TLS login app", True),
        ("TLS login analyst", True),
    ]
    assert fakes.bus.detail_types() == ["DatabaseReady"]
    moves = [r for r in fakes.store.audit_trail(RUN_ID) if r.kind == "transition"]
    assert [r.to_status for r in moves] == [RunStatus.VALIDATING, RunStatus.ARCHIVING]
    assert moves[0].message.startswith("1 post-restore statement(s), 1 role(s), 2 user(s)")
    assert moves[1].message == "3 validation check(s) passed"


def test_a_failing_statement_still_closes_the_session() -> None:
    fakes = Fakes()
    run = given_restored(fakes, master_rotated_at=T0)
    fakes.sql.fail_statement("CREATE ROLE", PipelineError("SqlError", "1227 access denied"))
    with pytest.raises(PipelineError):
        act(fakes, run)
    assert [s.closed for s in fakes.sql.sessions] == [True]
    assert fakes.store.run().status is RunStatus.CONFIGURING_DB


def test_a_user_secret_without_password_is_refused_before_any_sql() -> None:
    fakes = Fakes()
    run = given_restored(fakes, master_rotated_at=T0)
    fakes.secrets_in("us-west-2").values["aurora-restore/nightly/app"] = {"username": "app"}
    with pytest.raises(PipelineError) as error:
        act(fakes, run)
    assert error.value.code == "SecretMalformed" and "['app']" in error.value.message
    assert fakes.sql.statements == []
