"""Cost of one orchestrator-check tick as the state table grows: sparse-index query vs. full-table scan.

    .venv/bin/python bench/orchestrator_bench.py [--sizes 10,100,1000] [--reps 7] [--active 5]

For each size N the state table holds N runs: `--active` of them active and due (one per active status, cycling),
the rest terminal and already notified (so they carry no `active_status` and are absent from the sparse
`active-by-status` index). Each tick is measured twice:

  ours      `shared.steps.orchestrator_check.tick` with the real DynamoStateStore: one Query per status on the
            sparse index.
  baseline  what a naive cron script does: Scan the whole state table (paginated), keep the runs that are active
            (or terminal and not notified) and due, then re-drive them exactly like `tick` does (same lease write,
            same RunCheckDue events), so the two differ only in how they find the due runs.

Reported per tick: median wall time over `--reps` repetitions, DynamoDB items read (sum of ScannedCount of every
Query/Scan response; what DynamoDB bills reads on), items returned (Count) and read calls. Everything runs in one
process against moto. moto evaluates a GSI Query by walking the table in Python, so wall-time ratios here
understate the real difference; the items-read ratio is the one that carries over to DynamoDB.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from offline_env import prepare_offline  # bench/ is the script's own directory

prepare_offline()

from moto import mock_aws  # noqa: E402

from local_runtime.runtime import LocalRuntime  # noqa: E402
from local_runtime.world import TARGET_REGION, World, default_config  # noqa: E402
from shared.aws.state_store import _from_item, run_item  # noqa: E402
from shared.events import OutgoingEvent  # noqa: E402
from shared.model import Run, RunStatus  # noqa: E402
from shared.steps import orchestrator_check  # noqa: E402
from shared.steps.context import Deps  # noqa: E402
from shared.steps.turn import StepTurn, event_detail  # noqa: E402
from shared.transitions import ACTIVE_STATUSES, DetailType  # noqa: E402


@dataclass
class ReadCounter:
    """Sums the read side of every DynamoDB Query/Scan response the client sees."""

    scanned: int = 0
    returned: int = 0
    calls: int = 0
    by_op: dict[str, int] = field(default_factory=dict)

    def reset(self) -> None:
        self.scanned = self.returned = self.calls = 0
        self.by_op.clear()

    def __call__(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in ("Query", "Scan"):
            return
        self.calls += 1
        self.by_op[model.name] = self.by_op.get(model.name, 0) + 1
        self.scanned += int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        self.returned += int(parsed.get("Count", 0))


# The baseline -------------------------------------------------------------------------------------------------------
def baseline_tick(deps: Deps, client: Any, table: str) -> int:
    """Scan everything, filter in the script, then re-drive like `tick` does. Returns the number of due runs."""
    now = deps.clock.now()
    due: list[Run] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        response = client.scan(**kwargs)
        for item in response.get("Items", []):
            data = _from_item(item)
            if data.get("kind") != "run":
                continue
            run = Run.model_validate(data)
            needs_attention = not run.status.is_terminal or run.pending_notification
            if needs_attention and run.next_check_at <= now:
                due.append(run)
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    outgoing = []
    for run in due:
        if not run.status.is_terminal and now >= run.deadline_at:
            expired = StepTurn(deps, run, "naive-cron", "deadline")
            expired.fail(expired.deadline_exceeded())
            continue
        turn = StepTurn(deps, run, "naive-cron", "schedule")
        leased = turn.claim(f"check due in {run.status.value}", next_check_at=now + orchestrator_check.LEASE)
        if leased is not None:
            detail = event_detail(leased, DetailType.RUN_CHECK_DUE)
            outgoing.append(OutgoingEvent(detail_type=DetailType.RUN_CHECK_DUE, detail=detail))
    if outgoing:
        deps.bus.publish(outgoing)
    return len(due)


# Data ---------------------------------------------------------------------------------------------------------------
def make_run(index: int, status: RunStatus, now: datetime) -> Run:
    created = now - timedelta(days=index, minutes=30)
    run_id = f"{created:%Y%m%dt%H%M}-{index:010x}"
    terminal = status.is_terminal
    return Run(
        run_id=run_id,
        pipeline="nightly",
        status=status,
        version=7,
        created_at=created,
        updated_at=created + timedelta(minutes=20),
        trigger="rds-event",
        trigger_detail=f"RDS-EVENT-0169 rds:prod-aurora-{created:%Y-%m-%d-%H-%M}",
        correlation_id=run_id,
        source_region="us-east-1",
        source_snapshot_id=f"rds:prod-aurora-{created:%Y-%m-%d-%H-%M}",
        source_snapshot_arn=f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-aurora-{created:%Y-%m-%d}",
        target_region=TARGET_REGION,
        target_cluster_id="staging-aurora",
        copy_snapshot_id=f"ar-nightly-{run_id}",
        state_entered_at=created + timedelta(minutes=20),
        deadline_at=now + timedelta(days=2),  # never past deadline during the benchmark
        next_check_at=now - timedelta(minutes=1),
        ended_at=created + timedelta(hours=1) if terminal else None,
        notified_at=created + timedelta(hours=1, minutes=1) if terminal else None,
    )


def load_table(client: Any, world: World, size: int, active: int, now: datetime) -> None:
    definition = world.tables["StateTable"]
    table = definition["TableName"]
    client.delete_table(TableName=table)
    client.create_table(**definition)
    runs = [make_run(i, ACTIVE_STATUSES[i % len(ACTIVE_STATUSES)], now) for i in range(min(active, size))]
    runs += [make_run(i, RunStatus.SUCCEEDED if i % 7 else RunStatus.FAILED, now) for i in range(len(runs), size)]
    for start in range(0, len(runs), 25):
        batch = [{"PutRequest": {"Item": run_item(run)}} for run in runs[start : start + 25]]
        client.batch_write_item(RequestItems={table: batch})


# Measurement --------------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)
    due: list[int] = field(default_factory=list)


def measure(size: int, active: int, reps: int, world: World, runtime: LocalRuntime, counter: ReadCounter) -> dict:
    client = runtime._clients.client("dynamodb", TARGET_REGION)  # the very client the state store uses
    table = world.tables["StateTable"]["TableName"]
    load_table(client, world, size, active, runtime.clock.now())
    results = {"ours": Sample(), "baseline": Sample()}
    approaches = {
        "ours": lambda: orchestrator_check.tick(runtime.deps).due,
        "baseline": lambda: baseline_tick(runtime.deps, client, table),
    }
    for rep in range(reps + 1):  # rep 0 warms up (imports, client caches) and is discarded
        order = ("ours", "baseline") if rep % 2 else ("baseline", "ours")
        for name in order:
            # every tick leases the due runs for LEASE; move past it so each tick sees the same due runs again
            runtime.clock.set(runtime.clock.now() + orchestrator_check.LEASE + timedelta(seconds=1))
            counter.reset()
            start = time.perf_counter()
            due = approaches[name]()
            elapsed = time.perf_counter() - start
            if rep == 0:
                continue
            sample = results[name]
            sample.seconds.append(elapsed)
            sample.scanned.append(counter.scanned)
            sample.returned.append(counter.returned)
            sample.calls.append(counter.calls)
            sample.due.append(due)
    for name, sample in results.items():
        if set(sample.due) != {min(active, size)}:
            raise SystemExit(f"{name} found {sorted(set(sample.due))} due runs at N={size}, expected {active}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated run counts (default 10,100,1000)")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions per size and approach (default 7)")
    parser.add_argument("--active", type=int, default=5, help="active, due runs per size (default 5)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    started = time.perf_counter()
    with mock_aws():
        world = World(default_config()).build(previous_target=False, old_copies=0)
        runtime = LocalRuntime(world.settings(), idempotency=False)
        counter = ReadCounter()
        runtime._clients.client("dynamodb", TARGET_REGION).meta.events.register("after-call.dynamodb", counter)

        header = (
            f"{'N runs':>7} {'approach':<9} {'median ms':>10} {'items read':>11} {'returned':>9} "
            f"{'read calls':>10} {'due':>4}"
        )
        print(f"orchestrator-check tick cost ({args.active} active & due runs; median of {args.reps} ticks; moto)")
        print(header)
        print("-" * len(header))
        ratios = []
        for size in sizes:
            results = measure(size, args.active, args.reps, world, runtime, counter)
            medians = {}
            for name in ("ours", "baseline"):
                s = results[name]
                medians[name] = (statistics.median(s.seconds) * 1000, statistics.median(s.scanned))
                print(
                    f"{size:>7} {name:<9} {medians[name][0]:>10.2f} {statistics.median(s.scanned):>11.0f} "
                    f"{statistics.median(s.returned):>9.0f} {statistics.median(s.calls):>10.0f} "
                    f"{statistics.median(s.due):>4.0f}"
                )
            ratios.append(
                (
                    size,
                    medians["baseline"][0] / medians["ours"][0],
                    medians["baseline"][1] / max(medians["ours"][1], 1),
                )
            )
        print()
        print("ratio baseline/ours (>1: the sparse index is cheaper)")
        print(f"{'N runs':>7} {'wall time':>10} {'items read':>11}")
        for size, wall, items in ratios:
            print(f"{size:>7} {wall:>9.2f}x {items:>10.1f}x")
    print(f"\n(total {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
