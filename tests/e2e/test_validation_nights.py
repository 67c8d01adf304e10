"""Whole nights through the validation gate and the unlisted accounts, on the emulated AWS estate and MariaDB.

A night whose masking misses a row fails at VALIDATING, and its notification names the check and what it found; an
account that production's data carries but the configuration does not cannot log in after the night."""

from __future__ import annotations

import ssl
from copy import deepcopy
from typing import Any

import pymysql
import pytest

from local_runtime.world import default_config
from shared.model import RunStatus
from shared.naming import staging_cluster_id
from tests.e2e.helpers import nightly, transitions
from tests.e2e.test_swap_nights import TARGET, as_found, cluster, members, run_watching_the_target

pytestmark = pytest.mark.mariadb

LEGACY, LEGACY_PASSWORD = "legacy_etl", "Production-legacy-pw-42"


def _login(server: Any, user: str, password: str) -> None:
    context = ssl.create_default_context(cafile=server.ca_path)
    context.check_hostname = False
    pymysql.connect(host=server.host, port=server.port, user=user, password=password, ssl=context).close()


class ProductionWithLegacyAccount:
    """The cluster's MariaDB, whose restored data (production's) also holds an account nobody configured."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self.legacy_logged_in = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def seed_restored_cluster(self, master_user: str, master_password: str) -> None:
        self._server.seed_restored_cluster(master_user, master_password)
        conn = self._server.root()
        try:
            with conn.cursor() as cursor:
                cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", (LEGACY, "%", LEGACY_PASSWORD))
                cursor.execute("GRANT SELECT ON appdb.* TO %s@%s", (LEGACY, "%"))
        finally:
            conn.close()
        _login(self._server, LEGACY, LEGACY_PASSWORD)  # production's credential works on the fresh restore
        self.legacy_logged_in = True


def test_a_check_that_finds_a_row_fails_the_night_and_names_what_it_found(harness: Any) -> None:
    # Given masking that misses customer 1, and the check that no real e-mail address is left
    config = default_config()
    database = deepcopy(config["pipelines"][0]["database"])
    database["post_restore_sql"] = [
        "UPDATE appdb.customers SET email = CONCAT('customer', id, '@example.invalid') WHERE id > 1"
    ]
    config["pipelines"][0]["database"] = database
    h = harness(config)
    original = cluster(h, TARGET)
    assert original is not None  # the sample pipeline is a `swap` one
    before = as_found(h, TARGET)

    # When the night runs (the target name checked at every state before the swap: the original, available)
    run, _ = run_watching_the_target(h, original)

    # Then it fails at the gate, before the swap: the target is as it was, the unproven copy is gone
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.code == "ValidationFailed" and run.failure.status is RunStatus.VALIDATING
    assert "no unmasked e-mail (no-rows): 1 row(s) found, e.g. 'ana.silva@example.com'" in run.failure.message
    [message] = h.world.notifications()
    assert "FAIL no unmasked e-mail (no-rows): 1 row(s) found, e.g. 'ana.silva@example.com'" in message
    assert "PASS TLS login app (tls-login): app@% logged in over TLS" in message
    assert [str(m.to_status) for m in transitions(h, run.run_id)][-2:] == ["VALIDATING", "FAILED"]
    staging = staging_cluster_id(TARGET, run.run_id)
    assert h.runtime.run_until(lambda: cluster(h, staging) is None and not members(h, staging), 30 * 60)
    assert as_found(h, TARGET) == before
    assert f"staging cluster {staging} removed" in message


def test_an_account_only_production_knows_cannot_log_in_after_the_night(harness: Any, mariadb: Any) -> None:
    database = ProductionWithLegacyAccount(mariadb)
    h = harness(default_database=database)

    run = nightly(h)

    assert run.status is RunStatus.SUCCEEDED, run.failure
    assert database.legacy_logged_in
    with pytest.raises(pymysql.err.OperationalError) as refused:
        _login(mariadb, LEGACY, LEGACY_PASSWORD)
    assert refused.value.args[0] == 1045  # access denied: the account is gone
    [configured] = [m for m in transitions(h, run.run_id) if m.to_status is RunStatus.VALIDATING]
    assert configured.message.endswith(f"1 unlisted account(s) dropped: {LEGACY}@%")
