"""Dropping production's accounts and the validation checks against a real MariaDB (the fixture's private server).

Given a server seeded like a fresh restore of production (its accounts, roles and data), When setup-db-users' SQL
runs through PyMySqlConnector, Then no unlisted account is left while the server's own accounts are, and each check
kind judges what the server really answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.config import DbUserConfig, PipelineConfig
from shared.errors import PipelineError, StatementTimedOut
from shared.ports import SqlSession
from shared.sql.statements import begin_read_only, end_read_only, role_statements, user_statements
from shared.steps.post_restore_sql import Budget
from shared.steps.setup_db_users import drop_unlisted_accounts
from shared.validation import Check, Checker, planned_checks
from tests.integration.test_sql_mariadb import CONFIG, ENDPOINT, MASTER, MASTER_PASSWORD, PASSWORDS, Server, _connector
from tests.unit.fakes import pipeline_doc

pytestmark = pytest.mark.mariadb

SNAPSHOT_AT = datetime(2026, 11, 25, 3, 5, tzinfo=UTC)
PRODUCTION_ONLY = "Production-only-pw-7"


@pytest.fixture
def restored(mariadb: Server) -> Server:
    """A restore of production: besides the seed's `app`, a user the configuration does not know, `app` at another
    host, a role, and a table with timestamps."""
    mariadb.seed_restored_cluster(MASTER, MASTER_PASSWORD)
    conn = mariadb.root()
    try:
        with conn.cursor() as cur:
            for sql, params in [
                ("CREATE USER %s@%s IDENTIFIED BY %s", ("legacy_etl", "%", PRODUCTION_ONLY)),
                ("GRANT SELECT ON appdb.* TO %s@%s", ("legacy_etl", "%")),
                ("CREATE USER %s@%s IDENTIFIED BY %s", ("app", "10.0.%", PRODUCTION_ONLY)),
                ("DROP ROLE IF EXISTS prod_readers", None),
                ("CREATE ROLE prod_readers", None),
                ("GRANT prod_readers TO %s@%s", ("legacy_etl", "%")),
                ("CREATE TABLE appdb.orders (id INT PRIMARY KEY, created_at DATETIME)", None),
                ("INSERT INTO appdb.orders VALUES (1, '2026-11-20 10:00:00'), (2, '2026-11-24 22:00:00')", None),
            ]:
                cur.execute(sql, params)
    finally:
        conn.close()
    return mariadb


@pytest.fixture
def master(restored: Server) -> Iterator[SqlSession]:
    session = _connector(restored).connect(ENDPOINT, 3306, MASTER, MASTER_PASSWORD)
    try:
        yield session
    finally:
        session.close()


def _configure(session: SqlSession) -> str:
    for statement in role_statements(CONFIG):
        session.execute(statement.sql, statement.params)
    for user in CONFIG.users:
        for statement in user_statements(user, PASSWORDS[user.name], "mariadb"):
            session.execute(statement.sql, statement.params)
    return drop_unlisted_accounts(session, CONFIG, MASTER, Budget(lambda: math.inf))


def test_unlisted_users_and_roles_are_dropped_and_the_servers_own_accounts_kept(
    restored: Server, master: SqlSession
) -> None:
    # Given production's legacy_etl logs in with its production password before the run
    _connector(restored).connect(ENDPOINT, 3306, "legacy_etl", PRODUCTION_ONLY).close()

    summary = _configure(master)

    assert summary == "3 unlisted account(s) dropped: app@10.0.%, legacy_etl@%, prod_readers"
    left = {(user, host, is_role) for user, host, is_role in restored.accounts()}
    assert left == {
        ("mariadb.sys", "localhost", False),
        ("root", "localhost", False),  # the local administrator the test server runs on
        (MASTER, "%", False),
        ("etl", "%", False),
        ("reporting", "%", False),
        ("app", "%", False),
        ("readers", "", True),
    }
    with pytest.raises(PipelineError) as refused:
        _connector(restored).connect(ENDPOINT, 3306, "legacy_etl", PRODUCTION_ONLY)
    assert refused.value.code == "DbLoginRefused"
    for user, password in PASSWORDS.items():
        _connector(restored).connect(ENDPOINT, 3306, user, password).close()
    restored.root().close()  # the server still administers itself


def test_dropping_again_finds_nothing(master: SqlSession) -> None:
    _configure(master)

    assert drop_unlisted_accounts(master, CONFIG, MASTER, Budget(lambda: math.inf)) == "no unlisted account found"


def _checker(server: Server, master: SqlSession, snapshot_at: datetime | None = SNAPSHOT_AT) -> Checker:
    def login(user: DbUserConfig) -> SqlSession:
        return _connector(server).connect(ENDPOINT, 3306, user.name, PASSWORDS[user.name])

    return Checker(master, login, snapshot_at)


def _checks(validation: dict[str, object]) -> list[Check]:
    doc = pipeline_doc()
    doc["validation"] = validation
    doc["database"] = CONFIG.model_dump()
    doc["masking"] = "not-needed"
    return planned_checks(PipelineConfig.model_validate(doc))


def test_each_check_kind_on_the_real_server(restored: Server, master: SqlSession) -> None:
    _configure(master)
    checks = _checks(
        {
            "no_rows": [
                {"name": "unmasked", "sql": "SELECT email FROM appdb.customers WHERE email LIKE '%@example.com'"},
                {
                    "name": "with a CTE",
                    "sql": "WITH named AS (SELECT full_name FROM appdb.customers) SELECT * FROM named WHERE 1 = 0",
                },
            ],
            "min_rows": [{"table": "appdb.customers", "minimum": 5}, {"table": "appdb.orders", "minimum": 3}],
            "freshness": [
                {"name": "orders", "sql": "SELECT MAX(created_at) FROM appdb.orders", "max_age_hours": 6},
                {"name": "oldest order", "sql": "SELECT MIN(created_at) FROM appdb.orders", "max_age_hours": 6},
            ],
        }
    )
    checker = _checker(restored, master)

    begin, end = begin_read_only(), end_read_only()
    master.execute(begin.sql)
    results = {check.name: (r.passed, r.detail) for check in checks for r in [checker.run(check, 10)]}
    master.execute(end.sql)

    assert results == {
        "unmasked": (
            False,
            "more than 3 row(s) found, e.g. 'ana.silva@example.com', 'james.okafor@example.com', "
            "'mei.tanaka@example.com'",
        ),
        "with a CTE": (True, "no rows"),
        "appdb.customers rows": (True, "5 row(s), at least 5 expected"),
        "appdb.orders rows": (False, "2 row(s), at least 3 expected"),
        "orders": (True, "newest 2026-11-24T22:00:00+00:00, 5.1h before the snapshot (at most 6.0h)"),
        "oldest order": (False, "newest 2026-11-20T10:00:00+00:00, 113.1h before the snapshot (at most 6.0h)"),
        "TLS login etl": (True, results["TLS login etl"][1]),
        "TLS login reporting": (True, results["TLS login reporting"][1]),
        "TLS login app": (True, results["TLS login app"][1]),
    }
    assert results["TLS login etl"][1].startswith("etl@% logged in over TLS (")


def test_a_login_with_a_wrong_password_fails_its_check(restored: Server, master: SqlSession) -> None:
    _configure(master)
    [check] = [c for c in _checks({}) if c.name == "TLS login etl"]

    def wrong(user: DbUserConfig) -> SqlSession:
        return _connector(restored).connect(ENDPOINT, 3306, user.name, "not-the-password")

    result = Checker(master, wrong, SNAPSHOT_AT).run(check, 10)

    assert not result.passed and result.detail.startswith("login failed: DB refused login for user 'etl'")
    assert "not-the-password" not in result.detail


def test_checks_run_read_only_and_a_slow_one_is_cancelled_on_the_server(master: SqlSession) -> None:
    begin, end = begin_read_only(), end_read_only()
    master.execute(begin.sql)
    with pytest.raises(PipelineError) as refused:
        master.execute("UPDATE appdb.customers SET email = 'x'")
    assert refused.value.code == "MySql1792"  # cannot execute statement in a READ ONLY transaction
    [slow] = _checks({"no_rows": [{"name": "slow", "sql": "SELECT SLEEP(30) AS slept"}]})[:1]

    started = datetime.now(UTC)
    with pytest.raises(StatementTimedOut):
        _checker_without_logins(master).run(slow, 1)
    assert datetime.now(UTC) - started < timedelta(seconds=10)
    master.execute(end.sql)
    assert master.query("SELECT COUNT(*) FROM appdb.customers WHERE email = 'x'") == [(0,)]


def _checker_without_logins(master: SqlSession) -> Checker:
    def no_login(user: DbUserConfig) -> SqlSession:
        raise AssertionError(f"no login expected, got {user.name}")

    return Checker(master, no_login, SNAPSHOT_AT)
