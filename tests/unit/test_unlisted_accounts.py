"""Accounts left from production: which are dropped (every one neither configured, nor the master user, nor a system
or local account, nor kept by configuration), how per flavor, and what the audit says (names only)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import DatabaseConfig, parse_config
from shared.errors import ConfigError
from shared.model import RunStatus
from shared.sql.accounts import Account, unlisted
from shared.steps import setup_db_users
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_config, make_run, owned_tags, pipeline_doc

DB = DatabaseConfig.model_validate(pipeline_doc()["database"])  # roles: app_read; users: app@%, analyst@%

SYSTEM = [
    Account("rdsadmin", "localhost"),
    Account("rdsadmin", "%"),
    Account("rdsrepladmin", "%"),
    Account("rdsproxyadmin", "%"),
    Account("rds_superuser_role", "%", is_role=True),
    Account("AWS_LAMBDA_ACCESS", "%", is_role=True),
    Account("AWS_BEDROCK_ACCESS", "%", is_role=True),  # newer than the documented list: kept by pattern
    Account("mysql.sys", "localhost"),
    Account("mysql.infoschema", "localhost"),
    Account("mariadb.sys", "localhost"),
    Account("PUBLIC", "", is_role=True),
]


def names(accounts: list[Account]) -> list[str]:
    return [a.label for a in accounts]


def test_system_local_master_and_configured_accounts_are_kept() -> None:
    kept = [
        *SYSTEM,
        Account("root", "localhost"),  # a local server administers itself through it; unreachable on Aurora
        Account("deploy", "127.0.0.1"),
        Account("admin", "%"),  # the master user
        Account("admin", "10.0.%"),
        Account("app", "%"),  # configured users, at their configured host
        Account("analyst", "%"),
        Account("app_read", "", is_role=True),  # a configured role on MariaDB
    ]

    assert unlisted(kept, DB, master_user="admin") == []


def test_everything_else_is_dropped_roles_last() -> None:
    production = [
        Account("reporting_ro", "", is_role=True),
        Account("app", "10.0.%"),  # a configured name at another host still has production's password
        Account("etl", "%"),
        Account("", "%"),  # an anonymous account lets anyone in
        Account("app_read", "10.%"),  # a user that shares a configured role's name
        Account("rdsadmin_lookalike", "%"),
        Account("mysql_ops", "%"),
    ]

    dropped = unlisted([*SYSTEM, *production], DB, master_user="admin")

    assert names(dropped) == [
        "@%",
        "app@10.0.%",
        "app_read@10.%",
        "etl@%",
        "mysql_ops@%",
        "rdsadmin_lookalike@%",
        "reporting_ro",
    ]


def test_mysql_roles_are_accounts_at_any_host() -> None:
    # MySQL 8: a configured role is `app_read@%` (locked, no password); one elsewhere is another account
    accounts = [Account("app_read", "%", is_role=True), Account("old_role", "%", is_role=True)]

    assert names(unlisted(accounts, DB, master_user="admin")) == ["old_role@%"]


def test_keep_accounts_keeps_by_name_or_by_name_and_host() -> None:
    db = DB.model_copy(update={"keep_accounts": ["monitoring", "replicator@10.1.2.3"]})
    accounts = [
        Account("monitoring", "%"),
        Account("monitoring", "10.%"),
        Account("replicator", "10.1.2.3"),
        Account("replicator", "%"),
    ]

    assert names(unlisted(accounts, db, master_user="admin")) == ["replicator@%"]


@pytest.mark.parametrize(
    ("entry", "problem"), [("bad name!", "invalid account name"), ("ok@bad host", "invalid account host")]
)
def test_keep_accounts_are_validated(entry: str, problem: str) -> None:
    doc = pipeline_doc()
    doc["database"] = {**doc["database"], "keep_accounts": [entry]}

    with pytest.raises(ConfigError, match=problem):
        parse_config({"pipelines": [doc]})


# ---- the step ------------------------------------------------------------------------------------------------------
LISTED = [
    ("admin", "%", 0),
    ("app", "%", 0),
    ("app", "10.0.%", 0),
    ("legacy_etl", "%", 0),
    ("reporting_ro", "", 1),
    ("rdsadmin", "localhost", 0),
    ("mariadb.sys", "localhost", 0),
]


def configure(flavor: str, **database: Any) -> Fakes:
    doc = pipeline_doc()
    doc["database"] = {**doc["database"], **database}
    fakes = Fakes(config=make_config(doc))
    fakes.sql.flavor = flavor
    fakes.sql.answers["FROM mysql.user"] = list(LISTED)
    fakes.target.add_cluster("staging-aurora", tags=owned_tags())
    fakes.secrets_in("us-west-2").values.update(
        {
            "aurora-restore/db-credentials": {"username": "admin", "password": "pw"},
            "aurora-restore/nightly/app": {"password": "App-pass-9f8e"},
            "aurora-restore/nightly/analyst": {"password": "An-1a2b"},
        }
    )
    run = fakes.store.seed(make_run(RunStatus.CONFIGURING_DB, now=T0, master_rotated_at=T0))
    setup_db_users.act(StepTurn(fakes.deps, run, Step.SETUP_DB_USERS, "RunCheckDue"))
    return fakes


def drops(fakes: Fakes) -> list[tuple[str, tuple[object, ...]]]:
    return [(sql, params) for sql, params in fakes.sql.statements if sql.startswith("DROP") and "IF EXISTS" in sql][-3:]


@pytest.mark.parametrize(
    ("flavor", "role_drop"),
    [
        ("mariadb", ("DROP ROLE IF EXISTS %s", ("reporting_ro",))),
        ("mysql", ("DROP USER IF EXISTS %s@%s", ("reporting_ro", ""))),
    ],
)
def test_unlisted_accounts_are_dropped_after_the_configured_ones(flavor: str, role_drop: tuple[str, Any]) -> None:
    fakes = configure(flavor)

    sql = [statement for statement, _ in fakes.sql.statements]
    listing = next(i for i, s in enumerate(sql) if "FROM mysql.user" in s)
    assert listing > max(i for i, s in enumerate(sql) if s.startswith("CREATE USER")), "after the configured users"
    assert ("is_role" in sql[listing]) == (flavor == "mariadb")
    assert drops(fakes) == [
        ("DROP USER IF EXISTS %s@%s", ("app", "10.0.%")),
        ("DROP USER IF EXISTS %s@%s", ("legacy_etl", "%")),
        role_drop,
    ]
    [configured] = [r for r in fakes.store.audit_trail(RUN_ID) if r.to_status is RunStatus.VALIDATING]
    assert configured.message.endswith("; 3 unlisted account(s) dropped: app@10.0.%, legacy_etl@%, reporting_ro")


def test_dropping_can_be_switched_off() -> None:
    fakes = configure("mariadb", drop_unlisted_accounts=False)

    assert not [s for s, _ in fakes.sql.statements if "FROM mysql.user" in s]
    [configured] = [r for r in fakes.store.audit_trail(RUN_ID) if r.to_status is RunStatus.VALIDATING]
    assert configured.message.endswith("; unlisted accounts kept (database.drop_unlisted_accounts is false)")


def test_kept_accounts_are_not_dropped() -> None:
    fakes = configure("mariadb", keep_accounts=["legacy_etl"])

    assert ("DROP USER IF EXISTS %s@%s", ("legacy_etl", "%")) not in fakes.sql.statements
    assert fakes.store.run().status is RunStatus.ARCHIVING
