"""Builds the statements of the DB-user step as (sql, params) pairs. Nothing here talks to a server.

Where MySQL 8 (Aurora MySQL 3) and MariaDB differ, the flavor chooses the rendering: default roles are
`SET DEFAULT ROLE ALL TO u` on MySQL and `SET DEFAULT ROLE r FOR u` on MariaDB (one default role only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.config import DatabaseConfig, DbUserConfig, Grant
from shared.sql_identifiers import (
    normalise_privileges,
    render_grant_target,
    render_table,
    validate_account_host,
    validate_name,
)

Flavor = Literal["mysql", "mariadb"]


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[object, ...] = ()
    secret: bool = False  # params hold a password: never log them

    def describe(self) -> str:
        return self.sql if not self.secret else self.sql.replace("%s", "?")


def _grant(grant: Grant, grantee_sql: str, grantee_params: tuple[object, ...]) -> Statement:
    privileges = ", ".join(normalise_privileges(grant.privileges))
    return Statement(f"GRANT {privileges} ON {render_grant_target(grant.on)} TO {grantee_sql}", grantee_params)


def role_statements(config: DatabaseConfig) -> list[Statement]:
    statements: list[Statement] = []
    for role in config.roles:
        name = validate_name(role.name, "role")
        statements.append(Statement("DROP ROLE IF EXISTS %s", (name,)))
        statements.append(Statement("CREATE ROLE %s", (name,)))
        statements.extend(_grant(g, "%s", (name,)) for g in role.grants)
    return statements


def user_statements(user: DbUserConfig, password: str, flavor: Flavor) -> list[Statement]:
    """Drop and recreate the account so it has exactly the configured grants (a restored production copy may
    carry other grants for the same name)."""
    name = validate_name(user.name, "user")
    host = validate_account_host(user.host)
    account = (name, host)
    require = " REQUIRE SSL" if user.require_tls else ""
    statements = [
        Statement("DROP USER IF EXISTS %s@%s", account),
        Statement(f"CREATE USER %s@%s IDENTIFIED BY %s{require}", (*account, password), secret=True),
    ]
    statements.extend(_grant(g, "%s@%s", account) for g in user.grants)
    for role in user.roles:
        statements.append(Statement("GRANT %s TO %s@%s", (validate_name(role, "role"), *account)))
    if user.roles:
        if flavor == "mysql":
            statements.append(Statement("SET DEFAULT ROLE ALL TO %s@%s", account))
        else:
            statements.append(Statement("SET DEFAULT ROLE %s FOR %s@%s", (user.roles[0], *account)))
    return statements


# ---- cancelling a statement a dead invocation left running (post-restore SQL) ---------------------------------------
def connection_id() -> Statement:
    return Statement("SELECT CONNECTION_ID()")


def running_statement(connection: int, sql: str) -> Statement:
    """Whether server connection `connection` is still running exactly `sql` (PROCESSLIST shows the full text;
    without the PROCESS privilege an account sees its own connections only, which are the ones that matter)."""
    return Statement("SELECT ID FROM information_schema.PROCESSLIST WHERE ID = %s AND INFO = %s", (connection, sql))


def cancel_statement(connection: int) -> Statement:
    """Stops the statement, not the connection; an account may always cancel its own connections' statements
    (https://dev.mysql.com/doc/refman/8.0/en/kill.html)."""
    return Statement("KILL QUERY %s", (connection,))


# ---- accounts left from production (shared/sql/accounts.py decides which) ----------------------------------------
def list_accounts(flavor: Flavor) -> Statement:
    """(user, host, is_role) of every account. MariaDB's mysql.user view has `is_role`; a MySQL 8 role is an
    account created locked and without a password (https://dev.mysql.com/doc/refman/8.0/en/create-role.html)."""
    if flavor == "mariadb":
        return Statement("SELECT User, Host, is_role = 'Y' FROM mysql.user")
    return Statement("SELECT User, Host, account_locked = 'Y' AND authentication_string = '' FROM mysql.user")


def drop_account(name: str, host: str, *, is_role: bool, flavor: Flavor) -> Statement:
    """MariaDB drops a role with DROP ROLE; MySQL's DROP USER drops users and roles alike
    (https://dev.mysql.com/doc/refman/8.0/en/drop-user.html). An account that is the DEFINER of a stored object
    is dropped with a warning, not an error, by an account with SET_USER_ID, which Aurora MySQL 3's master user has
    (same page; https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.MasterAccounts.html)."""
    if is_role and flavor == "mariadb":
        return Statement("DROP ROLE IF EXISTS %s", (name,))
    return Statement("DROP USER IF EXISTS %s@%s", (name, host))


# ---- validation checks (shared/validation.py) ---------------------------------------------------------------------
def begin_read_only() -> Statement:
    """The checks run in one read-only transaction: configured check SQL cannot change data, and every check sees
    the same snapshot (https://dev.mysql.com/doc/refman/8.0/en/commit.html)."""
    return Statement("START TRANSACTION READ ONLY")


def end_read_only() -> Statement:
    return Statement("ROLLBACK")


def count_rows(table: str) -> Statement:
    return Statement(f"SELECT COUNT(*) FROM {render_table(table)}")


def session_cipher() -> Statement:
    """The TLS cipher of this session; empty when it is not encrypted."""
    return Statement("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
