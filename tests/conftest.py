"""Session-wide fixtures: dummy AWS credentials, and one MySQL-protocol server for `mariadb`-marked tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local_runtime.mariadb import ExternalMariaDB, MariaDBServer

# moto loads a few thousand default AMIs into each region's EC2 backend it creates (about 0.2 s a region, several
# regions a test); nothing here reads an AMI.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

_DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(autouse=True, scope="session")
def _aws_credentials() -> Iterator[None]:
    """No test may reach real AWS with someone's credentials."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in _DUMMY_AWS.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDBServer | ExternalMariaDB]:
    """AURORA_RESTORE_MYSQL_URL's server, else a private MariaDB. Fails, never skips, without one."""
    external = MariaDBServer.from_env()
    if external is not None:
        yield external
        return
    if not MariaDBServer.available():
        pytest.fail(
            "no MariaDB server binary (mariadbd + mariadb-install-db): run `make test`, which installs "
            "mariadb-server, or set AURORA_RESTORE_MYSQL_URL=mysql://root:pw@host:port",
            pytrace=False,
        )
    with MariaDBServer() as server:
        yield server
