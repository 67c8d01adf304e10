"""A throwaway MariaDB server for tests and the local demo, standing in for a restored Aurora MySQL cluster.

`MariaDBServer()` starts a private server (own datadir, unix socket, free TCP port on 127.0.0.1, TLS from a
private CA) and removes everything on `stop()`. `MariaDBServer.from_env()` wraps an existing server named by
`AURORA_RESTORE_MYSQL_URL` (e.g. `mysql://root:pw@127.0.0.1:3306`) behind the same interface.

`seed_restored_cluster` / `set_password` do what Aurora does to a cluster restored from a production snapshot
(production's accounts and data, the master user) and on ModifyDBCluster(MasterUserPassword).
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

import pymysql

from shared.sql_identifiers import quote_object, validate_account_host, validate_name

URL_ENV = "AURORA_RESTORE_MYSQL_URL"
CA_ENV = "AURORA_RESTORE_MYSQL_CA"  # optional: CA of an external server's certificate (enables verify-full)
# Cluster endpoints the private server's certificate names (`<cluster>.cluster-abc123.us-east-1.rds.amazonaws.com`).
STANDIN_CLUSTER_DOMAIN = "cluster-abc123.us-east-1.rds.amazonaws.com"

# Accounts a restored cluster keeps: the server's own and the administrator used to seed it.
_SYSTEM_ACCOUNTS = frozenset({"root", "mariadb.sys", "mysql", "PUBLIC"})
_SERVER_CANDIDATES = ("mariadbd", "/usr/sbin/mariadbd", "mysqld", "/usr/sbin/mysqld")
_INSTALL_CANDIDATES = ("mariadb-install-db", "mysql_install_db", "/usr/bin/mariadb-install-db")

_CUSTOMERS = (
    (1, "ana.silva@example.com", "Ana Silva"),
    (2, "james.okafor@example.com", "James Okafor"),
    (3, "mei.tanaka@example.com", "Mei Tanaka"),
    (4, "lukas.brandt@example.com", "Lukas Brandt"),
    (5, "priya.nair@example.com", "Priya Nair"),
)


_CUSTOMERS_COLUMNS = "id INT PRIMARY KEY, email VARCHAR(255), full_name VARCHAR(255)"


class MariaDBUnavailable(RuntimeError):
    """No server binary here, or the server did not come up."""


def _which(candidates: tuple[str, ...]) -> str | None:
    for candidate in candidates:
        found = shutil.which(candidate) if "/" not in candidate else candidate
        if found and os.access(found, os.X_OK):
            return found
    return None


def server_binaries() -> tuple[str, str] | None:
    """(mariadbd, mariadb-install-db) if both are installed, else None."""
    server, install = _which(_SERVER_CANDIDATES), _which(_INSTALL_CANDIDATES)
    return (server, install) if server and install else None


@dataclass(frozen=True)
class TlsMaterial:
    ca_path: str
    cert_path: str
    key_path: str


def generate_tls_material(
    directory: str | Path,
    common_name: str = "aurora-restore test CA",
    server_names: tuple[str, ...] = ("localhost", f"*.{STANDIN_CLUSTER_DOMAIN}"),
) -> TlsMaterial:
    """A private CA and a server certificate for 127.0.0.1 and `server_names` signed by it (openssl CLI). Like an
    Aurora server certificate, which names the cluster endpoint as a Subject Alternative Name, it names cluster
    endpoints under STANDIN_CLUSTER_DOMAIN, so `verify-full` can be tested against an endpoint name."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_pem = d / "ca-key.pem", d / "ca.pem"
    key, csr, cert, ext = d / "server-key.pem", d / "server.csr", d / "server-cert.pem", d / "server-ext.cnf"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_pem),
        "-days",
        "3",
        "-subj",
        f"/CN={common_name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName=IP:127.0.0.1,{','.join('DNS:' + name for name in server_names)}\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_pem),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "3",
        "-extfile",
        str(ext),
    )
    return TlsMaterial(ca_path=str(ca_pem), cert_path=str(cert), key_path=str(key))


def _openssl(*args: str) -> None:
    if not shutil.which("openssl"):
        raise MariaDBUnavailable("the openssl CLI is needed to make test certificates (run `make test`)")
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MariaDBUnavailable(f"openssl {args[0]} failed: {result.stderr.strip()}")


class _Admin:
    """Administrative operations shared by the private and the external server (needs `root()` and `port`)."""

    host: str
    port: int
    ca_path: str | None
    admin_user: str

    def root(self) -> pymysql.connections.Connection:  # pragma: no cover - overridden
        raise NotImplementedError

    def _run(self, statements: list[tuple[str, tuple[object, ...] | None]]) -> None:
        conn = self.root()
        try:
            with conn.cursor() as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
        finally:
            conn.close()

    def accounts(self) -> list[tuple[str, str, bool]]:
        """(user, host, is_role) for every account and role on the server."""
        conn = self.root()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()
                version = str(row[0]) if row else ""
                if "MariaDB" in version:
                    cur.execute("SELECT User, Host, is_role FROM mysql.user")
                    return [(str(u), str(h), str(r) == "Y") for u, h, r in cur.fetchall()]
                cur.execute("SELECT User, Host FROM mysql.user")
                return [(str(u), str(h), False) for u, h in cur.fetchall()]
        finally:
            conn.close()

    def _is_system(self, user: str) -> bool:
        return user in _SYSTEM_ACCOUNTS or user == self.admin_user or user.startswith("mysql.")

    def seed_restored_cluster(self, master_user: str, master_password: str, database: str = "appdb") -> None:
        """Make the server look like a fresh restore of production: production's data, its master user and a
        leftover application account `app` with broad grants; every other account and role is gone."""
        validate_name(master_user, "user")
        if self._is_system(master_user) or master_user == "app":
            raise ValueError(f"master user {master_user!r} clashes with a system or seeded account")
        db = quote_object(database)
        statements: list[tuple[str, tuple[object, ...] | None]] = []
        for user, host, is_role in self.accounts():
            if self._is_system(user):
                continue
            if is_role:
                statements.append(("DROP ROLE %s", (user,)))
            else:
                statements.append(("DROP USER %s@%s", (user, host)))
        statements += [
            (f"DROP DATABASE IF EXISTS {db}", None),
            (f"CREATE DATABASE {db}", None),
            (f"CREATE TABLE {db}.`customers` ({_CUSTOMERS_COLUMNS})", None),
        ]
        statements += [(f"INSERT INTO {db}.`customers` VALUES (%s, %s, %s)", row) for row in _CUSTOMERS]
        statements += [
            ("CREATE USER %s@%s IDENTIFIED BY %s", (master_user, "%", master_password)),
            ("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION", (master_user, "%")),
            ("CREATE USER %s@%s IDENTIFIED BY %s", ("app", "%", f"prod-{secrets.token_urlsafe(12)}")),
            (f"GRANT ALL PRIVILEGES ON {db}.* TO %s@%s", ("app", "%")),
        ]
        self._run(statements)

    def add_master_user(self, master_user: str, master_password: str) -> None:
        """Another cluster's master account on this server (one server standing in for several clusters)."""
        validate_name(master_user, "user")
        self._run(
            [
                ("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (master_user, "%", master_password)),
                ("GRANT ALL PRIVILEGES ON *.* TO %s@%s WITH GRANT OPTION", (master_user, "%")),
            ]
        )

    def set_password(self, user: str, password: str, host: str = "%") -> None:
        """What ModifyDBCluster(MasterUserPassword) does to the master account."""
        validate_name(user, "user")
        validate_account_host(host)
        self._run([("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))])


class MariaDBServer(_Admin):
    """A private mariadbd on a free port of 127.0.0.1 with TLS from a private CA. Use as a context manager."""

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.ca_path: str | None = None
        self.admin_user = pwd.getpwuid(os.geteuid()).pw_name  # the OS user socket authentication sees
        self._startup_timeout = startup_timeout
        self._tmp: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket = ""
        self._log = ""

    @staticmethod
    def from_env() -> ExternalMariaDB | None:
        url = os.environ.get(URL_ENV)
        return ExternalMariaDB.parse(url, os.environ.get(CA_ENV)) if url else None

    @staticmethod
    def available() -> bool:
        return server_binaries() is not None

    @property
    def socket_path(self) -> str:
        return self._socket

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> MariaDBServer:
        if self._proc is not None:
            return self
        binaries = server_binaries()
        if binaries is None:
            raise MariaDBUnavailable(
                "no MariaDB server binary (mariadbd/mysqld and mariadb-install-db) found; run `make test`, "
                "which installs mariadb-server"
            )
        server, install = binaries
        self._tmp = tempfile.mkdtemp(prefix="aurora-restore-mariadb-")
        try:
            self._start(server, install, Path(self._tmp))
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, server: str, install: str, base: Path) -> None:
        datadir = base / "data"
        tls = generate_tls_material(base / "tls")
        self.ca_path = tls.ca_path
        self._socket = str(base / "mysqld.sock")
        self._log = str(base / "mysqld.log")
        user_args = ["--user=root"] if os.geteuid() == 0 else []
        tmpdir = base / "tmp"  # private, as the bootstrap's: servers of parallel test workers share no /tmp file
        tmpdir.mkdir(exist_ok=True)
        shutil.copytree(_bootstrapped_datadir(install, user_args, self.admin_user), datadir)
        for _attempt in range(3):  # a free port can be taken between choosing and binding it
            self.port = _free_port()
            with open(self._log, "ab") as log:
                self._proc = subprocess.Popen(
                    [
                        server,
                        "--no-defaults",
                        *user_args,
                        f"--datadir={datadir}",
                        f"--tmpdir={tmpdir}",
                        f"--socket={self._socket}",
                        f"--port={self.port}",
                        "--bind-address=127.0.0.1",
                        f"--pid-file={base / 'mysqld.pid'}",
                        f"--log-error={self._log}",
                        f"--ssl-ca={tls.ca_path}",
                        f"--ssl-cert={tls.cert_path}",
                        f"--ssl-key={tls.key_path}",
                        "--skip-name-resolve",
                        "--innodb-buffer-pool-size=32M",
                    ],
                    stdout=log,
                    stderr=log,
                )
            if self._wait_ready():
                return
            self._terminate()
            if "already in use" not in _read(self._log):
                break
        raise MariaDBUnavailable(f"{server} did not become ready; log tail:\n{_tail(_read(self._log))}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            if os.path.exists(self._socket):
                try:
                    self.root().close()
                    return True
                except pymysql.err.OperationalError:
                    pass
            time.sleep(0.05)
        return False

    def root(self) -> pymysql.connections.Connection:
        """An administrator connection over the unix socket (socket authentication, no password)."""
        return pymysql.connect(unix_socket=self._socket, user=self.admin_user, autocommit=True, connect_timeout=5)

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def stop(self) -> None:
        self._terminate()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


class ExternalMariaDB(_Admin):
    """An existing MySQL-protocol server (AURORA_RESTORE_MYSQL_URL), administered over TCP; never started or
    stopped here."""

    def __init__(self, host: str, port: int, user: str, password: str, ca_path: str | None = None) -> None:
        self.host = host
        self.port = port
        self.admin_user = user
        self._password = password
        self.ca_path = ca_path

    @classmethod
    def parse(cls, url: str, ca_path: str | None = None) -> ExternalMariaDB:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb") or not parts.hostname:
            raise ValueError(f"{URL_ENV} must look like mysql://root:password@127.0.0.1:3306")
        return cls(
            parts.hostname,
            parts.port or 3306,
            unquote(parts.username or "root"),
            unquote(parts.password or ""),
            ca_path,
        )

    def __enter__(self) -> ExternalMariaDB:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> ExternalMariaDB:
        return self

    def stop(self) -> None:
        return None

    def root(self) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.admin_user,
            password=self._password,
            autocommit=True,
            connect_timeout=5,
        )


# One bootstrapped data directory per process (mariadb-install-db takes 3-4 s, most of a server's start), copied
# into each new server's own directory: a stopped server's data directory is a complete copy of it.
_BOOTSTRAP_LOCK = threading.Lock()
_bootstrapped: dict[tuple[str, str], Path] = {}


def _bootstrapped_datadir(install: str, user_args: list[str], admin_user: str) -> Path:
    """A fresh server's data directory (system tables, root by socket authentication as `admin_user`), made once."""
    with _BOOTSTRAP_LOCK:
        found = _bootstrapped.get((install, admin_user))
        if found is not None and found.is_dir():
            return found
        base = Path(tempfile.mkdtemp(prefix="aurora-restore-mariadb-bootstrap-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        datadir = base / "data"
        # A private tmpdir: two servers bootstrapping at once (parallel test workers) must not share /tmp files.
        tmpdir = base / "tmp"
        tmpdir.mkdir()
        for attempt in range(2):
            result = subprocess.run(
                [
                    install,
                    "--no-defaults",
                    *user_args,
                    f"--datadir={datadir}",
                    f"--tmpdir={tmpdir}",
                    "--auth-root-authentication-method=socket",
                    f"--auth-root-socket-user={admin_user}",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode == 0:
                break
            shutil.rmtree(datadir, ignore_errors=True)
            if attempt == 1:
                raise MariaDBUnavailable(f"{install} failed:\n{_tail(result.stdout + result.stderr)}")
        _bootstrapped[(install, admin_user)] = datadir
        return datadir


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
