"""Which local MySQL-protocol server answers for an Aurora cluster, and what Lambda's timeout does to a statement.

moto hands out endpoints that resolve nowhere, so the handlers' SQL connections are pointed at the server standing
in for that cluster. And a statement still running when its invocation's time is up is cut off as Lambda cuts it:
the invocation dies (`SimulatedCrash`) while the server runs the statement on, since MySQL does not stop a
statement when its client vanishes (https://dev.mysql.com/worklog/task/?id=1242). The runtime sets the current
invocation's deadline (`invocation`); `crash_during` makes an invocation die during a chosen statement.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from local_runtime.faults import SimulatedCrash
from shared.errors import PipelineError
from shared.sql.mysql import PyMySqlConnector, PyMySqlSession

CRASH_AFTER_SECONDS = 0.2  # how far into a `crash_during` statement its invocation dies


@dataclass
class Abandoned:
    """A statement whose invocation died while the server ran it, and how it ended on the server."""

    statement: str
    outcome: str = "running"  # "finished", or the error code it ended with (MySql1317: cancelled)


class DatabaseEndpoints:
    def __init__(self, databases: dict[str, Any], default: Any = None, crash_during: list[str] | None = None) -> None:
        self._databases = dict(databases)  # cluster id (lower case) -> server with host, port and accounts
        self._default = default
        self.crash_during = list(crash_during or [])  # statement texts, each used once
        self.abandoned: list[Abandoned] = []
        self._deadline = math.inf  # time.monotonic() at which the current invocation's time is up

    def server_for(self, cluster_id: str) -> Any:
        return self._databases.get(cluster_id.lower(), self._default)

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        cluster_id = host.split(".", 1)[0]
        server = self.server_for(cluster_id)
        if server is None:
            raise ConnectionRefusedError(f"no local database server for {host}")
        return server.host, server.port

    def sql_for(self, db: Any) -> LambdaBoundConnector:
        return LambdaBoundConnector(
            PyMySqlConnector(db.tls, db.connect_timeout_seconds, address_resolver=self.resolve), self
        )

    @contextlib.contextmanager
    def invocation(self, deadline: float) -> Iterator[None]:
        """Statements run inside are cut off at `deadline` (time.monotonic()); nested invocations restore it."""
        outer, self._deadline = self._deadline, deadline
        try:
            yield
        finally:
            self._deadline = outer

    def time_left(self) -> float:
        return self._deadline - time.monotonic()

    def take_crash(self, statement: str) -> bool:
        for text in self.crash_during:
            if text in statement:
                self.crash_during.remove(text)
                return True
        return False


class LambdaBoundConnector:
    """Satisfies shared.ports.SqlConnector: the adapter's sessions, bound to the invocation's time."""

    def __init__(self, inner: PyMySqlConnector, endpoints: DatabaseEndpoints) -> None:
        self._inner = inner
        self._endpoints = endpoints

    def connect(self, host: str, port: int, user: str, password: str) -> LambdaBoundSession:
        return LambdaBoundSession(self._inner.connect(host, port, user, password), self._endpoints)


class LambdaBoundSession:
    def __init__(self, inner: PyMySqlSession, endpoints: DatabaseEndpoints) -> None:
        self._inner = inner
        self._endpoints = endpoints
        self._dead = False
        self.flavor = inner.flavor

    def execute(self, statement: str, params: Sequence[object] = (), timeout: float | None = None) -> None:
        left = self._endpoints.time_left()
        if self._endpoints.take_crash(statement):
            left = min(left, CRASH_AFTER_SECONDS)
        if timeout is not None and timeout < left:
            self._inner.execute(statement, params, timeout)  # ends (or is cancelled) within the invocation
            return
        self._run_against_the_clock(statement, params, timeout, left)

    def _run_against_the_clock(
        self, statement: str, params: Sequence[object], timeout: float | None, left: float
    ) -> None:
        record = Abandoned(statement)
        errors: list[PipelineError] = []
        done = threading.Event()

        def work() -> None:
            try:
                self._inner.execute(statement, params, timeout)
                record.outcome = "finished"
            except PipelineError as exc:
                record.outcome = exc.code
                errors.append(exc)
            finally:
                done.set()
                if self._dead:
                    self._inner.close()

        threading.Thread(target=work, daemon=True, name="statement").start()
        if done.wait(max(left, 0.0)):
            if errors:
                raise errors[0]
            return
        self._dead = True
        self._endpoints.abandoned.append(record)
        raise SimulatedCrash(f"the invocation's time ran out during: {statement}")

    def query(
        self, statement: str, params: Sequence[object] = (), timeout: float | None = None
    ) -> list[tuple[object, ...]]:
        return self._inner.query(statement, params, timeout)

    def close(self) -> None:
        if not self._dead:  # a dead invocation closes nothing; the statement's thread closes it when it ends
            self._inner.close()
