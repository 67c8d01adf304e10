"""The validation gate's checks: what a pipeline's `validation` section asks of the restored cluster, and how each
check is judged. Nothing here decides what happens to the run (shared/steps/validation_gate.py does).

Kinds: `no-rows` (SQL that must return nothing; up to SAMPLES of the values it found are reported, never more),
`min-rows` (a table's row count), `freshness` (a timestamp the SQL returns, against the snapshot's time) and
`tls-login` (each configured user logs in with its secret's password and its session is encrypted). The SQL checks
run on the master's session inside a read-only transaction the caller opens; each with the timeout it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from shared.config import DbUserConfig, PipelineConfig
from shared.errors import PipelineError, StatementTimedOut
from shared.model import CheckResult
from shared.ports import SqlSession
from shared.sql.statements import Statement, count_rows, session_cipher

SAMPLES = 3  # values of a failing no-rows check shown in the run record and the notification
SAMPLE_CHARS = 60
# A login that fails for one of these reasons is a failed check; anything else transient (unreachable) is retried.
LOGIN_REFUSALS = frozenset({"DbLoginRefused", "TlsNotNegotiated", "TlsHandshakeFailed"})


CheckKind = Literal["no-rows", "min-rows", "freshness", "tls-login"]  # CheckResult.kind


@dataclass(frozen=True)
class Check:
    name: str
    kind: CheckKind
    sql: str = ""  # no-rows, freshness
    table: str = ""  # min-rows
    minimum: int = 0
    max_age: timedelta | None = None
    user: DbUserConfig | None = None  # tls-login


def planned_checks(pipeline: PipelineConfig) -> list[Check]:
    """Every check of a pipeline, in the order they run: the SQL checks, then one login per configured user."""
    v = pipeline.validation
    checks = [Check(c.name, "no-rows", sql=c.sql) for c in v.no_rows]
    checks += [Check(c.label, "min-rows", table=c.table, minimum=c.minimum) for c in v.min_rows]
    checks += [Check(c.name, "freshness", sql=c.sql, max_age=timedelta(hours=c.max_age_hours)) for c in v.freshness]
    if v.tls_login:
        checks += [Check(f"TLS login {u.name}", "tls-login", user=u) for u in pipeline.database.users]
    return checks


def _sample(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return repr(text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 3] + "...")


def _as_utc(value: object) -> datetime | None:
    """A DATETIME/TIMESTAMP column arrives as a naive datetime (the session's time zone, UTC on RDS by default)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _as_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}h"


class Checker:
    """Runs one check at a time. `login` opens a session as a configured user (the SQL connector's)."""

    def __init__(
        self,
        session: SqlSession,
        login: Callable[[DbUserConfig], SqlSession],
        snapshot_at: datetime | None,
    ) -> None:
        self._session = session
        self._login = login
        self._snapshot_at = snapshot_at

    def run(self, check: Check, timeout: float | None) -> CheckResult:
        """The check's result. A query error of the check's own SQL is a failed check; a transient error (the
        server unreachable, a deadlock) and `StatementTimedOut` propagate to the caller."""
        try:
            passed, detail = self._judge(check, timeout)
        except StatementTimedOut:
            raise  # the caller decides: a fresh invocation, or a failed check
        except PipelineError as exc:
            if exc.transient and exc.code not in LOGIN_REFUSALS:
                raise
            passed, detail = False, f"{'login' if check.kind == 'tls-login' else 'query'} failed: {exc.message}"
        return CheckResult(name=check.name, kind=check.kind, passed=passed, detail=detail)

    def _judge(self, check: Check, timeout: float | None) -> tuple[bool, str]:
        if check.kind == "no-rows":
            return self._no_rows(check.sql, timeout)
        if check.kind == "min-rows":
            return self._min_rows(check.table, check.minimum, timeout)
        if check.kind == "freshness":
            assert check.max_age is not None
            return self._freshness(check.sql, check.max_age, timeout)
        assert check.user is not None
        return self._tls_login(check.user)

    def _query(self, statement: Statement, timeout: float | None) -> list[tuple[object, ...]]:
        return self._session.query(statement.sql, statement.params, timeout=timeout)

    def _no_rows(self, sql: str, timeout: float | None) -> tuple[bool, str]:
        # At most one row more than shown is read, so a check that matches millions of rows stays cheap.
        rows = self._query(Statement(f"SELECT * FROM (\n{sql}\n) AS found LIMIT {SAMPLES + 1}"), timeout)
        if not rows:
            return True, "no rows"
        shown = ", ".join(_sample(row[0]) for row in rows[:SAMPLES])
        count = f"more than {SAMPLES}" if len(rows) > SAMPLES else str(len(rows))
        return False, f"{count} row(s) found, e.g. {shown}"

    def _min_rows(self, table: str, minimum: int, timeout: float | None) -> tuple[bool, str]:
        rows = self._query(count_rows(table), timeout)
        found = int(str(rows[0][0])) if rows and rows[0][0] is not None else 0
        return found >= minimum, f"{found} row(s), at least {minimum} expected"

    def _freshness(self, sql: str, max_age: timedelta, timeout: float | None) -> tuple[bool, str]:
        if self._snapshot_at is None:
            return False, "the run has no snapshot time to compare with"
        rows = self._query(Statement(sql), timeout)
        newest = _as_utc(rows[0][0]) if rows and rows[0] else None
        if newest is None:
            return False, f"returned no timestamp ({_sample(rows[0][0]) if rows and rows[0] else 'no rows'})"
        age = self._snapshot_at - newest
        verdict = f"newest {newest.isoformat()}, {_hours(age)} before the snapshot (at most {_hours(max_age)})"
        return age <= max_age, verdict

    def _tls_login(self, user: DbUserConfig) -> tuple[bool, str]:
        session = self._login(user)
        try:
            statement = session_cipher()
            rows = session.query(statement.sql, statement.params)
        finally:
            session.close()
        cipher = str(rows[0][1]) if rows and len(rows[0]) > 1 and rows[0][1] else ""
        if not cipher:
            return False, f"{user.name} logged in, but the session is not encrypted"
        return True, f"{user.name}@{user.host} logged in over TLS ({cipher})"


def failure_message(results: list[CheckResult]) -> str:
    failed = [r for r in results if not r.passed]
    listed = "; ".join(f"{r.name} ({r.kind}): {r.detail}" for r in failed)
    return f"{len(failed)} of {len(results)} validation check(s) failed: {listed}"
