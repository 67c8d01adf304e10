"""Long post-restore statements against a real MariaDB: a statement past its timeout is cancelled on the server
(rolled back, not left running), and a statement a vanished client left running is found by connection id and
exact text, and cancelled, without touching anything else."""

from __future__ import annotations

import threading
import time

import pytest

from local_runtime.mariadb import ExternalMariaDB, MariaDBServer
from shared.config import TlsConfig
from shared.errors import PipelineError, StatementTimedOut
from shared.sql.mysql import PyMySqlConnector, PyMySqlSession
from shared.sql.statements import cancel_statement, connection_id, running_statement

pytestmark = pytest.mark.mariadb

Server = MariaDBServer | ExternalMariaDB
MASTER, MASTER_PASSWORD = "admin", "Master-pw-long-1"
SLOW_UPDATE = "UPDATE appdb.customers SET full_name = 'masked' WHERE SLEEP(1) = 0"  # 1 s per row, 5 rows


@pytest.fixture
def restored(mariadb: Server) -> Server:
    mariadb.seed_restored_cluster(MASTER, MASTER_PASSWORD)
    return mariadb


def session(server: Server) -> PyMySqlSession:
    connector = PyMySqlConnector(TlsConfig(), connect_timeout=5)
    return connector.connect(server.host, server.port, MASTER, MASTER_PASSWORD)


def names(server: Server) -> list[str]:
    probe = session(server)
    try:
        return [str(row[0]) for row in probe.query("SELECT full_name FROM appdb.customers ORDER BY id")]
    finally:
        probe.close()


def test_a_statement_past_its_timeout_is_cancelled_and_rolled_back(restored: Server) -> None:
    before = names(restored)
    master = session(restored)
    began = time.monotonic()
    try:
        with pytest.raises(StatementTimedOut) as timed_out:
            master.execute(SLOW_UPDATE, timeout=1.5)
    finally:
        master.close()

    assert time.monotonic() - began < 4, "cancelled at its timeout, not left to run its 5 s"
    assert timed_out.value.transient and timed_out.value.code == "StatementTimedOut"
    assert names(restored) == before, "a cancelled UPDATE is rolled back"


def test_a_statement_within_its_timeout_just_runs(restored: Server) -> None:
    master = session(restored)
    try:
        master.execute("UPDATE appdb.customers SET full_name = 'masked' WHERE id = 1", timeout=5)
    finally:
        master.close()
    assert names(restored)[0] == "masked"


def test_a_statement_left_running_by_a_vanished_client_is_found_and_cancelled(restored: Server) -> None:
    # Given a connection whose client stopped waiting (as a Lambda killed at its timeout) while the server runs on
    orphan = session(restored)
    probe = connection_id()
    (row,) = orphan.query(probe.sql, probe.params)
    orphan_id = int(str(row[0]))
    statement = "SELECT SLEEP(20)"
    outcome: list[object] = []

    def run_orphan() -> None:
        try:
            outcome.append(orphan.query(statement))
        except PipelineError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run_orphan, daemon=True)
    thread.start()
    sweeper = session(restored)
    try:
        found = running_statement(orphan_id, statement)
        deadline = time.monotonic() + 5
        while not sweeper.query(found.sql, found.params) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Then only the exact statement on that connection matches
        other = running_statement(orphan_id, "SELECT SLEEP(21)")
        assert sweeper.query(other.sql, other.params) == []
        assert sweeper.query(found.sql, found.params) == [(orphan_id,)]

        # When it is cancelled from another connection of the same account (no privilege needed)
        cancel = cancel_statement(orphan_id)
        sweeper.execute(cancel.sql, cancel.params)
        thread.join(timeout=5)

        # Then it stops at once, and the probe finds nothing any more
        assert not thread.is_alive(), "the leftover statement was cancelled"
        assert sweeper.query(found.sql, found.params) == []
    finally:
        sweeper.close()
        orphan.close()
