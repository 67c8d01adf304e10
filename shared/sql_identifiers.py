"""The one place that decides what an SQL identifier may be and how it is quoted.

Account and role names are passed as query parameters (MySQL and MariaDB accept quoted string literals for
them); database and table names cannot be parameters, so they are validated against a strict pattern and quoted
with backticks here. Anything else in configuration is rejected before it reaches a server.
"""

from __future__ import annotations

import re

_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")  # MySQL 8 user names: at most 32 chars
_ACCOUNT_HOST = re.compile(r"^(%|[A-Za-z0-9_.%:-]{1,60})$")
_OBJECT_NAME = re.compile(r"^[A-Za-z0-9_$]{1,64}$")

ALLOWED_PRIVILEGES = frozenset(
    {
        "ALL PRIVILEGES",
        "ALTER",
        "ALTER ROUTINE",
        "CREATE",
        "CREATE ROUTINE",
        "CREATE TEMPORARY TABLES",
        "CREATE VIEW",
        "DELETE",
        "DROP",
        "EVENT",
        "EXECUTE",
        "INDEX",
        "INSERT",
        "LOCK TABLES",
        "PROCESS",
        "REFERENCES",
        "RELOAD",
        "REPLICATION CLIENT",
        "REPLICATION SLAVE",
        "SELECT",
        "SHOW DATABASES",
        "SHOW VIEW",
        "TRIGGER",
        "UPDATE",
    }
)
_GLOBAL_ONLY = frozenset({"PROCESS", "RELOAD", "REPLICATION CLIENT", "REPLICATION SLAVE", "SHOW DATABASES"})


class InvalidIdentifier(ValueError):
    pass


def validate_name(name: str, kind: str) -> str:
    if not _ACCOUNT_NAME.fullmatch(name):
        raise InvalidIdentifier(
            f"invalid {kind} name {name!r}: use letters, digits, '_', '.', '-' (at most 32 characters)"
        )
    return name


def validate_account_host(host: str) -> str:
    if not _ACCOUNT_HOST.fullmatch(host):
        raise InvalidIdentifier(f"invalid account host {host!r}: use '%', a host name or an IP pattern")
    return host


def quote_object(name: str) -> str:
    """Backtick-quote a database or table name after validating it (no quoting tricks can pass)."""
    if not _OBJECT_NAME.fullmatch(name):
        raise InvalidIdentifier(f"invalid database/table name {name!r}: use letters, digits, '_' or '$'")
    return f"`{name}`"


def render_table(name: str) -> str:
    """`db.table` -> its quoted form (a table named by configuration, e.g. a row-count check)."""
    parts = name.split(".")
    if len(parts) != 2:
        raise InvalidIdentifier(f"table {name!r} must look like 'db.table'")
    return ".".join(quote_object(part) for part in parts)


def parse_account(entry: str) -> tuple[str, str | None]:
    """`name` (any host) or `name@host` -> (name, host or None), both validated."""
    name, _, host = entry.partition("@")
    validate_name(name, "account")
    return name, (validate_account_host(host) if host else None)


def account_label(name: str, host: str) -> str:
    """How an account is named in messages: `name@host` (a role without a host: `name`). Never a password."""
    return f"{name}@{host}" if host else name


_SINGLE_QUERY = re.compile(r"^\s*(SELECT|WITH)\b[^;]*;?\s*$", re.IGNORECASE | re.DOTALL)


def validate_query(sql: str, what: str) -> str:
    """A configured check's SQL: one SELECT (or WITH ... SELECT) statement, nothing after it."""
    if not _SINGLE_QUERY.fullmatch(sql):
        raise InvalidIdentifier(f"{what} must be a single SELECT (or WITH ... SELECT) statement without ';' inside")
    return sql.strip().rstrip(";").rstrip()


def normalise_privileges(privileges: list[str]) -> list[str]:
    result = []
    for raw in privileges:
        privilege = " ".join(raw.upper().split())
        if privilege == "ALL":
            privilege = "ALL PRIVILEGES"
        if privilege not in ALLOWED_PRIVILEGES:
            raise InvalidIdentifier(f"privilege {raw!r} is not allowed; choose from {sorted(ALLOWED_PRIVILEGES)}")
        result.append(privilege)
    return result


def render_grant_target(on: str) -> str:
    """`*.*`, `db.*` or `db.table` -> quoted form."""
    parts = on.split(".")
    if len(parts) != 2:
        raise InvalidIdentifier(f"grant target {on!r} must look like 'db.*', 'db.table' or '*.*'")
    database, table = parts
    if database == "*":
        if table != "*":
            raise InvalidIdentifier(f"grant target {on!r}: '*.table' is not valid")
        return "*.*"
    return f"{quote_object(database)}.{'*' if table == '*' else quote_object(table)}"


def validate_grant(privileges: list[str], on: str) -> None:
    normalised = normalise_privileges(privileges)
    target = render_grant_target(on)
    global_only = sorted(set(normalised) & _GLOBAL_ONLY)
    if global_only and target != "*.*":
        raise InvalidIdentifier(f"privileges {global_only} can only be granted on '*.*'")
