"""Wake-ups against polling: the same simulated nights under this pipeline and under a Step Functions-style polling
loop (every 10, 30 and 60 s), on the same clock and RDS emulator; then N pipelines on one night.

    .venv/bin/python bench/wakeup_bench.py [--quick] [--precision minute|second] [--max-seconds 120]

Nights: the copy takes 10, 60 or 180 minutes (delete 10, restore 20, instances 10), and the standard night (copy 60)
once more with every RDS event after the trigger lost. Per run: Lambda invocations (moved the run / looked / woke
for nothing / the periodic safety-net check), AWS requests by service, detection delay per wait, and the loops'
ratios to the pipeline. The pipeline runs on the local runtime (moto, `template.yaml`'s rules, the handlers as
deployed); the loop on the same emulator (bench/polling_loop.py). `--precision` is how the local runtime fires
one-time schedules within EventBridge Scheduler's documented 60-second precision (local_runtime/wakeup_firing.py).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from offline_env import prepare_offline  # bench/ is the script's own directory

prepare_offline()

from moto import mock_aws  # noqa: E402

from bench.nights import WAITS, Night, RunFigures, quietly, run_pipeline_night  # noqa: E402
from bench.polling_loop import run_loop_night  # noqa: E402
from local_runtime.mariadb import MariaDBServer  # noqa: E402
from local_runtime.runtime import rds_lifecycle  # noqa: E402

LOOPS = (10, 30, 60)
SAFETY_NET_SECONDS = 15 * 60  # the template's default OrchestratorRate
COPY_RUNS = 5
SERVICES = ("dynamodb", "scheduler", "rds", "events", "secretsmanager", "sns", "ssm")


def isolated(action: Any) -> Any:
    """A fresh moto account for each night."""
    with mock_aws(), rds_lifecycle():
        return action()


def pipeline_night(night: Night, pipelines: int, database: Any) -> RunFigures:
    return isolated(lambda: run_pipeline_night(night, pipelines, database))


def loop_night(night: Night, poll: int) -> RunFigures:
    return isolated(lambda: quietly(lambda: run_loop_night(night, poll)))


def _delay(values: list[float]) -> str:
    return f"{statistics.mean(values):5.0f} / {max(values):4.0f}" if values else "     -"


def night_table(night: Night, ours: RunFigures, loops: dict[int, RunFigures]) -> list[str]:
    columns = [("pipeline", ours), *((f"loop {p} s", f) for p, f in loops.items())]
    head = f"{'per run':<34}" + "".join(f"{name:>14}" for name, _ in columns)
    rows = [head, "-" * len(head)]

    def row(label: str, value: Any) -> None:
        rows.append(f"{label:<34}" + "".join(f"{value(f):>14}" for _, f in columns))

    row("runs succeeded", lambda f: f"{f.succeeded}/{f.runs}")
    row("Lambda invocations", lambda f: f"{f.per_run(f.invocations):.1f}")
    row("  moved the run", lambda f: f"{f.per_run(f.moved):.1f}")
    row("  looked", lambda f: f"{f.per_run(f.looked):.1f}")
    row("  woke for nothing", lambda f: f"{f.per_run(f.nothing):.1f}")
    row("  safety-net check", lambda f: f"{f.per_run(f.checks):.1f}")
    row("AWS API calls (all)", lambda f: f"{f.per_run(sum(f.calls.values())):.1f}")
    for service in SERVICES:
        if any(f.calls.get(service) for _, f in columns):
            row(f"  {service}", lambda f, s=service: f"{f.per_run(f.calls.get(s, 0)):.1f}")
    row("looks at the copy", lambda f: f"{max(f.copy_looks)}" if ours is f else "-")
    rows.append("detection delay, s (mean / max)")
    for wait in WAITS:
        row(f"  {wait}", lambda f, w=wait: _delay(f.delays[w]))
    ratio = [f"{'loop / pipeline':<34}" + f"{'':>14}"]
    for _, f in columns[1:]:
        inv = f.per_run(f.invocations) / max(ours.per_run(ours.invocations), 1e-9)
        api = f.per_run(sum(f.calls.values())) / max(ours.per_run(sum(ours.calls.values())), 1e-9)
        ratio.append(f"{f'{inv:.1f}x / {api:.1f}x':>14}")
    rows.append("".join(ratio) + "   (invocations / API calls)")
    return [
        f"== {night.label} (delete {night.delete:g}, restore {night.restore:g}, instances {night.instances:g}) =="
    ] + rows


def copy_table(server: Any, copies: tuple[int, ...], runs: int) -> list[str]:
    """Copy finished -> noticed, over `runs` copies of slightly different lengths (every 0.37 minute more), for
    both ways of firing the wake-ups."""
    head = f"{'copy':>10}{'wake-ups fired':>22}{'mean s':>8}{'max s':>7}{'looks (max)':>13}"
    rows = [head, "-" * len(head)]
    for precision in ("second", "minute"):
        for copy in copies:
            nights = [pipeline_night(Night(copy=copy + k * 0.37, precision=precision), 1, server) for k in range(runs)]
            delays = [d for f in nights for d in f.delays["copy"]]
            looks = max(n for f in nights for n in f.copy_looks)
            label = "at their second" if precision == "second" else "within their minute"
            figures = f"{statistics.mean(delays):>8.0f}{max(delays):>7.0f}{looks:>13}"
            rows.append(f"{f'{copy} min':>10}{label:>22}{figures}")
    return rows


def scaling_table(results: list[tuple[int, RunFigures, float]]) -> list[str]:
    head = (
        f"{'N pipelines':>12}{'succeeded':>11}{'invocations/run':>17}{'API calls/run':>15}"
        f"{'DynamoDB/run':>14}{'Scheduler/run':>15}{'wall s':>8}"
    )
    rows = [head, "-" * len(head)]
    for n, f, seconds in results:
        rows.append(
            f"{n:>12}{f'{f.succeeded}/{f.runs}':>11}{f.per_run(f.invocations):>17.1f}{f.per_run(sum(f.calls.values())):>15.1f}"
            f"{f.per_run(f.calls['dynamodb']):>14.1f}{f.per_run(f.calls['scheduler']):>15.1f}{seconds:>8.1f}"
        )
    rows += [f"{'':>12}failed: {failure}" for _, f, _ in results for failure in f.failures]
    base = results[0][1]
    for n, f, _ in results[1:]:
        inv = f.per_run(f.invocations) / base.per_run(base.invocations)
        api = f.per_run(sum(f.calls.values())) / base.per_run(sum(base.calls.values()))
        rows.append(f"{'':>12}N={n} / N={results[0][0]}: invocations {inv:.2f}x, API calls {api:.2f}x")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--precision", choices=("minute", "second"), default="minute")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="wall time for the largest N (default 120)")
    parser.add_argument("--quick", action="store_true", help="standard night and N=10 only")
    parser.add_argument("--sizes", default="10,100", help="N pipelines a night, before the largest (default 10,100)")
    parser.add_argument("--scaling-only", action="store_true", help="only the N pipelines a night")
    args = parser.parse_args()
    started = time.perf_counter()
    nights = [] if args.scaling_only else [Night(copy=60, precision=args.precision)]
    if not args.quick and not args.scaling_only:
        nights = [
            Night(copy=10, precision=args.precision),
            *nights,
            Night(copy=180, precision=args.precision),
            Night(copy=60, events_lost=True, precision=args.precision),
        ]
    server = MariaDBServer.from_env() or MariaDBServer()
    with server:
        print(f"Wake-ups vs polling, simulated nights (one-time schedules fired at {args.precision} precision)\n")
        standard: RunFigures | None = None
        for night in nights:
            ours = pipeline_night(night, 1, server)
            loops = {poll: loop_night(night, poll) for poll in LOOPS}
            print("\n".join(night_table(night, ours, loops)))
            print()
            if night.copy == 60 and not night.events_lost:
                standard = ours
        if not args.scaling_only:
            copies = (60,) if args.quick else (10, 60, 180)
            print(f"Copy finished -> noticed ({COPY_RUNS} copies of each length, 0.37 min apart):")
            print("\n".join(copy_table(server, copies, COPY_RUNS)))
            print()
        if standard is not None:
            ticks = 24 * 3600 / SAFETY_NET_SECONDS
            print(
                f"idle day (no run): {ticks:.0f} safety-net checks, {ticks * standard.idle_tick_calls:.0f} AWS API "
                f"calls ({standard.idle_tick_calls:.0f} per check); a polling loop: 0\n"
            )
        results = []
        sizes = [10] if args.quick else [int(n) for n in args.sizes.split(",")]
        for n in sizes:
            begin = time.perf_counter()
            results.append((n, pipeline_night(Night(precision=args.precision), n, server), time.perf_counter() - begin))
            print(f"  (N={n}: {time.perf_counter() - begin:.0f} s)", flush=True)
        if not args.quick:
            per_pipeline = results[-1][2] / results[-1][0]
            largest = max(int(args.max_seconds / per_pipeline) // 10 * 10, 10)
            if largest not in sizes:
                begin = time.perf_counter()
                figures = pipeline_night(Night(precision=args.precision), largest, server)
                results.append((largest, figures, time.perf_counter() - begin))
        print("N pipelines on one night (standard night, snapshots 3 minutes apart), per run:")
        print("\n".join(scaling_table(sorted(results, key=lambda r: r[0]))))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
