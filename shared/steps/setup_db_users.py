"""setup-db-users: rotate the master password into Secrets Manager, run post-restore SQL, create roles and users,
drop the accounts nobody configured (CONFIGURING_DB); then run the validation checks (VALIDATING).

The new master password is stored in the secret *before* ModifyDBCluster, so a crash in between never leaves a
password nobody knows. The post-restore SQL runs one statement at a time and resumes after the last finished one
(`post_restore_sql.py`); roles and users are idempotent (DROP ... IF EXISTS, then CREATE), and so is dropping the
unlisted accounts (listed afresh each time), so a retry is safe. The checks (`validation_gate.py`) usually follow in
the same invocation, on the same session.
"""

from __future__ import annotations

import math
import secrets
import string

from shared.config import DatabaseConfig, DbUserConfig
from shared.errors import PipelineError
from shared.model import RunStatus
from shared.ports import ClusterView, SecretsGateway, SqlSession
from shared.rds_states import failure_cause, is_failed
from shared.sql.accounts import Account, unlisted
from shared.sql.statements import (
    Flavor,
    Statement,
    drop_account,
    list_accounts,
    role_statements,
    user_statements,
)
from shared.steps import validation_gate
from shared.steps.post_restore_sql import Budget, PostRestoreSql, SqlOutcome
from shared.steps.turn import StepTurn
from shared.validation import Checker

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


def _flavor(session: SqlSession) -> Flavor:
    return "mariadb" if session.flavor == "mariadb" else "mysql"


def configure_accounts(session: SqlSession, db: DatabaseConfig, passwords: dict[str, str], budget: Budget) -> str:
    """Roles, then users with exactly their configured grants (after the post-restore SQL)."""
    _execute(session, role_statements(db), budget)
    for user in db.users:
        _execute(session, user_statements(user, passwords[user.name], _flavor(session)), budget)
    return (
        f"{len(db.post_restore_sql)} post-restore statement(s), {len(db.roles)} role(s), "
        f"{len(db.users)} user(s) configured over TLS"
    )


def _text(value: object) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def drop_unlisted_accounts(session: SqlSession, db: DatabaseConfig, master_user: str, budget: Budget) -> str:
    """Drop every account nobody configured (shared/sql/accounts.py); what was dropped, by name (never more)."""
    if not db.drop_unlisted_accounts:
        return "unlisted accounts kept (database.drop_unlisted_accounts is false)"
    flavor = _flavor(session)
    listing = list_accounts(flavor)
    found = [
        Account(_text(name), _text(host), is_role=_text(role) == "1")
        for name, host, role in session.query(listing.sql, listing.params)
    ]
    doomed = unlisted(found, db, master_user)
    _execute(session, [drop_account(a.name, a.host, is_role=a.is_role, flavor=flavor) for a in doomed], budget)
    if not doomed:
        return "no unlisted account found"
    return f"{len(doomed)} unlisted account(s) dropped: {', '.join(a.label for a in doomed)}"


def configure(
    turn: StepTurn, session: SqlSession, master_user: str, passwords: dict[str, str], checker: Checker
) -> None:
    """Post-restore SQL (resumable, one statement at a time), then roles and users, then the unlisted accounts are
    dropped; then VALIDATING, whose checks go on in this invocation while its time allows."""
    db = turn.pipeline.database
    sql = PostRestoreSql(turn, session, db.post_restore_sql)
    if sql.run() is SqlOutcome.STOPPED:
        return
    turn, budget = sql.turn, sql.budget
    if db.post_restore_sql and not budget.room_for_another():
        turn.wait(0, f"post-restore SQL done; {budget.left():.0f}s left, users follow in a fresh invocation")
        return
    summary = configure_accounts(session, db, passwords, budget)
    dropped = drop_unlisted_accounts(session, db, master_user, budget)
    stored = turn.transition(
        RunStatus.VALIDATING,
        f"{summary}; {dropped}",
        validation=[],
        next_check_at=validation_gate.busy_until(turn, budget),
    )
    if stored is None:
        return
    turn = turn.moved(stored)
    if not budget.room_for_another():
        turn.wait(0, f"database configured; {budget.left():.0f}s left, the checks follow in a fresh invocation")
        return
    validation_gate.validate(turn, checker, session, budget, whole_invocation=False)


def act(turn: StepTurn) -> None:
    run, deps, db = turn.run, turn.deps, turn.pipeline.database
    cluster_id = run.new_cluster_id  # the cluster being configured and validated (staging in a swap)
    cluster = deps.rds_for(run.target_region).find_cluster(cluster_id)
    if cluster is None or not cluster.endpoint:
        raise PipelineError("ClusterNotReachable", f"cluster {cluster_id} has no endpoint", transient=True)
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
    master_user = master.get("username") or cluster.master_username or "admin"
    passwords = user_passwords(db, vault)
    connector, endpoint, port = deps.sql_for(db), cluster.endpoint, cluster.port or 3306
    session = connector.connect(endpoint, port, master_user, master.get("password", ""))

    def login(user: DbUserConfig) -> SqlSession:
        return connector.connect(endpoint, port, user.name, passwords[user.name])

    checker = Checker(session, login, run.source_snapshot_created_at)
    try:
        if run.status is RunStatus.VALIDATING:
            validation_gate.start(turn, checker, session, Budget(deps.time_left))
        else:
            configure(turn, session, master_user, passwords, checker)
    finally:
        session.close()
