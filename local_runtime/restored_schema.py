"""What a restored copy of production holds for a given pipeline, on the local MariaDB standing in for it.

The server's own seeding (`MariaDBServer.seed_restored_cluster`) makes production's `appdb.customers` and its
accounts. A pipeline of your own names other databases and tables in its grants; a real production copy would have
them, so they are made too (a table as `id INT PRIMARY KEY`: the demo cannot know production's columns). Masking
statements touching anything else fail in setup-db-users as they would on a cluster that lacks the table."""

from __future__ import annotations

from typing import Any

from shared.config import PipelineConfig
from shared.sql_identifiers import quote_object


def granted_objects(pipeline: PipelineConfig) -> dict[str, set[str]]:
    """database -> tables named in the pipeline's grants (users' and roles'); `*.*` names none."""
    objects: dict[str, set[str]] = {}
    grants = [g for user in pipeline.database.users for g in user.grants]
    grants += [g for role in pipeline.database.roles for g in role.grants]
    for grant in grants:
        database, table = grant.on.split(".")
        if database == "*":
            continue
        tables = objects.setdefault(database, set())
        if table != "*":
            tables.add(table)
    return objects


class PipelineDatabase:
    """One pipeline's stand-in server: the MariaDB server (everything else delegated to it), seeded with the
    databases and tables the pipeline's grants name on top of production's own."""

    SEEDED = "appdb"  # the database the server's own seeding makes (with production's customers)

    def __init__(self, server: Any, pipeline: PipelineConfig) -> None:
        self._server = server
        self.objects = granted_objects(pipeline)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def seed_restored_cluster(self, master_user: str, master_password: str, database: str = SEEDED) -> None:
        self._server.seed_restored_cluster(master_user, master_password, database)
        statements = []
        for name, tables in sorted(self.objects.items()):
            db = quote_object(name)
            if name != database:
                statements += [f"DROP DATABASE IF EXISTS {db}", f"CREATE DATABASE {db}"]
            statements += [
                f"CREATE TABLE IF NOT EXISTS {db}.{quote_object(t)} (id INT PRIMARY KEY)" for t in sorted(tables)
            ]
        if not statements:
            return
        conn = self._server.root()
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()
