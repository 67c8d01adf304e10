"""Simulated nights for the wake-up benchmark: the pipeline on the local runtime (moto, the RDS emulator, the
simulated clock, events routed by `template.yaml`), measured per run.

What is counted, per run:
- Lambda invocations of the pipeline's functions, split into those that moved the run (a transition or the
  notification), those that looked and found nothing to do yet (a wait), and those that woke for nothing (the
  delivery was ignored: a stale wake-up or check, a run already moved on); the periodic safety-net check apart.
- AWS requests the handlers made, by service (DynamoDB and EventBridge Scheduler included), from the runtime's hooks.
- For each wait, how long after the awaited thing happened the pipeline acted on it ("detection delay"): the copy's
  end (no event), the instances' and the cluster's deletion (RDS-EVENT-0003 / 0171), the restore (0170 and 0005),
  the master password (0016). When it happened comes from the emulator (it emits the event at that moment, even
  when the fault then loses it); when the pipeline acted, from its calls and the run's timings.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local_runtime.envelopes import RdsNotice
from local_runtime.faults import Fault
from local_runtime.rds_emulator import Durations, steady_progress
from local_runtime.runtime import LocalRuntime
from local_runtime.sample_pipeline import DEFAULT_PIPELINE, TARGET_REGION
from local_runtime.wakeup_firing import Precision
from local_runtime.world import World
from shared.model import Run, RunStatus
from shared.naming import instance_id
from shared.transitions import Step

# RDS events the pipeline acts on after the trigger (a lost-events night loses all of them).
RDS_EVENTS_AFTER_TRIGGER = ("RDS-EVENT-0003", "RDS-EVENT-0171", "RDS-EVENT-0170", "RDS-EVENT-0005", "RDS-EVENT-0016")
WAITS = ("copy", "instances deleted", "cluster deleted", "restore", "master password")
# Between the nightly snapshots of the pipelines of one night: their database steps share one local server, whose
# seeding of a restored cluster resets its accounts, so no two may overlap (each takes well under a minute).
STAGGER = timedelta(minutes=3)


@dataclass(frozen=True)
class Night:
    """How long RDS takes on this night (minutes), and whether the RDS events after the trigger get lost."""

    copy: float = 60
    delete: float = 10  # instances (6/10 of it), then the cluster
    restore: float = 20  # the cluster; its instances take `instances` more
    instances: float = 10
    events_lost: bool = False
    precision: Precision = "minute"

    @property
    def label(self) -> str:
        lost = ", RDS events lost" if self.events_lost else ""
        return f"copy {self.copy:g} min{lost}"

    def durations(self) -> Durations:
        """Plus a few odd seconds each, so that no wait ends on a polling loop's beat."""
        return Durations(
            copy=int(self.copy * 60) + 17,
            instance_delete=int(self.delete * 60 * 0.6) + 29,
            cluster_delete=int(self.delete * 60 * 0.4) + 11,
            cluster_restore=int(self.restore * 60) + 43,
            instance_create=int(self.instances * 60) + 7,
        )


@dataclass
class RunFigures:
    """One approach's figures, summed over its runs (divide by `runs` for per-run figures)."""

    runs: int = 0
    succeeded: int = 0
    moved: int = 0
    looked: int = 0
    nothing: int = 0
    checks: float = 0  # safety-net invocations (their share, for N pipelines)
    calls: Counter[str] = field(default_factory=Counter)  # by service
    delays: dict[str, list[float]] = field(default_factory=lambda: {w: [] for w in WAITS})
    copy_looks: list[int] = field(default_factory=list)
    idle_tick_calls: float = 0  # AWS requests of one check that found nothing due
    failures: list[str] = field(default_factory=list)  # why runs failed, if any did

    @property
    def invocations(self) -> float:
        return self.moved + self.looked + self.nothing + self.checks

    def per_run(self, value: float) -> float:
        return value / max(self.runs, 1)


class MeasuredRuntime(LocalRuntime):
    """The local runtime, also keeping when each RDS event happened and the parameters of each RDS call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published = 0  # SNS notifications: one per finished run (counted from the first AWS call on)
        super().__init__(*args, **kwargs)
        self.happened: list[tuple[datetime, str, str]] = []  # (time, EventID, resource id)
        self.rds_params: list[tuple[datetime, str, dict[str, Any]]] = []  # successful calls
        self.copy_looks: Counter[str] = Counter()  # copy-status looks (DescribeDBClusterSnapshots) per snapshot id

    def count_call(self, service: str, operation: str) -> None:
        self.published += operation == "Publish"
        super().count_call(service, operation)

    def emit_rds_event(self, notice: RdsNotice) -> None:
        self.happened.append((self.clock.now(), notice.event_id, notice.source_id))
        super().emit_rds_event(notice)

    def after_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None:
        self.rds_params.append((self.clock.now(), operation, dict(params)))
        if operation == "DescribeDBClusterSnapshots" and self._invoking == Step.CHECK_COPY_STATUS.value:
            self.copy_looks[str(params.get("DBClusterSnapshotIdentifier"))] += 1
        super().after_rds_call(region, operation, params)


class SharedDatabase:
    """One local MariaDB standing in for every pipeline's cluster on a night of N pipelines. The emulator seeds a
    restored cluster's server (production's data and accounts, every other account dropped, the master password
    reset); here only the first restore does, so a later restore never undoes what another pipeline is configuring;
    the later ones add their own master user (each pipeline's clusters have their own, `admin_<pipeline>`, whose
    password its own ModifyDBCluster sets), so two pipelines' database steps never race for one password."""

    def __init__(self, server: Any) -> None:
        self._server = server
        self._seeded = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def seed_restored_cluster(self, master_user: str, master_password: str, database: str = "appdb") -> None:
        if self._seeded:
            self._server.add_master_user(master_user, master_password)
            return
        self._seeded = True
        self._server.seed_restored_cluster(master_user, master_password, database)


def pipeline_doc(index: int, shared_server: bool = False) -> dict[str, Any]:
    """Pipeline `index` of a night: its own source and target in one region (no cross-region copy limit), its
    own master secret; SQL and users as the demo's."""
    doc = {key: value for key, value in DEFAULT_PIPELINE.items()}
    name = f"p{index:04d}"
    doc.update(
        name=name,
        source_cluster_id=f"prod-{name}",
        source_region=TARGET_REGION,
        target_cluster_id=f"staging-{name}",
        database={**DEFAULT_PIPELINE["database"], "master_secret_id": f"aurora-restore/{name}/db-credentials"},
        # The flow the polling loop runs too (copy, delete, restore), so both sides do the same work: a same-region
        # `auto` pipeline would clone instead, and a `swap` adds its renames.
        strategy="snapshot-copy",
        cutover="replace",
    )
    if shared_server:  # each pipeline would drop the others' master users from the one server standing in for all
        doc["database"] = {**doc["database"], "drop_unlisted_accounts": False}
    return doc


def quietly(action: Any) -> Any:
    """Handlers print Powertools' lines to stdout as in Lambda; keep the benchmark's output readable."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return action()


def run_pipeline_night(night: Night, pipelines: int, database: Any) -> RunFigures:
    """`pipelines` pipelines on one night (their snapshots STAGGER apart), to the end; inside `mock_aws()` and
    `rds_lifecycle()`."""
    config = {"pipelines": [pipeline_doc(i, shared_server=pipelines > 1) for i in range(pipelines)]}
    masters = {doc["name"]: f"admin_{doc['name']}" for doc in config["pipelines"]} if pipelines > 1 else {}
    world = World(config, master_users=masters).build(old_copies=0)
    faults = [Fault(event_id, "drop") for event_id in RDS_EVENTS_AFTER_TRIGGER] if night.events_lost else []
    runtime = MeasuredRuntime(
        world.settings(),
        durations=night.durations(),
        faults=faults,
        default_database=SharedDatabase(database) if pipelines > 1 else database,
        manual_snapshot_quota=100_000,
        # An account running hundreds of pipelines has its DB cluster and instance quotas raised (default 40 each).
        account_quotas={"cluster_quota": 100_000, "instance_quota": 100_000},
        copy_progress=steady_progress(),
        wakeup_precision=night.precision,
    )
    start = runtime.clock.now()
    for index, pipeline in enumerate(world.config.pipelines):
        at = start + index * STAGGER
        runtime.later(
            (at - start).total_seconds(), lambda name=pipeline.name, at=at: world.nightly_snapshot(runtime, name, at)
        )

    def finished() -> bool:  # cheap: it is asked before every event (a scan of the table each time is not)
        return runtime.published >= pipelines

    if not quietly(lambda: runtime.run_until(finished, max_seconds=24 * 3600)):
        raise RuntimeError(f"{night.label}: the runs did not finish within a simulated day")
    return measure(runtime, runtime.deps.store.recent_runs(None, pipelines + 1))


def measure(runtime: MeasuredRuntime, runs: list[Run]) -> RunFigures:
    figures = RunFigures(runs=len(runs), succeeded=sum(r.status is RunStatus.SUCCEEDED for r in runs))
    figures.failures = [f"{r.pipeline}: {r.failure.code}: {r.failure.message}" for r in runs if r.failure is not None]
    store = runtime.deps.store
    for run in runs:
        trail = store.audit_trail(run.run_id)
        figures.moved += sum(
            1 for r in trail if r.kind in ("transition", "notified") and r.step != Step.ORCHESTRATOR_CHECK
        )
    check = Step.ORCHESTRATOR_CHECK.value
    deliveries = [d for d in runtime.deliveries if d.step != check]
    figures.nothing = sum(1 for d in deliveries if d.result == "ignored")
    figures.looked = len(deliveries) - figures.moved - figures.nothing
    figures.checks = sum(1 for d in runtime.deliveries if d.step == check)
    figures.calls = Counter(service for _, step, service, _ in runtime.api_calls if step)
    idle = [d.at for d in runtime.deliveries if d.step == check and '"due":0' in d.detail]
    if idle:
        per_tick = Counter(at for at, step, _, _ in runtime.api_calls if step == check)
        figures.idle_tick_calls = statistics.mean(per_tick[at] for at in idle)
    for run in runs:
        for wait, delay in detection_delays(runtime, run).items():
            figures.delays[wait].append(delay)
        figures.copy_looks.append(runtime.copy_looks[run.copy_snapshot_id])
    return figures


def detection_delays(runtime: MeasuredRuntime, run: Run) -> dict[str, float]:
    """Seconds from each awaited thing to the pipeline acting on it, for one run."""
    cluster = run.target_cluster_id
    pipeline = runtime.deps.pipeline(run.pipeline)
    members = {instance_id(cluster, i) for i in range(1, pipeline.instances.count + 1)}

    def happened(event_id: str, resources: set[str], after: datetime) -> datetime:
        return max(
            at for at, event, source in runtime.happened if event == event_id and source in resources and at >= after
        )

    def called(operation: str, key: str, after: datetime) -> datetime:
        return min(
            at
            for at, op, params in runtime.rds_params
            if op == operation and params.get(key) == cluster and at >= after
        )

    copy_started = next(
        at
        for at, op, p in runtime.rds_params
        if op == "CopyDBClusterSnapshot" and p.get("TargetDBClusterSnapshotIdentifier") == run.copy_snapshot_id
    )
    copy_end = copy_started + timedelta(seconds=runtime.durations.copy)
    timings = run.timings
    replacing = timings[RunStatus.REPLACING_TARGET.value].started_at
    instances_gone = happened("RDS-EVENT-0003", members, replacing)
    cluster_gone = happened("RDS-EVENT-0171", {cluster}, replacing)
    restored = max(
        happened("RDS-EVENT-0170", {cluster}, cluster_gone), happened("RDS-EVENT-0005", members, cluster_gone)
    )
    password = happened("RDS-EVENT-0016", {cluster}, restored)
    acted = {
        "copy": (copy_end, timings[RunStatus.COPYING.value].ended_at),
        "instances deleted": (instances_gone, called("DeleteDBCluster", "DBClusterIdentifier", instances_gone)),
        "cluster deleted": (cluster_gone, called("RestoreDBClusterFromSnapshot", "DBClusterIdentifier", cluster_gone)),
        "restore": (restored, timings[RunStatus.RESTORING.value].ended_at),
        "master password": (password, timings[RunStatus.CONFIGURING_DB.value].ended_at),
    }
    return {wait: (end - start).total_seconds() for wait, (start, end) in acted.items() if end is not None}
