"""Which local MySQL-protocol server answers for an Aurora cluster: moto hands out endpoints that resolve
nowhere, so the handlers' SQL connections are pointed at the server standing in for that cluster."""

from __future__ import annotations

from typing import Any

from shared.sql.mysql import PyMySqlConnector


class DatabaseEndpoints:
    def __init__(self, databases: dict[str, Any], default: Any = None) -> None:
        self._databases = dict(databases)  # cluster id (lower case) -> server with host, port and accounts
        self._default = default

    def server_for(self, cluster_id: str) -> Any:
        return self._databases.get(cluster_id.lower(), self._default)

    def resolve(self, host: str, port: int) -> tuple[str, int]:
        cluster_id = host.split(".", 1)[0]
        server = self.server_for(cluster_id)
        if server is None:
            raise ConnectionRefusedError(f"no local database server for {host}")
        return server.host, server.port

    def sql_for(self, db: Any) -> PyMySqlConnector:
        return PyMySqlConnector(db.tls, db.connect_timeout_seconds, address_resolver=self.resolve)
