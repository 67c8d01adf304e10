"""The demo's night: the world built for the pipelines document, production's snapshots taken, the runtime run on
its simulated clock until every run has ended and been notified, each audit line printed as it is written, and
the runs' summaries at the end. `local_runtime.demo` is the command line around it."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from local_runtime.demo_stream import AuditTap, TimelinePrinter
from local_runtime.fault_knobs import FaultPlan
from local_runtime.restored_schema import PipelineDatabase
from local_runtime.runtime import LocalRuntime
from local_runtime.world import World
from shared import report
from shared.model import Run, RunStatus

NIGHT_SECONDS = 12 * 3600  # simulated time a night may take before the demo gives up on it


@contextlib.contextmanager
def handlers_quiet() -> Iterator[None]:
    """Handlers print Powertools' EMF/cold-start lines to stdout and log warnings to stderr, as in Lambda (where
    they go to CloudWatch Logs); the timeline says what happened."""
    with (
        warnings.catch_warnings(),
        open(os.devnull, "w", encoding="utf-8") as devnull,
        contextlib.redirect_stdout(devnull),
        contextlib.redirect_stderr(devnull),
    ):
        warnings.simplefilter("ignore")
        yield


@dataclass
class Night:
    world: World
    runtime: LocalRuntime
    printer: TimelinePrinter
    out: TextIO

    @classmethod
    def prepare(cls, document: dict[str, Any], plan: FaultPlan, servers: list[Any], out: TextIO) -> Night:
        """The world for the document, each pipeline's cluster standing in on its own MariaDB server."""
        world = World(document).build()
        databases = {
            p.target_cluster_id: PipelineDatabase(s, p) for p, s in zip(world.config.pipelines, servers, strict=True)
        }
        runtime = LocalRuntime(
            world.settings(),
            databases=databases,
            default_database=databases[world.config.pipelines[0].target_cluster_id],
            **plan.runtime_options(),
        )
        printer = TimelinePrinter(out, runtime.clock.now(), runtime.clock.now)
        runtime.deps.store = AuditTap(runtime.deps.store, printer.on_record)
        night = cls(world, runtime, printer, out)
        night.header(databases, plan)
        return night

    def header(self, databases: dict[str, PipelineDatabase], plan: FaultPlan) -> None:
        self.out.write(f"the simulated clock starts at {self.runtime.clock.now():%Y-%m-%d %H:%M}Z\n")
        for pipeline in self.world.config.pipelines:
            db = databases[pipeline.target_cluster_id]
            extra = sorted(set(db.objects) - {db.SEEDED})
            self.out.write(
                f"  {pipeline.name}: {pipeline.source_cluster_id} ({pipeline.source_region}) -> "
                f"{pipeline.target_cluster_id} ({pipeline.target_region}); restored data on MariaDB "
                f"127.0.0.1:{db.port}: {db.SEEDED}.customers" + (f", {', '.join(extra)}" if extra else "") + "\n"
            )
        for fault in plan.describe():
            self.out.write(f"  fault: {fault}\n")
        self.out.write("\n")
        self.out.flush()

    def play(self, rerun: bool) -> bool:
        """Production's snapshots, then the runs to their end (and, with `rerun`, a rerun of each pipeline)."""
        pipelines = self.world.config.pipelines
        with self.printer:
            for name in self._one_per_source():
                snapshot = self.world.nightly_snapshot(self.runtime, name)
                self.printer.note(self.runtime.clock.now(), f"production's automated snapshot {snapshot} is taken")
            finished = self.run_until(lambda runs: len(runs) >= len(pipelines) and self.settled(runs))
            if finished and rerun:
                for pipeline in pipelines:
                    request = {"version": "1", "pipeline": pipeline.name, "requested_by": "demo"}
                    self.runtime.put_pipeline_event(
                        "RestoreRequested", request | {"request_id": f"rerun-{pipeline.name}"}
                    )
                finished = self.run_until(lambda runs: len(runs) >= 2 * len(pipelines) and self.settled(runs))
        return finished

    def _one_per_source(self) -> list[str]:
        """A pipeline per source cluster: one automated snapshot triggers every pipeline of its source."""
        seen: dict[tuple[str, str], str] = {}
        for pipeline in self.world.config.pipelines:
            seen.setdefault((pipeline.source_region, pipeline.source_cluster_id), pipeline.name)
        return list(seen.values())

    @staticmethod
    def settled(runs: list[Run]) -> bool:
        return all(r.status.is_terminal and r.notified_at is not None for r in runs)

    def run_until(self, done: Callable[[list[Run]], bool]) -> bool:
        """Run the simulated clock until `done(runs)` (False: NIGHT_SECONDS of simulated time ran out first)."""

        looked: tuple[int, list[Run]] = (-1, [])  # (invocations so far, the runs then)

        def check() -> bool:
            # Runs change only inside an invocation: read them again only after one, not after every queued item.
            nonlocal looked
            self.printer.tick()
            invocations = len(self.runtime.deliveries)
            if invocations != looked[0]:
                looked = (invocations, self.runtime.deps.store.recent_runs(None, 50))
            return done(looked[1])

        with handlers_quiet():
            return self.runtime.run_until(check, max_seconds=NIGHT_SECONDS)

    def run_until_idle(self) -> bool:
        """After an operator's request: until every run has ended and no event is left to deliver."""
        return self.run_until(lambda runs: self.settled(runs) and not self.runtime.pending_events())

    def report(self, finished: bool) -> int:
        """Each run's summary, what was notified and which steps ran; 0 when every run succeeded."""
        runs = self.runtime.deps.store.recent_runs(None, 50)
        self.out.write("\n")
        for run in reversed(runs):
            self.out.write(report.summary(run) + "\n\n")
        if not finished:
            self.out.write(f"The night did not finish within {NIGHT_SECONDS // 3600} h of simulated time.\n")
        self.out.write(f"SNS notifications delivered: {len(self.world.notifications())}\n")
        steps = sorted({d.step for d in self.runtime.deliveries})
        self.out.write(f"Steps that ran: {len(steps)} -> {', '.join(steps)}\n")
        self.out.flush()
        return 0 if finished and all(run.status is RunStatus.SUCCEEDED for run in runs) else 1
