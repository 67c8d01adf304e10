"""End-to-end harness: moto + the local runtime (template rules, RDS emulator, simulated clock) + MariaDB."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws

from local_runtime.runtime import LocalRuntime, rds_lifecycle
from local_runtime.world import World, default_config
from shared.model import Run, RunStatus

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@dataclass
class Harness:
    world: World
    runtime: LocalRuntime

    def runs(self) -> list[Run]:
        return self.runtime.deps.store.recent_runs(None, 100)

    def run_to_end(self, runs: int = 1, max_seconds: int = 12 * 3600) -> list[Run]:
        """Advance the simulated clock until `runs` runs exist and all are finished and notified."""

        looked: tuple[int, bool] = (-1, False)  # (invocations so far, finished then)

        def finished() -> bool:
            # Runs change only inside an invocation: look again only after one (looking after every queued item,
            # an emulated RDS step included, cost a third of a night's time).
            nonlocal looked
            invocations = len(self.runtime.deliveries)
            if invocations != looked[0]:
                looked = (invocations, self.settled(runs))
            return looked[1]

        assert self.runtime.run_until(finished, max_seconds), f"runs did not finish: {self.runs()}"
        return self.runs()

    def settled(self, runs: int) -> bool:
        """At least `runs` runs, each ended and notified. Reads only those two attributes of each run: moto's
        response of whole runs (timings, copy samples, validation) takes four times as long to make."""
        response = self.world.client("dynamodb", self.runtime.settings.target_region).scan(
            TableName=self.runtime.settings.state_table_name,
            FilterExpression="kind = :run",
            ProjectionExpression="#status, notified_at",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":run": {"S": "run"}},
            ConsistentRead=True,
        )
        items = response["Items"]
        return len(items) >= runs and all(
            RunStatus(item["status"]["S"]).is_terminal and "notified_at" in item for item in items
        )

    def trail(self, run_id: str) -> list[Any]:
        return self.runtime.deps.store.audit_trail(run_id)

    def rds(self, region: str | None = None) -> Any:
        return self.world.client("rds", region)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(), rds_lifecycle():
        yield


@pytest.fixture
def harness(aws: None, mariadb: Any) -> Callable[..., Harness]:
    def make(
        config: dict[str, Any] | None = None, *, build: dict[str, Any] | None = None, **runtime_options: Any
    ) -> Harness:
        # Today's delete-then-restore cut-over unless a test asks otherwise: the suites before the swap assert its
        # behaviour (tests/e2e/test_swap_nights.py runs the default `swap` nights).
        world = World(config or default_config(cutover="replace")).build(**(build or {}))
        runtime_options.setdefault("default_database", mariadb)
        runtime = LocalRuntime(world.settings(), **runtime_options)
        return Harness(world, runtime)

    return make
