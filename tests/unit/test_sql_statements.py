"""The DB-user step's SQL: both flavors, identifier validation, passwords only ever as parameters."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.config import DatabaseConfig, DbUserConfig, Grant, RoleConfig
from shared.sql.statements import Statement, role_statements, user_statements
from shared.sql_identifiers import (
    InvalidIdentifier,
    normalise_privileges,
    quote_object,
    render_grant_target,
    validate_account_host,
    validate_grant,
    validate_name,
)

PASSWORD = "S3cr3t-'pw\"; DROP USER root;--"

INJECTIONS = [
    "bob'",
    "bob`",
    'bob"',
    "bob;",
    "bob; DROP USER root",
    "bob smith",
    "--bob",
    "bob -- x",
    "bob--\n",
    "bob/*",
    "/*bob*/",
    "bob\\",
    "bob%",
    "",
]


def _reader() -> DbUserConfig:
    return DbUserConfig(name="reporting", password_secret_id="s", roles=["readers", "auditors"])


def _writer() -> DbUserConfig:
    return DbUserConfig(
        name="etl",
        host="10.0.%",
        password_secret_id="s",
        grants=[Grant(privileges=["select", "insert"], on="appdb.customers")],
        require_tls=False,
    )


def test_user_statements_mysql_sets_all_default_roles() -> None:
    statements = user_statements(_reader(), PASSWORD, "mysql")

    assert [s.sql for s in statements] == [
        "DROP USER IF EXISTS %s@%s",
        "CREATE USER %s@%s IDENTIFIED BY %s REQUIRE SSL",
        "GRANT %s TO %s@%s",
        "GRANT %s TO %s@%s",
        "SET DEFAULT ROLE ALL TO %s@%s",
    ]
    assert statements[2].params == ("readers", "reporting", "%")
    assert statements[-1].params == ("reporting", "%")


def test_user_statements_mariadb_sets_first_role_as_default() -> None:
    statements = user_statements(_reader(), PASSWORD, "mariadb")

    assert statements[-1] == Statement("SET DEFAULT ROLE %s FOR %s@%s", ("readers", "reporting", "%"))
    assert [s.sql for s in statements[:-1]] == [s.sql for s in user_statements(_reader(), PASSWORD, "mysql")[:-1]]


@pytest.mark.parametrize("flavor", ["mysql", "mariadb"])
def test_user_statements_direct_grants_without_tls_requirement(flavor: str) -> None:
    statements = user_statements(_writer(), PASSWORD, flavor)  # type: ignore[arg-type]

    assert [s.sql for s in statements] == [
        "DROP USER IF EXISTS %s@%s",
        "CREATE USER %s@%s IDENTIFIED BY %s",
        "GRANT SELECT, INSERT ON `appdb`.`customers` TO %s@%s",
    ]
    assert statements[2].params == ("etl", "10.0.%")


def test_role_statements_recreate_each_role_with_its_grants() -> None:
    config = DatabaseConfig(
        master_secret_id="aurora-restore/dev/db-credentials",
        roles=[RoleConfig(name="readers", grants=[Grant(privileges=["SELECT"], on="appdb.*")])],
    )

    assert role_statements(config) == [
        Statement("DROP ROLE IF EXISTS %s", ("readers",)),
        Statement("CREATE ROLE %s", ("readers",)),
        Statement("GRANT SELECT ON `appdb`.* TO %s", ("readers",)),
    ]


@pytest.mark.parametrize("flavor", ["mysql", "mariadb"])
def test_password_only_in_params_of_a_secret_statement(flavor: str) -> None:
    for user in (_reader(), _writer()):
        statements = user_statements(user, PASSWORD, flavor)  # type: ignore[arg-type]
        carrying = [s for s in statements if PASSWORD in s.params]

        assert all(PASSWORD not in s.sql and PASSWORD not in s.describe() for s in statements)
        assert len(carrying) == 1 and carrying[0].secret
        assert all(not s.secret for s in statements if s not in carrying)


def test_describe_shows_the_sql_but_never_params() -> None:
    secret = Statement("CREATE USER %s@%s IDENTIFIED BY %s", ("u", "%", PASSWORD), secret=True)
    plain = Statement("GRANT SELECT ON `appdb`.* TO %s", ("readers",))

    assert secret.describe() == "CREATE USER ?@? IDENTIFIED BY ?"
    assert plain.describe() == "GRANT SELECT ON `appdb`.* TO %s"
    assert "readers" not in plain.describe()


@pytest.mark.parametrize("name", [*INJECTIONS, "b" * 33])
def test_validate_name_rejects_injection(name: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_name(name, "user")


@pytest.mark.parametrize("name", ["app", "app_ro", "svc.reporting", "etl-2", "_x", "A" * 32])
def test_validate_name_accepts_plain_names(name: str) -> None:
    assert validate_name(name, "role") == name


@pytest.mark.parametrize("host", ["x'", "a b", "h;", "h`", "h -- x", "h/*", "%\n", "", "h" * 61])
def test_validate_account_host_rejects_injection(host: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_account_host(host)


@pytest.mark.parametrize("name", [*INJECTIONS, "app-db", "app.db", "appdb\n", "x" * 65])
def test_quote_object_rejects_injection(name: str) -> None:
    with pytest.raises(InvalidIdentifier):
        quote_object(name)


@pytest.mark.parametrize(
    "on",
    [
        "appdb",
        "appdb.t.x",
        "*.customers",
        "app`db.*",
        "appdb.cust'omers",
        "appdb.*;",
        "appdb.* TO x",
        "appdb.--",
        "appdb./*",
        "app db.*",
    ],
)
def test_render_grant_target_rejects_bad_targets(on: str) -> None:
    with pytest.raises(InvalidIdentifier):
        render_grant_target(on)


def test_render_grant_target_quotes_database_and_table() -> None:
    assert render_grant_target("*.*") == "*.*"
    assert render_grant_target("appdb.*") == "`appdb`.*"
    assert render_grant_target("appdb.customers") == "`appdb`.`customers`"


@pytest.mark.parametrize(
    "privilege",
    ["SELECT; DROP TABLE x", "SELECT --", "SELECT /*", "GRANT OPTION", "SUPER", "SELECT`", "SELECT'", "FILE"],
)
def test_privileges_outside_the_allow_list_are_rejected(privilege: str) -> None:
    with pytest.raises(InvalidIdentifier):
        normalise_privileges([privilege])


def test_privileges_are_normalised() -> None:
    assert normalise_privileges(["select", " show   view ", "all"]) == [
        "SELECT",
        "SHOW VIEW",
        "ALL PRIVILEGES",
    ]


def test_global_privileges_only_on_star_star() -> None:
    validate_grant(["PROCESS"], "*.*")
    with pytest.raises(InvalidIdentifier):
        validate_grant(["PROCESS"], "appdb.*")


@pytest.mark.parametrize(
    "database",
    [
        {"users": [{"name": "bob'; --", "password_secret_id": "s"}]},
        {"users": [{"name": "bob", "host": "%' OR 1", "password_secret_id": "s"}]},
        {"roles": [{"name": "r`x"}]},
        {"roles": [{"name": "r", "grants": [{"privileges": ["SELECT"], "on": "app`db.*"}]}]},
        {
            "users": [
                {
                    "name": "bob",
                    "password_secret_id": "s",
                    "grants": [{"privileges": ["DROP USER"], "on": "*.*"}],
                }
            ]
        },
        {"users": [{"name": "bob", "password_secret_id": "s", "roles": ["missing"]}]},
    ],
)
def test_config_rejects_unsafe_names_before_any_sql(database: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DatabaseConfig.model_validate(database)
