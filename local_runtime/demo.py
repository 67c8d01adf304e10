"""`make demo`: whole nightly restores in local emulation (moto + MariaDB + simulated clock), shown as they happen.

  python -m local_runtime.demo [--config FILE] [--fault SPEC ...] [--rerun] [--serve [--port N]]

Each line of the timeline is printed when its handler writes it: the simulated time, the offset into the night
and the real seconds elapsed, the step, what it decided and why. On a terminal a status line shows the simulated
clock and where each run is; in a log or a pipe the lines are plain text."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from local_runtime.demo_config import DemoConfigError, load_document
from local_runtime.fault_knobs import EVENT_KEYS, KNOBS_HELP, FaultSpecError, parse_faults
from local_runtime.mariadb import MariaDBServer, MariaDBUnavailable
from local_runtime.sample_pipeline import default_config

if TYPE_CHECKING:
    from local_runtime.demo_night import Night

USAGE_ERROR = 2


def _quiet_powertools() -> None:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[name] = value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_runtime.demo",
        description=__doc__,
        epilog="--fault SPEC (repeatable):\n"
        + KNOBS_HELP
        + "\n\nKEYs: "
        + ", ".join(EVENT_KEYS)
        + "\n\nExamples:\n"
        + "  make demo ARGS='--fault error:CopyDBClusterSnapshot:ThrottlingException:2'\n"
        + "  make demo ARGS='--fault drop:RDS-EVENT-0171 --fault delay:RDS-EVENT-0005:900'\n"
        + "  make demo ARGS='--config my-pipelines.yaml --serve'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE", help="your pipelines document (YAML or JSON, as in SSM)")
    parser.add_argument("--fault", metavar="SPEC", action="append", default=[], help="inject a fault (see below)")
    parser.add_argument("--rerun", action="store_true", help="after the night, rerun each pipeline (RestoreRequested)")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="afterwards keep the emulated AWS (a moto server) and MariaDB up for `aurora-restore`, until Ctrl-C",
    )
    parser.add_argument("--port", type=int, default=5000, help="the moto server's port with --serve (0: any free)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        document = load_document(args.config) if args.config else default_config()
        plan = parse_faults(args.fault)
    except DemoConfigError as exc:
        return _usage_error([f"{exc.source}: {problem}" for problem in exc.problems])
    except FaultSpecError as exc:
        return _usage_error([f"--fault {exc}"], f"the knobs:\n{KNOBS_HELP}")
    problem = _serve_problem(args.port) if args.serve else None
    if problem:
        return _usage_error([problem])
    servers = _database_servers(document)
    if isinstance(servers, str):
        return _usage_error([servers])
    print(f"aurora-restore local demo: starting {len(servers)} MariaDB server(s) and the emulated AWS ...", flush=True)
    _quiet_powertools()
    # Imported only now: Powertools reads its environment (set just above) when the handlers are imported.
    from moto import mock_aws

    from local_runtime.demo_night import Night
    from local_runtime.runtime import rds_lifecycle

    with contextlib.ExitStack() as stack:
        try:
            for server in servers:
                stack.enter_context(server)
        except MariaDBUnavailable as exc:
            return _usage_error([str(exc)])
        stack.enter_context(mock_aws())
        stack.enter_context(rds_lifecycle())
        night = Night.prepare(document, plan, servers, sys.stdout)
        code = night.report(night.play(args.rerun))
        if args.serve:
            _serve(night, args.port)
    return code


def _serve_problem(port: int) -> str | None:
    """Why --serve cannot work here, found before the night rather than after it."""
    if importlib.util.find_spec("flask") is None:
        return "--serve needs moto's server (moto[server], which brings flask): run `make setup`"
    if port:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError as exc:
                return f"cannot serve on 127.0.0.1:{port}: {exc.strerror}; give another --port (0: any free port)"
    return None


def _serve(night: Night, port: int) -> None:
    # Imported only here: moto's server needs the `server` extra of moto (flask), which nothing else needs.
    from local_runtime.serve import ServedWorld

    ServedWorld(night.world, night.runtime, night.run_until_idle, port, sys.stdout).serve()


def _usage_error(lines: list[str], hint: str = "") -> int:
    for line in lines:
        print(f"error: {line}", file=sys.stderr)
    if hint:
        print(hint, file=sys.stderr)
    return USAGE_ERROR


def _database_servers(document: dict[str, Any]) -> list[Any] | str:
    """One MariaDB per pipeline (a private server each), or the one named by AURORA_RESTORE_MYSQL_URL."""
    count = len(document["pipelines"])
    external = MariaDBServer.from_env()
    if external is not None:
        if count > 1:
            return (
                f"AURORA_RESTORE_MYSQL_URL names one server; it stands in for one pipeline's cluster, not {count}: "
                "unset it (the demo then starts a private MariaDB per pipeline)"
            )
        return [external]
    return [MariaDBServer() for _ in range(count)]


if __name__ == "__main__":
    sys.exit(main())
