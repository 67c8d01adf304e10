"""setup-db-users: rotate the master password into Secrets Manager, run post-restore SQL, create roles and users.

The new master password is stored in the secret *before* ModifyDBCluster, so a crash in between never leaves a
password nobody knows. The post-restore SQL runs one statement at a time and resumes after the last finished one
(`post_restore_sql.py`); roles and users are idempotent (DROP ... IF EXISTS, then CREATE), so a retry is safe.
"""

from __future__ import annotations

import math
import secrets
import string

from shared.config import DatabaseConfig
from shared.errors import PipelineError
from shared.model import RunStatus
from shared.ports import ClusterView, SecretsGateway, SqlSession
from shared.rds_states import failure_cause, is_failed
from shared.sql.statements import Flavor, Statement, role_statements, user_statements
from shared.steps.post_restore_sql import Budget, PostRestoreSql, SqlOutcome
from shared.steps.turn import StepTurn

# RDS master passwords: 8-41 printable ASCII, not '/', '"', '@' (botocore CreateDBCluster docs); no quotes/space.
_PASSWORD_ALPHABET = string.ascii_letters + string.digits + "!#$%^&*()-_=+[]{}:,.?~"
PASSWORD_LENGTH = 32


def new_password() -> str:
    while True:
        candidate = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def _rotate_master(turn: StepTurn, cluster: ClusterView, db: DatabaseConfig, vault: SecretsGateway) -> None:
    password = new_password()
    vault.put_json(
        db.master_secret_id,
        {
            "username": cluster.master_username or "admin",
            "password": password,
            "engine": "mysql",
            "host": cluster.endpoint or "",
            "port": str(cluster.port or 3306),
            "dbClusterIdentifier": cluster.identifier,
        },
    )
    turn.deps.rds_for(turn.run.target_region).set_master_password(cluster.identifier, password)


def _execute(session: SqlSession, statements: list[Statement], budget: Budget) -> None:
    for statement in statements:
        window = budget.window()  # a statement still running at the invocation's end is cancelled, then retried
        session.execute(statement.sql, statement.params, timeout=None if math.isinf(window) else window)


def user_passwords(db: DatabaseConfig, vault: SecretsGateway) -> dict[str, str]:
    """Every configured user's password, checked before any SQL runs."""
    passwords = {u.name: vault.get_json(u.password_secret_id).get("password", "") for u in db.users}
    empty = [name for name, pw in passwords.items() if not pw]
    if empty:
        raise PipelineError("SecretMalformed", f"secrets of users {empty} hold no 'password'")
    return passwords


def configure_accounts(session: SqlSession, db: DatabaseConfig, passwords: dict[str, str], budget: Budget) -> str:
    """Roles, then users with exactly their configured grants (after the post-restore SQL)."""
    _execute(session, role_statements(db), budget)
    flavor: Flavor = "mariadb" if session.flavor == "mariadb" else "mysql"
    for user in db.users:
        _execute(session, user_statements(user, passwords[user.name], flavor), budget)
    return (
        f"{len(db.post_restore_sql)} post-restore statement(s), {len(db.roles)} role(s), "
        f"{len(db.users)} user(s) configured over TLS"
    )


def configure(turn: StepTurn, session: SqlSession, db: DatabaseConfig, passwords: dict[str, str]) -> None:
    """Post-restore SQL (resumable, one statement at a time), then roles and users, then the next state."""
    sql = PostRestoreSql(turn, session, db.post_restore_sql)
    if sql.run() is SqlOutcome.STOPPED:
        return
    turn, budget = sql.turn, sql.budget
    if db.post_restore_sql and not budget.room_for_another():
        turn.wait(0, f"post-restore SQL done; {budget.left():.0f}s left, users follow in a fresh invocation")
        return
    summary = configure_accounts(session, db, passwords, budget)
    turn.transition(RunStatus.ARCHIVING, summary)


def act(turn: StepTurn) -> None:
    run, deps, db = turn.run, turn.deps, turn.pipeline.database
    cluster = deps.rds_for(run.target_region).find_cluster(run.target_cluster_id)
    if cluster is None or not cluster.endpoint:
        raise PipelineError("ClusterNotReachable", f"cluster {run.target_cluster_id} has no endpoint", transient=True)
    if is_failed(cluster.status):  # e.g. its KMS key became inaccessible: no wait for the deadline
        raise PipelineError("ClusterFailed", failure_cause("cluster", cluster.identifier, cluster.status))
    if cluster.status != "available":  # busy (e.g. resetting-master-credentials): wait, no attempt spent
        turn.wait(0, f"cluster {cluster.status}")
        return
    vault = deps.secrets_for(run.target_region)
    if run.master_rotated_at is None:
        # Applying a new master password takes RDS a moment; RDS-EVENT-0016 (or the check) brings us back.
        _rotate_master(turn, cluster, db, vault)
        turn.wait(
            0,
            f"master password of {cluster.master_username} rotated into "
            f"{db.master_secret_id}; waiting for RDS to apply it",
            woken_by="RDS-EVENT-0016",
            master_rotated_at=turn.now(),
        )
        return
    master = vault.get_json(db.master_secret_id)
    passwords = user_passwords(db, vault)
    session = deps.sql_for(db).connect(
        cluster.endpoint,
        cluster.port or 3306,
        master.get("username") or cluster.master_username or "admin",
        master.get("password", ""),
    )
    try:
        configure(turn, session, db, passwords)
    finally:
        session.close()
