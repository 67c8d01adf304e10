"""The DB-user step's SQL and the PyMySQL adapter against a real MariaDB (the fixture's private server).

Given a server seeded like a fresh restore of production, When the role and user statements run through
PyMySqlConnector, Then each configured account logs in over TLS with exactly its configured grants.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymysql
import pytest

from local_runtime.mariadb import STANDIN_CLUSTER_DOMAIN, ExternalMariaDB, MariaDBServer, generate_tls_material
from shared.config import DatabaseConfig, DbUserConfig, Grant, RoleConfig, TlsConfig
from shared.errors import PipelineError
from shared.sql.mysql import PyMySqlConnector, PyMySqlSession
from shared.sql.statements import role_statements, user_statements

pytestmark = pytest.mark.mariadb

Server = MariaDBServer | ExternalMariaDB
ENDPOINT = "target.cluster-abc123.us-east-1.rds.amazonaws.com"
MASTER, MASTER_PASSWORD = "admin", "Master-pw-1'\"x"
PASSWORDS = {"etl": "etl-'pw\"-;--1", "reporting": "rep/*pw*/2", "app": "app-new-pw-3"}
CONFIG = DatabaseConfig(
    master_secret_id="aurora-restore/dev/db-credentials",
    roles=[RoleConfig(name="readers", grants=[Grant(privileges=["SELECT"], on="appdb.*")])],
    users=[
        DbUserConfig(
            name="etl",
            password_secret_id="s",
            grants=[Grant(privileges=["SELECT", "INSERT"], on="appdb.customers")],
        ),
        DbUserConfig(name="reporting", password_secret_id="s", roles=["readers"]),
        DbUserConfig(name="app", password_secret_id="s", grants=[Grant(privileges=["SELECT"], on="appdb.customers")]),
    ],
)
EXPECTED_GRANTS = {
    ("etl", "%"): {
        "GRANT USAGE ON *.* TO `etl`@`%` REQUIRE SSL",
        "GRANT SELECT, INSERT ON `appdb`.`customers` TO `etl`@`%`",
    },
    ("reporting", "%"): {
        "GRANT USAGE ON *.* TO `reporting`@`%` REQUIRE SSL",
        "GRANT `readers` TO `reporting`@`%`",
        "SET DEFAULT ROLE `readers` FOR `reporting`@`%`",
    },
    ("app", "%"): {
        "GRANT USAGE ON *.* TO `app`@`%` REQUIRE SSL",
        "GRANT SELECT ON `appdb`.`customers` TO `app`@`%`",
    },
    ("readers", None): {"GRANT USAGE ON *.* TO `readers`", "GRANT SELECT ON `appdb`.* TO `readers`"},
}


def _connector(server: Server, tls: TlsConfig | None = None) -> PyMySqlConnector:
    def resolve(host: str, port: int) -> tuple[str, int]:
        assert (host, port) == (ENDPOINT, 3306)
        return server.host, server.port

    return PyMySqlConnector(tls or TlsConfig(), connect_timeout=5, address_resolver=resolve)


@contextmanager
def _session(server: Server, user: str, password: str, tls: TlsConfig | None = None) -> Iterator[PyMySqlSession]:
    session = _connector(server, tls).connect(ENDPOINT, 3306, user, password)
    try:
        yield session
    finally:
        session.close()


def _apply(server: Server) -> None:
    with _session(server, MASTER, MASTER_PASSWORD) as master:
        for statement in role_statements(CONFIG):
            master.execute(statement.sql, statement.params)
        for user in CONFIG.users:
            for statement in user_statements(user, PASSWORDS[user.name], "mariadb"):
                master.execute(statement.sql, statement.params)


def _grants(server: Server) -> dict[tuple[str, str | None], set[str]]:
    result = {}
    with _session(server, MASTER, MASTER_PASSWORD) as master:
        for name, host in EXPECTED_GRANTS:
            if host is None:  # a role
                rows = master.query("SHOW GRANTS FOR %s", (name,))
            else:
                rows = master.query("SHOW GRANTS FOR %s@%s", (name, host))
            result[(name, host)] = {re.sub(r" IDENTIFIED BY PASSWORD '[^']*'", "", str(r[0])) for r in rows}
    return result


@pytest.fixture
def restored(mariadb: Server) -> Server:
    mariadb.seed_restored_cluster(MASTER, MASTER_PASSWORD)
    return mariadb


def test_connector_detects_mariadb_over_tls(restored: Server) -> None:
    with _session(restored, MASTER, MASTER_PASSWORD) as master:
        assert master.flavor == "mariadb"
        assert master.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")[0][1]


def test_seed_looks_like_a_restored_production_copy(restored: Server) -> None:
    _apply(restored)  # leaves accounts behind that the next restore must not carry

    restored.seed_restored_cluster(MASTER, MASTER_PASSWORD)

    with _session(restored, MASTER, MASTER_PASSWORD) as master:
        assert master.query("SELECT COUNT(*) FROM appdb.customers") == [(5,)]
        users = {str(u) for (u,) in master.query("SELECT User FROM mysql.user")}
        assert {"admin", "app"} <= users and not users & {"etl", "reporting", "readers"}
        assert "GRANT ALL PRIVILEGES ON `appdb`.* TO `app`@`%`" in {
            str(r[0]) for r in master.query("SHOW GRANTS FOR %s@%s", ("app", "%"))
        }


def test_configured_users_log_in_over_tls_with_exactly_their_grants(restored: Server) -> None:
    _apply(restored)

    assert _grants(restored) == EXPECTED_GRANTS
    for user, password in PASSWORDS.items():
        with _session(restored, user, password) as session:
            assert session.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")[0][1]
            assert session.query("SELECT COUNT(*) FROM appdb.customers") == [(5,)]
    with _session(restored, "etl", PASSWORDS["etl"]) as etl:
        etl.execute("INSERT INTO appdb.customers VALUES (%s, %s, %s)", (6, "new@example.com", "New Person"))
    with (
        _session(restored, "reporting", PASSWORDS["reporting"]) as reporting,
        pytest.raises(PipelineError) as denied,
    ):
        reporting.execute("DELETE FROM appdb.customers")
    assert denied.value.code == "MySql1142"
    with _session(restored, "app", PASSWORDS["app"]) as app, pytest.raises(PipelineError) as lost:
        app.execute("DROP TABLE appdb.customers")  # production's ALL on appdb is gone
    assert lost.value.code == "MySql1142" and not lost.value.transient


def test_require_tls_user_is_refused_without_tls(restored: Server) -> None:
    _apply(restored)

    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(
            host=restored.host, port=restored.port, user="etl", password=PASSWORDS["etl"], ssl_disabled=True
        )
    assert refused.value.args[0] == 1045


def test_applying_twice_is_idempotent(restored: Server) -> None:
    _apply(restored)
    first = _grants(restored)

    _apply(restored)

    assert _grants(restored) == first == EXPECTED_GRANTS
    with _session(restored, "reporting", PASSWORDS["reporting"]) as session:
        assert session.query("SELECT COUNT(*) FROM appdb.customers") == [(5,)]


def test_verify_full_accepts_the_server_ca_and_rejects_another(restored: Server, tmp_path: Path) -> None:
    if restored.ca_path is None:
        pytest.skip("external server without AURORA_RESTORE_MYSQL_CA: its certificate cannot be verified")
    wrong_ca = generate_tls_material(tmp_path, common_name="someone else's CA").ca_path

    with _session(restored, MASTER, MASTER_PASSWORD, TlsConfig(mode="verify-full", ca_bundle=restored.ca_path)) as s:
        assert s.query("SELECT 1") == [(1,)]
    with pytest.raises(PipelineError) as failed:
        _connector(restored, TlsConfig(mode="verify-full", ca_bundle=wrong_ca)).connect(
            ENDPOINT, 3306, MASTER, MASTER_PASSWORD
        )
    assert failed.value.code == "TlsHandshakeFailed" and not failed.value.transient


def _verify_full(server: Server, *, via_endpoint: bool) -> PyMySqlConnector:
    """verify-full with the server's own CA; `via_endpoint`: every endpoint name is dialled at the server (as the
    local runtime does for fake RDS endpoints), else the server's own address is dialled."""
    assert server.ca_path is not None
    tls = TlsConfig(mode="verify-full", ca_bundle=server.ca_path)
    if not via_endpoint:
        return PyMySqlConnector(tls, connect_timeout=5)
    return PyMySqlConnector(tls, connect_timeout=5, address_resolver=lambda host, port: (server.host, server.port))


def test_verify_full_checks_the_endpoint_name_not_the_address_dialled(restored: Server) -> None:
    # Given the right CA, and a server whose certificate names 127.0.0.1 and cluster endpoints under
    # STANDIN_CLUSTER_DOMAIN, as an Aurora certificate names its cluster endpoint
    if not isinstance(restored, MariaDBServer):
        pytest.skip("an external server's certificate names other hosts")
    assert ENDPOINT.endswith(STANDIN_CLUSTER_DOMAIN)

    # Then the names the certificate carries verify: the cluster endpoint (as in AWS) and the address itself
    by_name = _verify_full(restored, via_endpoint=True).connect(ENDPOINT, 3306, MASTER, MASTER_PASSWORD)
    by_address = _verify_full(restored, via_endpoint=False).connect(
        restored.host, restored.port, MASTER, MASTER_PASSWORD
    )
    for session in (by_name, by_address):
        assert session.query("SELECT 1") == [(1,)]
        session.close()

    # And another endpoint is refused, although the same server answers at the same address: the certificate is
    # checked against the name the pipeline connects to, never the address behind it
    other = "target.cluster-def456.us-east-1.rds.amazonaws.com"
    with pytest.raises(PipelineError) as refused:
        _verify_full(restored, via_endpoint=True).connect(other, 3306, MASTER, MASTER_PASSWORD)
    assert refused.value.code == "TlsHandshakeFailed" and not refused.value.transient
    assert f"Hostname mismatch, certificate is not valid for '{other}'" in refused.value.message


def test_wrong_password_is_a_transient_login_refusal_without_the_password(restored: Server) -> None:
    wrong = "Wrong-pw-987'"
    with pytest.raises(PipelineError) as refused:
        _connector(restored).connect(ENDPOINT, 3306, MASTER, wrong)

    assert refused.value.code == "DbLoginRefused" and refused.value.transient
    assert "'admin'" in refused.value.message and ENDPOINT in refused.value.message
    assert wrong not in str(refused.value) and MASTER_PASSWORD not in str(refused.value)


def test_set_password_applies_the_new_master_password(restored: Server) -> None:
    restored.set_password(MASTER, "Rotated-pw-4")

    with _session(restored, MASTER, "Rotated-pw-4") as master:
        assert master.query("SELECT CURRENT_USER()") == [("admin@%",)]
    with pytest.raises(PipelineError, match="DbLoginRefused"):
        _connector(restored).connect(ENDPOINT, 3306, MASTER, MASTER_PASSWORD)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE USER %s@%s IDENTIFIED BY %s",  # the account exists: 1396
        "CREATE USER %s@%s IDENTIFIED BYY %s",  # syntax error whose "near '...'" quotes the password: 1064
    ],
)
def test_statement_errors_never_contain_the_password(restored: Server, sql: str) -> None:
    secret = "Very-'secret\"-pw-5"
    with _session(restored, MASTER, MASTER_PASSWORD) as master, pytest.raises(PipelineError) as failed:
        master.execute(sql, ("app", "%", secret))

    assert failed.value.code in {"MySql1396", "MySql1064"} and not failed.value.transient
    assert sql in failed.value.message
    assert secret not in str(failed.value) and "secret" not in str(failed.value)


def test_unreachable_server_is_transient(mariadb: Server) -> None:
    closed = PyMySqlConnector(TlsConfig(), connect_timeout=2, address_resolver=lambda h, p: ("127.0.0.1", 1))

    with pytest.raises(PipelineError) as failed:
        closed.connect(ENDPOINT, 3306, MASTER, MASTER_PASSWORD)

    assert failed.value.code == "DbUnreachable" and failed.value.transient


def test_private_servers_share_no_state() -> None:
    """Each private server copies one bootstrapped data directory: what one server is given, another lacks."""
    with MariaDBServer() as first, MariaDBServer() as second:
        assert first.port != second.port and first.ca_path != second.ca_path
        first.seed_restored_cluster(MASTER, MASTER_PASSWORD)
        assert MASTER in {user for user, _, _ in first.accounts()}
        assert MASTER not in {user for user, _, _ in second.accounts()}
        with second.root() as connection, connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES LIKE 'appdb'")
            assert cursor.fetchone() is None
