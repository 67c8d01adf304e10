"""`make demo`: a whole nightly restore in local emulation (moto + MariaDB + simulated clock), with its timeline.

python -m local_runtime.demo [--rerun]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Any

from local_runtime.mariadb import MariaDBServer

if TYPE_CHECKING:
    from local_runtime.runtime import LocalRuntime


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


def timeline(runtime: LocalRuntime, run_id: str, start: datetime) -> list[str]:
    lines = []
    for record in runtime.deps.store.audit_trail(run_id):
        offset = int((record.at - start).total_seconds())
        stamp = f"+{offset // 3600:02d}:{offset % 3600 // 60:02d}:{offset % 60:02d}"
        move = f"{record.from_status or '':>16} -> {record.to_status}" if record.kind == "transition" else ""
        lines.append(
            f"{stamp}  {record.step:<21} {record.kind:<10} {(record.trigger or '')[:24]:<24} {move:<36} "
            f"{record.message}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rerun", action="store_true", help="after the nightly run, rerun via RestoreRequested")
    args = parser.parse_args(argv)
    _quiet_powertools()
    # Imported only now: Powertools reads its environment (set just above) when the handlers are imported.
    from moto import mock_aws

    from local_runtime.runtime import LocalRuntime, rds_lifecycle
    from local_runtime.world import World, default_config
    from shared import report

    server = MariaDBServer.from_env() or MariaDBServer()
    with server, mock_aws():
        world = World(default_config()).build()
        runtime = LocalRuntime(world.settings(), default_database=server)
        with rds_lifecycle():
            start = runtime.clock.now()
            print(
                f"aurora-restore local demo: {world.config.pipelines[0].source_cluster_id} "
                f"({world.config.pipelines[0].source_region}) -> {world.config.pipelines[0].target_cluster_id} "
                f"({world.target_region}); simulated clock starts {start:%Y-%m-%d %H:%M}Z\n"
            )
            snapshot = world.nightly_snapshot(runtime)
            print(f"RDS-EVENT-0169: automated snapshot {snapshot} created\n")
            runs = _run_to_end(runtime)
            if args.rerun:
                runtime.put_pipeline_event(
                    "RestoreRequested",
                    {"version": "1", "pipeline": "nightly", "requested_by": "demo", "request_id": "rerun-1"},
                )
                runs = _run_to_end(runtime, expected=2)
            ok = True
            for run in reversed(runs):
                print(f"Run {run.run_id}: {run.status.value}")
                print("\n".join(timeline(runtime, run.run_id, start)))
                print()
                print(report.summary(run))
                print()
                ok = ok and run.status.value == "SUCCEEDED"
            messages = world.notifications()
            print(f"SNS notifications delivered: {len(messages)}")
            steps = sorted({d.step for d in runtime.deliveries})
            print(f"Steps that ran: {len(steps)} -> {', '.join(steps)}")
            return 0 if ok else 1


def _run_to_end(runtime: LocalRuntime, expected: int = 1) -> list[Any]:
    def finished() -> bool:
        runs = runtime.deps.store.recent_runs(None, 50)
        return len(runs) >= expected and all(r.status.is_terminal and r.notified_at is not None for r in runs)

    # Handlers print Powertools' EMF/cold-start lines to stdout as in Lambda; keep the demo's output readable.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        runtime.run_until(finished, max_seconds=12 * 3600)
    return runtime.deps.store.recent_runs(None, 50)


if __name__ == "__main__":
    sys.exit(main())
