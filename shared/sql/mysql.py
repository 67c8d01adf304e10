"""SqlConnector over PyMySQL: always TLS, errors mapped to PipelineError without ever echoing a parameter.

`required` encrypts without checking the certificate; `verify-full` checks it against the CA bundle (the RDS
global bundle in AWS) and the host name. Either way the session is refused unless the server really negotiated
TLS (`Ssl_cipher` is checked after login: some PyMySQL releases fall back to plain text silently).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pymysql
from pymysql.converters import escape_string

from shared.config import TlsConfig
from shared.errors import PipelineError, StatementTimedOut

AddressResolver = Callable[[str, int], tuple[str, int]]

_ACCESS_DENIED = 1045
_TLS_UNAVAILABLE = 2026  # PyMySQL: "SSL is required but the server doesn't support it"
_UNREACHABLE = frozenset({2002, 2003, 2006, 2013, 2055})
_TRANSIENT_STATEMENT = frozenset({1205, 1213})  # lock wait timeout, deadlock: worth a retry


class PyMySqlSession:
    """One autocommit connection. `flavor` is "mariadb" or "mysql" (from `SELECT VERSION()`). `sibling` opens
    another session with the same login, to cancel a statement of this one that runs past its timeout."""

    def __init__(
        self,
        connection: pymysql.connections.Connection,
        endpoint: str,
        sibling: Callable[[], PyMySqlSession] | None = None,
    ) -> None:
        self._connection = connection
        self._endpoint = endpoint
        self._sibling = sibling
        self.flavor = "mysql"
        version = self.query("SELECT VERSION()")
        if version and "mariadb" in str(version[0][0]).lower():
            self.flavor = "mariadb"

    def execute(self, statement: str, params: Sequence[object] = (), timeout: float | None = None) -> None:
        """With `timeout`, a watchdog cancels the statement on the server (`KILL QUERY <this connection>` from a
        sibling connection, what the mysql client does on Ctrl-C) once it has run that long, and
        `StatementTimedOut` is raised. Without a cancel the server would keep running it after the client is gone
        (https://dev.mysql.com/worklog/task/?id=1242). Cancelling your own connection's statement needs no
        privilege (https://dev.mysql.com/doc/refman/8.0/en/kill.html). A cancelled statement is rolled back (or,
        cancelled at the moment it finished, done), so a statement the pipeline re-runs must be idempotent.
        `SET SESSION max_execution_time` would not do: MySQL applies it to read-only SELECTs only
        (https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_max_execution_time)."""
        self._guarded(statement, params, timeout)

    def _guarded(self, statement: str, params: Sequence[object], timeout: float | None) -> list[tuple[object, ...]]:
        if timeout is None:
            return self._run(statement, params)
        watchdog = _Watchdog(timeout, self._cancel_running)
        try:
            with watchdog:
                rows = self._run(statement, params)
        except PipelineError:
            if not watchdog.cancelled:
                raise
        else:
            if not watchdog.cancelled:
                return rows  # finished (if the cancel failed, it finished late, with the caller waiting for it)
        # Cancelled; one cancelled at the very moment it finished is reported too, and re-running it is safe.
        raise StatementTimedOut(timeout) from None

    def _cancel_running(self) -> None:
        if self._sibling is None:
            raise PipelineError("CannotCancel", "no way to open a second connection to cancel the statement")
        killer = self._sibling()
        try:
            killer.execute("KILL QUERY %s", (self._connection.thread_id(),))
        finally:
            killer.close()

    def query(
        self, statement: str, params: Sequence[object] = (), timeout: float | None = None
    ) -> list[tuple[object, ...]]:
        """As `execute`, returning the rows (the validation checks' queries run with a timeout)."""
        return self._guarded(statement, params, timeout)

    def close(self) -> None:
        with contextlib.suppress(pymysql.err.Error):  # already closed, or the server went away
            self._connection.close()

    def _run(self, statement: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        try:
            with self._connection.cursor() as cursor:
                # No params -> no %-formatting, so literal '%' in post-restore SQL stays as written.
                cursor.execute(statement, tuple(params) if params else None)
                return [tuple(row) for row in cursor.fetchall()]
        except pymysql.err.Error as exc:
            raise _statement_error(exc, statement, params, self._endpoint) from None


class _Watchdog:
    """Calls `cancel` once `seconds` have passed, unless the `with` block ends first; `cancelled` tells
    whether it did. The block's thread waits for a running cancel before it goes on."""

    def __init__(self, seconds: float, cancel: Callable[[], None]) -> None:
        self.cancelled = False
        self._cancel = cancel
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        with contextlib.suppress(PipelineError, pymysql.err.Error, OSError):
            self._cancel()  # if this fails, the statement runs on and the caller keeps waiting for it
            self.cancelled = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        self._timer.join()


class PyMySqlConnector:
    """Implements `shared.ports.SqlConnector`. `address_resolver` maps an endpoint to the address dialled
    (the local runtime points fake RDS endpoints at its MariaDB server)."""

    def __init__(
        self, tls: TlsConfig, connect_timeout: int = 10, address_resolver: AddressResolver | None = None
    ) -> None:
        self._tls = tls
        self._connect_timeout = connect_timeout
        self._resolve = address_resolver
        self._contexts: dict[str, ssl.SSLContext] = {}

    def connect(self, host: str, port: int, user: str, password: str) -> PyMySqlSession:
        endpoint = f"{host}:{port}"
        address, real_port = self._resolve(host, port) if self._resolve else (host, port)
        try:
            connection = pymysql.connect(
                host=address,
                port=real_port,
                user=user,
                password=password,
                ssl=self._ssl_context(host),
                connect_timeout=self._connect_timeout,
                autocommit=True,
                charset="utf8mb4",
            )
        except pymysql.err.Error as exc:
            raise _connect_error(exc, user, endpoint) from None
        try:
            _require_tls(connection, endpoint)
            return PyMySqlSession(connection, endpoint, sibling=lambda: self.connect(host, port, user, password))
        except BaseException:
            connection.close()
            raise

    def _ssl_context(self, host: str) -> ssl.SSLContext:
        """One context per endpoint: `verify-full` checks the certificate against the endpoint's name, also when
        the address resolver dials another address (in AWS the two are the same)."""
        if host not in self._contexts:
            self._contexts[host] = build_ssl_context(self._tls, server_hostname=host)
        return self._contexts[host]


def _require_tls(connection: pymysql.connections.Connection, endpoint: str) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            row = cursor.fetchone()
    except pymysql.err.Error as exc:
        raise _statement_error(exc, "SHOW SESSION STATUS LIKE 'Ssl_cipher'", (), endpoint) from None
    if not row or not row[1]:
        raise PipelineError(
            "TlsNotNegotiated",
            f"DB at {endpoint} accepted a connection without TLS; refusing to use it",
            transient=False,
        )


class _EndpointContext(ssl.SSLContext):
    """Verifies the server's certificate against `endpoint`, whatever host name the driver passes (PyMySQL passes
    the address it dialled)."""

    endpoint = ""

    def wrap_socket(  # type: ignore[override]
        self,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | None = None,
        session: Any = None,
    ) -> Any:
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=self.endpoint or server_hostname,
            session=session,
        )


def build_ssl_context(tls: TlsConfig, server_hostname: str | None = None) -> ssl.SSLContext:
    """`verify-full`: the certificate must chain to `tls.ca_bundle` (in AWS the RDS global bundle,
    https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) and name the endpoint: Aurora's server
    certificate names the instance endpoint as CN and the cluster endpoint as a Subject Alternative Name, which
    Python's ssl checks (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Security.html).
    `required`: encrypted, certificate not checked."""
    context: ssl.SSLContext
    if tls.mode == "verify-full":
        pinned = _EndpointContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and hostname checks by default
        pinned.endpoint = server_hostname or ""
        context = pinned
        try:
            context.load_verify_locations(cafile=tls.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise PipelineError(
                "TlsCaBundleUnreadable", f"cannot load CA bundle {tls.ca_bundle!r}: {exc}", transient=False
            ) from None
        context.check_hostname = True
        context.verify_mode = ssl.CERT_REQUIRED
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # noqa: S503 - "required" means encrypt only; verify-full checks
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _errno(exc: pymysql.err.Error) -> int:
    args = exc.args
    return args[0] if args and isinstance(args[0], int) else 0


def _server_text(exc: pymysql.err.Error) -> str:
    args = exc.args
    return str(args[1]) if len(args) > 1 else str(exc)


def _connect_error(exc: pymysql.err.Error, user: str, endpoint: str) -> PipelineError:
    errno = _errno(exc)
    cause = getattr(exc, "original_exception", None)
    if isinstance(cause, ssl.SSLError):
        # A verification failure says why: "Hostname mismatch, certificate is not valid for '...'" (connect to
        # the cluster endpoint) or "unable to get local issuer certificate" (tls.ca_bundle lacks the RDS CA).
        why = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or cause
        return PipelineError(
            "TlsHandshakeFailed", f"TLS handshake with DB at {endpoint} failed: {why}", transient=False
        )
    if errno == _TLS_UNAVAILABLE:
        return PipelineError(
            "TlsNotNegotiated", f"DB at {endpoint} does not offer TLS; refusing to log in", transient=False
        )
    if errno == _ACCESS_DENIED:
        return PipelineError(
            "DbLoginRefused",
            f"DB refused login for user {user!r} at {endpoint} (password not yet applied, or wrong secret)",
            transient=True,
        )
    if errno in _UNREACHABLE or isinstance(exc, pymysql.err.InterfaceError):
        return PipelineError("DbUnreachable", f"cannot reach DB at {endpoint}: {_server_text(exc)}", transient=True)
    return PipelineError(f"MySql{errno}", f"DB at {endpoint} refused the connection: {_server_text(exc)}")


def _statement_error(exc: pymysql.err.Error, statement: str, params: Sequence[object], endpoint: str) -> PipelineError:
    errno = _errno(exc)
    if errno in _UNREACHABLE or isinstance(exc, pymysql.err.InterfaceError):
        return PipelineError(
            "DbUnreachable", f"lost the DB connection to {endpoint} during: {statement}", transient=True
        )
    detail = _redact(_server_text(exc), params)
    return PipelineError(
        f"MySql{errno}", f"statement failed: {statement} -> {detail}", transient=errno in _TRANSIENT_STATEMENT
    )


def _redact(text: str, params: Sequence[object]) -> str:
    """Server messages can quote the statement after parameter substitution (e.g. a syntax error's "near
    '...'"), so every string parameter, raw or escaped, is blanked out before the message is kept."""
    values: set[str] = set()
    for param in params:
        if isinstance(param, bytes):
            param = param.decode("utf-8", "replace")
        if isinstance(param, str) and param:
            values.update({param, escape_string(param)})
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "<param>")
    return text
