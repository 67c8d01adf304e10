"""In-memory fakes of the project's own ports (shared/ports.py), a settable clock and a recorder, for unit tests.

No boto3 client and no moto: every fake keeps its state in dicts and records the calls made to it, so a test reads
as Given (seed the fakes) / When (call the domain through its public API) / Then (look at the fakes).

- `InMemoryStateStore` honours the contract of `shared/aws/state_store.py` (conditional writes, target locks, the
  sparse "needs attention" index, the audit trail). `tests/integration/test_state_store_contract.py` runs the same
  scenarios against the DynamoDB adapter on moto, so the two cannot drift apart unnoticed.
- `FakeRds` holds clusters, instances and snapshots as the port's views. A failure is injected by AWS error code and
  comes out as the `PipelineError` the adapter (`shared/aws/rds.py`) would raise: the same `translate()` decides
  the message and whether it is transient.
- `FakeSqlConnector` records statements; with `durations` they use up a `FakeTimer` (the invocation's time left),
  and one past its timeout is cancelled, as the PyMySQL adapter does; `answers` gives queries their rows.
- `Fakes` wires them (plus bus, notifier, secrets, SQL, clock, timer and recorder) into a real `Deps`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError  # an exception class, for translate(); no client is ever created

from local_runtime.sample_pipeline import DEFAULT_PIPELINE, TARGET_REGION
from shared.aws.errors import translate
from shared.clock import epoch
from shared.config import AppConfig, DatabaseConfig, PipelineConfig, parse_config
from shared.errors import (
    CannotCheck,
    PipelineError,
    RunExistsError,
    StaleRunError,
    StaleWatchError,
    StatementTimedOut,
    TargetBusyError,
)
from shared.events import DETAIL_MODELS, OutgoingEvent, PipelineDetail
from shared.model import AuditRecord, PipelineWatch, Run, RunStatus, StepTiming
from shared.naming import MANAGED_BY, TAG_MANAGED_BY, TAG_PIPELINE, lock_key_for
from shared.ports import (
    ClusterView,
    InstanceRequest,
    InstanceView,
    KeyGrantView,
    KeyView,
    RestoreRequest,
    SnapshotQuota,
    SnapshotView,
    SubnetGroupView,
)
from shared.steps.context import Deps

ACCOUNT = "123456789012"
T0 = datetime(2026, 11, 25, 3, 10, tzinfo=UTC)  # production's nightly backup has just finished
RUN_ID = "20261125t0310-3f9a1c2b7d"

# The demo night's pipeline (never mutated: see pipeline_doc), with today's delete-then-restore cut-over: the domain
# tests of the steps before and after the cut-over were written for it; the `swap` tests ask for it.
PIPELINE_DOC: dict[str, Any] = {**DEFAULT_PIPELINE, "cutover": "replace"}


def pipeline_doc(**overrides: Any) -> dict[str, Any]:
    doc = deepcopy(PIPELINE_DOC)
    doc.update(overrides)
    return doc


def make_config(*pipelines: dict[str, Any]) -> AppConfig:
    """A validated configuration (through the real parser) of the given pipeline documents, or the default one."""
    return parse_config({"pipelines": list(pipelines) or [pipeline_doc()]})


# Clock and recorder ---------------------------------------------------------------------------------------------
class FakeClock:
    """Satisfies shared.clock.Clock; time moves only when a test moves it."""

    def __init__(self, now: datetime = T0) -> None:
        self._now = now
        self.slept: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def sleep(self, seconds: float) -> None:
        """A step waiting in place: the time moves, and `on_sleep` (if a test set one) changes the world."""
        self.slept.append(seconds)
        self._now += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            self.on_sleep()


@dataclass(frozen=True)
class LogLine:
    level: str
    message: str
    extra: dict[str, Any]


class Recorder:
    """Stands in for `deps.log` (a logger), `deps.metric` and `deps.pipeline_metric` (counts), keeping what they
    were given."""

    def __init__(self) -> None:
        self.logs: list[LogLine] = []
        self.metrics: list[tuple[str, float]] = []
        self.pipeline_metrics: list[tuple[str, str, float]] = []
        self.state_seconds: list[tuple[str, float]] = []

    def metric(self, name: str, value: float) -> None:
        self.metrics.append((name, value))

    def pipeline_metric(self, name: str, pipeline: str, value: float) -> None:
        self.pipeline_metrics.append((name, pipeline, value))

    def state_metric(self, state: str, seconds: float) -> None:
        self.state_seconds.append((state, seconds))

    def total(self, name: str) -> float:
        return sum(value for metric, value in self.metrics if metric == name)

    def _log(self, level: str, message: str, *args: Any, extra: dict[str, Any] | None = None, **_: Any) -> None:
        self.logs.append(LogLine(level, message % args if args else message, dict(extra or {})))

    def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log("debug", message, *args, **kwargs)

    def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log("info", message, *args, **kwargs)

    def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log("warning", message, *args, **kwargs)

    def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log("error", message, *args, **kwargs)

    def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._log("exception", message, *args, **kwargs)

    def messages(self, level: str) -> list[str]:
        return [line.message for line in self.logs if line.level == level]


# Failure injection ----------------------------------------------------------------------------------------------
def aws_error(code: str, op: str, message: str = "", http_status: int = 400) -> PipelineError:
    """The PipelineError an adapter raises for AWS error `code` from operation `op` (shared/aws/errors.py)."""
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": http_status}}
    return translate(ClientError(response, op), op)


class Failures:
    """Exceptions queued per method: raised by the next `times` calls (None: every call until cleared)."""

    def __init__(self) -> None:
        self._queued: dict[str, list[BaseException]] = {}
        self._always: dict[str, BaseException] = {}

    def add(self, method: str, error: BaseException, times: int | None = 1) -> None:
        if times is None:
            self._always[method] = error
        else:
            self._queued.setdefault(method, []).extend([error] * times)

    def clear(self) -> None:
        self._queued.clear()
        self._always.clear()

    def check(self, method: str) -> None:
        queued = self._queued.get(method)
        if queued:
            raise queued.pop(0)
        if method in self._always:
            raise self._always[method]


# State store ----------------------------------------------------------------------------------------------------
def _stored(run: Run) -> Run:
    """What a DynamoDB round trip leaves of a run (dumped to JSON, validated back)."""
    return Run.model_validate_json(run.model_dump_json())


def needs_attention(run: Run) -> bool:
    """Whether the DynamoDB adapter writes the sparse `due-by-time` index attributes for this run."""
    return not run.status.is_terminal or run.pending_notification


class InMemoryStateStore:
    """Satisfies shared.ports.StateStore with the contract of shared.aws.state_store.DynamoStateStore."""

    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.locks: dict[str, str] = {}  # lock key -> run id
        self.audits: list[AuditRecord] = []
        self.watches: dict[str, PipelineWatch] = {}
        self.write_count = 0  # successful writes, for "nothing was written" checks
        self.failures = Failures()
        self._before_write: list[Callable[[], object]] = []

    # Seeding and interleaving (test helpers, not part of the port) ------------------------------------------------
    def seed(self, run: Run, lock_key: str | None = None) -> Run:
        """Put `run` as it is (version included); an active run also takes its target's lock unless told otherwise."""
        self.runs[run.run_id] = _stored(run)
        key = lock_key if lock_key is not None else lock_key_for(run.target_region, run.target_cluster_id)
        if not run.status.is_terminal:
            self.locks[key] = run.run_id
        return self.runs[run.run_id]

    def before_next_write(self, action: Callable[[], object]) -> None:
        """Run `action` at the start of the next `write` (one action per write, in order): a concurrent writer landing
        between a read and a write."""
        self._before_write.append(action)

    def bump(self, run_id: str, **changes: Any) -> Run:
        """Another writer's version-only move (e.g. the check's lease): same status, version + 1."""
        current = self.runs[run_id]
        return self.write(current.model_copy(update=changes), (current.status, current.version), None)

    # The port -----------------------------------------------------------------------------------------------------
    def create_run(self, run: Run, lock_key: str, audit: AuditRecord) -> None:
        self.failures.check("create_run")
        if run.run_id in self.runs:
            raise RunExistsError(run.run_id)
        if lock_key in self.locks:
            raise TargetBusyError(lock_key, self.locks[lock_key])
        self.runs[run.run_id] = _stored(run)
        self.locks[lock_key] = run.run_id
        self.audits.append(audit)

    def get_run(self, run_id: str) -> Run | None:
        self.failures.check("get_run")
        run = self.runs.get(run_id)
        return run.model_copy(deep=True) if run else None

    def lock_holder(self, lock_key: str) -> str | None:
        self.failures.check("lock_holder")
        return self.locks.get(lock_key)

    def write(
        self, run: Run, expected: tuple[RunStatus, int], audit: AuditRecord | None, release_lock: str | None = None
    ) -> Run:
        if self._before_write:
            self._before_write.pop(0)()
        self.failures.check("write")
        current = self.runs.get(run.run_id)
        if current is None or (current.status, current.version) != expected:
            raise StaleRunError(
                run.run_id, current.status.value if current else None, current.version if current else None
            )
        if release_lock is not None and self.locks.get(release_lock, run.run_id) != run.run_id:
            # The adapter's lock delete is conditional on the holder: the whole transaction fails as stale.
            raise StaleRunError(run.run_id, current.status.value, current.version)
        new = run.model_copy(update={"version": expected[1] + 1})
        self.runs[run.run_id] = _stored(new)
        if audit is not None:
            self.audits.append(audit)
        if release_lock is not None:
            self.locks.pop(release_lock, None)
        self.write_count += 1
        return new

    def due_runs(self, now: datetime, limit: int) -> list[Run]:
        self.failures.check("due_runs")
        due = [run for run in self.runs.values() if needs_attention(run) and epoch(run.next_check_at) <= epoch(now)]
        due.sort(key=lambda run: (epoch(run.next_check_at), run.run_id))
        return [run.model_copy(deep=True) for run in due[:limit]]

    def audit(self, record: AuditRecord) -> None:
        self.failures.check("audit")
        self.audits.append(record)

    def audit_trail(self, subject: str) -> list[AuditRecord]:
        return sorted((r for r in self.audits if r.subject == subject), key=lambda r: r.at)

    def recent_runs(self, pipeline: str | None, limit: int) -> list[Run]:
        runs = [r for r in self.runs.values() if pipeline is None or r.pipeline == pipeline]
        return [r.model_copy(deep=True) for r in sorted(runs, key=lambda r: r.created_at, reverse=True)[:limit]]

    def get_watch(self, pipeline: str) -> PipelineWatch | None:
        self.failures.check("get_watch")
        watch = self.watches.get(pipeline)
        return watch.model_copy(deep=True) if watch else None

    def get_watches(self, pipelines: Sequence[str]) -> dict[str, PipelineWatch]:
        self.failures.check("get_watches")
        return {p: self.watches[p].model_copy(deep=True) for p in pipelines if p in self.watches}

    def put_watch(self, watch: PipelineWatch, expected_version: int | None) -> PipelineWatch:
        self.failures.check("put_watch")
        current = self.watches.get(watch.pipeline)
        if (current is None) != (expected_version is None) or (current and current.version != expected_version):
            raise StaleWatchError(watch.pipeline)
        new = watch.model_copy(update={"version": 0 if expected_version is None else expected_version + 1})
        self.watches[watch.pipeline] = PipelineWatch.model_validate_json(new.model_dump_json())
        return new

    # Reading helpers ----------------------------------------------------------------------------------------------
    def run(self, run_id: str = RUN_ID) -> Run:
        return self.runs[run_id]

    def kinds(self, subject: str = RUN_ID) -> list[str]:
        return [r.kind for r in self.audit_trail(subject)]


# RDS ------------------------------------------------------------------------------------------------------------
# AWS operation of each port method, and the error codes the adapter turns into "absent" (None) instead of raising.
RDS_OPERATIONS = {
    "find_cluster_snapshot": "DescribeDBClusterSnapshots",
    "newest_automated_snapshot": "DescribeDBClusterSnapshots",
    "list_manual_snapshots": "DescribeDBClusterSnapshots",
    "copy_snapshot": "CopyDBClusterSnapshot",
    "delete_snapshot": "DeleteDBClusterSnapshot",
    "manual_snapshot_quota": "DescribeAccountAttributes",
    "find_cluster": "DescribeDBClusters",
    "find_instance": "DescribeDBInstances",
    "delete_instance": "DeleteDBInstance",
    "delete_cluster": "DeleteDBCluster",
    "start_cluster": "StartDBCluster",
    "restore_cluster": "RestoreDBClusterFromSnapshot",
    "restore_to_point_in_time": "RestoreDBClusterToPointInTime",
    "create_instance": "CreateDBInstance",
    "set_master_password": "ModifyDBCluster",
    "stop_cluster": "StopDBCluster",
    "rename_cluster": "ModifyDBCluster",
    "rename_instance": "ModifyDBInstance",
}
_ABSENT_CODES = {
    "find_cluster_snapshot": {"DBClusterSnapshotNotFoundFault"},
    "delete_snapshot": {"DBClusterSnapshotNotFoundFault"},
    "find_cluster": {"DBClusterNotFoundFault"},
    "delete_cluster": {"DBClusterNotFoundFault"},
    "find_instance": {"DBInstanceNotFound", "DBInstanceNotFoundFault"},
    "delete_instance": {"DBInstanceNotFound", "DBInstanceNotFoundFault"},
}
DELETES = ("delete_instance", "delete_cluster", "delete_snapshot")


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]


class FakeRds:
    """Satisfies shared.ports.RdsGateway for one region. Deletions leave the resource `deleting` until
    `finish_deletions()`, as RDS does; a cluster refuses deletion while a member is not yet `deleting`."""

    def __init__(
        self,
        region: str,
        now: Callable[[], datetime] = lambda: T0,
        peer: Callable[[str], FakeRds] | None = None,
        account: str = ACCOUNT,
    ) -> None:
        self.region = region
        self.account = account
        self._now = now
        self._peer = peer
        self.clusters: dict[str, ClusterView] = {}
        self.instances: dict[str, InstanceView] = {}
        self.snapshots: dict[str, SnapshotView] = {}
        self.calls: list[Call] = []
        self.failures = Failures()
        self.manual_snapshot_max = 100  # the ManualClusterSnapshots quota (AWS default 100 per region)
        self.copy_slots: int | None = None  # None: unlimited; else at most this many cross-region copies in flight

    # Failure injection --------------------------------------------------------------------------------------------
    def fail(
        self, method: str, code: str, *, message: str = "", http_status: int = 400, times: int | None = 1
    ) -> PipelineError:
        """Make the next `times` calls of `method` fail as AWS would with `code`."""
        if code in _ABSENT_CODES.get(method, set()):
            raise ValueError(f"the adapter answers {code} from {method} with None: remove the resource instead")
        error = aws_error(code, RDS_OPERATIONS[method], message, http_status)
        self.failures.add(method, error, times)
        return error

    def fail_with(self, method: str, error: BaseException, times: int | None = 1) -> None:
        """Any exception (e.g. a bug surfacing as a RuntimeError) from the next calls of `method`."""
        self.failures.add(method, error, times)

    def _call(self, method: str, **args: Any) -> None:
        self.calls.append(Call(method, args))
        self.failures.check(method)

    # Seeding ------------------------------------------------------------------------------------------------------
    def arn(self, kind: str, identifier: str) -> str:
        return f"arn:aws:rds:{self.region}:{self.account}:{kind}:{identifier}"

    def add_snapshot(
        self,
        identifier: str,
        cluster_id: str,
        *,
        status: str = "available",
        snapshot_type: str = "automated",
        engine: str = "aurora-mysql",
        created_at: datetime | None = T0,
        tags: dict[str, str] | None = None,
        encrypted: bool = True,
        percent_progress: int = 100,
    ) -> SnapshotView:
        snapshot = SnapshotView(
            identifier=identifier,
            arn=self.arn("cluster-snapshot", identifier),
            cluster_id=cluster_id,
            status=status,
            snapshot_type=snapshot_type,
            engine=engine,
            engine_version="8.0.mysql_aurora.3.05.2",
            percent_progress=percent_progress,
            created_at=created_at,
            encrypted=encrypted,
            kms_key_id=f"arn:aws:kms:{self.region}:{self.account}:key/0f1e2d3c" if encrypted else None,
            tags=dict(tags or {}),
        )
        self.snapshots[identifier.lower()] = snapshot
        return snapshot

    def add_cluster(
        self,
        identifier: str,
        *,
        status: str = "available",
        tags: dict[str, str] | None = None,
        deletion_protection: bool = False,
        engine: str = "aurora-mysql",
        backup_window: str | None = "03:00-03:30",
    ) -> ClusterView:
        cluster = ClusterView(
            identifier=identifier,
            arn=self.arn("cluster", identifier),
            status=status,
            engine=engine,
            deletion_protection=deletion_protection,
            endpoint=f"{identifier}.cluster-c0ffee.{self.region}.rds.amazonaws.com",
            port=3306,
            master_username="admin",
            tags=dict(tags or {}),
            preferred_backup_window=backup_window,
        )
        self.clusters[identifier.lower()] = cluster
        return cluster

    def add_instance(
        self, identifier: str, cluster_id: str | None, *, status: str = "available", tags: dict[str, str] | None = None
    ) -> InstanceView:
        instance = InstanceView(identifier=identifier, cluster_id=cluster_id, status=status, tags=dict(tags or {}))
        self.instances[identifier.lower()] = instance
        if cluster_id and cluster_id.lower() in self.clusters:
            cluster = self.clusters[cluster_id.lower()]
            if identifier not in cluster.member_ids:
                self._set_cluster(cluster_id, member_ids=[*cluster.member_ids, identifier])
        return instance

    def set_status(self, identifier: str, status: str) -> None:
        """Move a cluster, instance or snapshot (looked up in that order) to `status`."""
        key = identifier.lower()
        if key in self.clusters:
            self._set_cluster(key, status=status)
        elif key in self.instances:
            self.instances[key] = self.instances[key].model_copy(update={"status": status})
        else:
            self.snapshots[key] = self.snapshots[key].model_copy(update={"status": status})

    def finish_deletions(self) -> None:
        """RDS completes every pending deletion."""
        for key, instance in list(self.instances.items()):
            if instance.status == "deleting":
                self._remove_instance(key)
        for key, cluster in list(self.clusters.items()):
            if cluster.status == "deleting":
                del self.clusters[key]

    def _set_cluster(self, identifier: str, **changes: Any) -> None:
        key = identifier.lower()
        self.clusters[key] = self.clusters[key].model_copy(update=changes)

    def _remove_instance(self, key: str) -> None:
        instance = self.instances.pop(key)
        cluster_key = (instance.cluster_id or "").lower()
        if cluster_key in self.clusters:
            members = [m for m in self.clusters[cluster_key].member_ids if m.lower() != key]
            self._set_cluster(cluster_key, member_ids=members)

    # Reading helpers ----------------------------------------------------------------------------------------------
    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    def deletes(self) -> list[Call]:
        return [call for call in self.calls if call.method in DELETES]

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    # The port: snapshots ------------------------------------------------------------------------------------------
    def find_cluster_snapshot(self, identifier: str) -> SnapshotView | None:
        self._call("find_cluster_snapshot", identifier=identifier)
        return self.snapshots.get(identifier.lower())

    def newest_automated_snapshot(self, cluster_id: str) -> SnapshotView | None:
        self._call("newest_automated_snapshot", cluster_id=cluster_id)
        available = [
            s
            for s in self.snapshots.values()
            if s.cluster_id.lower() == cluster_id.lower()
            and s.snapshot_type == "automated"
            and s.status == "available"
            and s.created_at is not None
        ]
        return max(available, key=lambda s: s.created_at or T0, default=None)

    def list_manual_snapshots(self, tag_key: str, tag_value: str) -> list[SnapshotView]:
        self._call("list_manual_snapshots", tag_key=tag_key, tag_value=tag_value)
        return [s for s in self.snapshots.values() if s.snapshot_type == "manual" and s.tags.get(tag_key) == tag_value]

    def copy_snapshot(
        self,
        source_arn: str,
        target_id: str,
        kms_key_id: str | None,
        source_region: str | None,
        tags: dict[str, str],
    ) -> SnapshotView:
        self._call(
            "copy_snapshot",
            source_arn=source_arn,
            target_id=target_id,
            kms_key_id=kms_key_id,
            source_region=source_region,
            tags=dict(tags),
        )
        parts = source_arn.split(":", 6)
        home = self if parts[3] == self.region or self._peer is None else self._peer(parts[3])
        source = home.snapshots.get(parts[6].lower()) if len(parts) == 7 else None
        if source is None:
            raise aws_error("DBClusterSnapshotNotFoundFault", "CopyDBClusterSnapshot")
        if target_id.lower() in self.snapshots:
            raise aws_error("DBClusterSnapshotAlreadyExistsFault", "CopyDBClusterSnapshot")
        if self._manual_count() >= self.manual_snapshot_max:
            raise aws_error(
                "SnapshotQuotaExceeded", "CopyDBClusterSnapshot", "Cannot create more than 100 manual snapshots"
            )
        in_flight = [s for s in self.snapshots.values() if s.snapshot_type == "manual" and s.status == "copying"]
        if home is not self and self.copy_slots is not None and len(in_flight) >= self.copy_slots:
            raise aws_error(
                "SnapshotQuotaExceeded", "CopyDBClusterSnapshot", "Cannot copy more than 5 snapshots across regions"
            )
        copy = source.model_copy(
            update={
                "identifier": target_id,
                "arn": self.arn("cluster-snapshot", target_id),
                "status": "copying",
                "snapshot_type": "manual",
                "percent_progress": 0,
                "created_at": self._now(),
                "kms_key_id": kms_key_id or source.kms_key_id,
                "tags": dict(tags),
            }
        )
        self.snapshots[target_id.lower()] = copy
        return copy

    def delete_snapshot(self, identifier: str) -> None:
        self._call("delete_snapshot", identifier=identifier)
        self.snapshots.pop(identifier.lower(), None)

    def _manual_count(self) -> int:
        return sum(1 for s in self.snapshots.values() if s.snapshot_type == "manual")

    def manual_snapshot_quota(self) -> SnapshotQuota | None:
        self._call("manual_snapshot_quota")
        return SnapshotQuota(used=self._manual_count(), max=self.manual_snapshot_max)

    # The port: clusters and instances -----------------------------------------------------------------------------
    def find_cluster(self, cluster_id: str) -> ClusterView | None:
        self._call("find_cluster", cluster_id=cluster_id)
        return self.clusters.get(cluster_id.lower())

    def find_instance(self, instance_id: str) -> InstanceView | None:
        self._call("find_instance", instance_id=instance_id)
        return self.instances.get(instance_id.lower())

    def delete_instance(self, instance_id: str) -> None:
        self._call("delete_instance", instance_id=instance_id)
        if instance_id.lower() in self.instances:
            self.set_status(instance_id, "deleting")

    def delete_cluster(self, cluster_id: str) -> None:
        self._call("delete_cluster", cluster_id=cluster_id)
        cluster = self.clusters.get(cluster_id.lower())
        if cluster is None:
            return
        if cluster.deletion_protection:
            raise aws_error(
                "InvalidParameterCombination",
                "DeleteDBCluster",
                "Cannot delete protected Cluster, please disable deletion protection and try again.",
            )
        members = [self.instances.get(m.lower()) for m in cluster.member_ids]
        if any(m is not None and m.status != "deleting" for m in members):
            raise aws_error(
                "InvalidDBClusterStateFault",
                "DeleteDBCluster",
                "Cluster cannot be deleted, it still contains DB instances in non-deleting state.",
            )
        self._set_cluster(cluster_id, status="deleting")

    def start_cluster(self, cluster_id: str) -> None:
        """As AWS: only a stopped cluster starts (InvalidDBClusterStateFault otherwise); it is `starting` until
        `set_status(cluster_id, "available")`."""
        self._call("start_cluster", cluster_id=cluster_id)
        self._require_status(cluster_id, "stopped", "StartDBCluster")
        self._set_cluster(cluster_id, status="starting")

    def restore_cluster(self, request: RestoreRequest) -> ClusterView:
        self._call("restore_cluster", request=request)
        if request.cluster_id.lower() in self.clusters:
            raise aws_error("DBClusterAlreadyExistsFault", "RestoreDBClusterFromSnapshot")
        if (request.snapshot_id or "").lower() not in self.snapshots:
            raise aws_error("DBClusterSnapshotNotFoundFault", "RestoreDBClusterFromSnapshot")
        return self._new_cluster(request, request.engine)

    def restore_to_point_in_time(self, request: RestoreRequest) -> ClusterView:
        """As RestoreDBClusterToPointInTime: the source must exist in this region; the new cluster has its engine."""
        self._call("restore_to_point_in_time", request=request)
        if request.cluster_id.lower() in self.clusters:
            raise aws_error("DBClusterAlreadyExistsFault", "RestoreDBClusterToPointInTime")
        source = self.clusters.get(request.point_in_time.cluster_id.lower()) if request.point_in_time else None
        if source is None:
            raise aws_error("DBClusterNotFoundFault", "RestoreDBClusterToPointInTime")
        return self._new_cluster(request, source.engine)

    def _new_cluster(self, request: RestoreRequest, engine: str) -> ClusterView:
        cluster = self.add_cluster(request.cluster_id, status="creating", tags=request.tags, engine=engine)
        settings = request.settings
        self._set_cluster(
            request.cluster_id,
            # what RDS applies when a setting is not passed (the restore calls' documented defaults)
            engine_lifecycle_support=settings.engine_lifecycle_support or "open-source-rds-extended-support",
            storage_type=settings.storage_type or "aurora",
            cloudwatch_logs_exports=list(settings.cloudwatch_logs_exports or []),
            db_subnet_group=request.db_subnet_group,
            security_group_ids=list(request.security_group_ids),
            db_cluster_parameter_group=request.db_cluster_parameter_group,
            iam_database_authentication=request.iam_database_authentication,
            backup_retention_days=request.backup_retention_days,
            serverless_v2=request.serverless_v2,
        )
        return self.clusters[cluster.identifier.lower()]

    def stop_cluster(self, cluster_id: str) -> None:
        """As AWS: only an available cluster stops; it is `stopped` at once here (use set_status to hold it)."""
        self._call("stop_cluster", cluster_id=cluster_id)
        self._require_status(cluster_id, "available", "StopDBCluster")
        self._set_cluster(cluster_id, status="stopped")

    def _require_status(self, cluster_id: str, status: str, operation: str) -> None:
        """As AWS: a missing cluster is DBClusterNotFoundFault; one in another state InvalidDBClusterStateFault."""
        cluster = self.clusters.get(cluster_id.lower())
        if cluster is None:
            raise aws_error("DBClusterNotFoundFault", operation)
        if cluster.status != status:
            raise aws_error("InvalidDBClusterStateFault", operation, f"DbCluster {cluster_id} is {cluster.status}")

    def rename_cluster(self, cluster_id: str, new_id: str, security_group_ids: list[str] | None = None) -> None:
        """As AWS: the name must be free and the cluster not stopped; it shows `renaming` until
        `set_status(new_id, "available")`; its members follow it; its ARN carries the new name."""
        self._call("rename_cluster", cluster_id=cluster_id, new_id=new_id, security_group_ids=security_group_ids)
        cluster = self.clusters.get(cluster_id.lower())
        if cluster is None:
            raise aws_error("DBClusterNotFoundFault", "ModifyDBCluster")
        if new_id.lower() in self.clusters:
            raise aws_error("DBClusterAlreadyExistsFault", "ModifyDBCluster")
        if cluster.status == "stopped":
            raise aws_error("InvalidDBClusterStateFault", "ModifyDBCluster", f"DbCluster {cluster_id} is stopped")
        del self.clusters[cluster_id.lower()]
        changes: dict[str, Any] = {
            "identifier": new_id,
            "arn": self.arn("cluster", new_id),
            "status": "renaming",
            "endpoint": f"{new_id}.cluster-c0ffee.{self.region}.rds.amazonaws.com",
        }
        if security_group_ids:
            changes["security_group_ids"] = list(security_group_ids)
        self.clusters[new_id.lower()] = cluster.model_copy(update=changes)
        for key, instance in list(self.instances.items()):
            if (instance.cluster_id or "").lower() == cluster_id.lower():
                self.instances[key] = instance.model_copy(update={"cluster_id": new_id})

    def rename_instance(self, instance_id: str, new_id: str) -> None:
        self._call("rename_instance", instance_id=instance_id, new_id=new_id)
        instance = self.instances.get(instance_id.lower())
        if instance is None:
            raise aws_error("DBInstanceNotFound", "ModifyDBInstance")
        if new_id.lower() in self.instances:
            raise aws_error("DBInstanceAlreadyExists", "ModifyDBInstance")
        del self.instances[instance_id.lower()]
        self.instances[new_id.lower()] = instance.model_copy(update={"identifier": new_id, "status": "renaming"})
        cluster_key = (instance.cluster_id or "").lower()
        if cluster_key in self.clusters:
            members = [new_id if m.lower() == instance_id.lower() else m for m in self.clusters[cluster_key].member_ids]
            self._set_cluster(cluster_key, member_ids=members)

    def create_instance(self, request: InstanceRequest) -> InstanceView:
        self._call("create_instance", request=request)
        existing = self.instances.get(request.instance_id.lower())
        if existing is not None:  # the adapter answers DBInstanceAlreadyExists with the existing instance
            return existing
        if request.cluster_id.lower() not in self.clusters:
            raise aws_error("DBClusterNotFoundFault", "CreateDBInstance")
        instance = self.add_instance(request.instance_id, request.cluster_id, status="creating", tags=request.tags)
        self.instances[request.instance_id.lower()] = instance.model_copy(
            update={"instance_class": request.instance_class, "db_parameter_group": request.db_parameter_group}
        )
        return self.instances[request.instance_id.lower()]

    def set_master_password(self, cluster_id: str, password: str) -> None:
        self._call("set_master_password", cluster_id=cluster_id, password=password)
        if cluster_id.lower() not in self.clusters:
            raise aws_error("DBClusterNotFoundFault", "ModifyDBCluster")


# Bus, notifier, secrets, SQL ------------------------------------------------------------------------------------
class FakeBus:
    """Satisfies shared.ports.EventPublisher. Each published detail is checked against its contract model, as the
    consumers will parse it."""

    def __init__(self) -> None:
        self.published: list[OutgoingEvent] = []
        self.failures = Failures()

    def fail(self, code: str = "PutEventsFailed", times: int | None = 1) -> None:
        error = PipelineError(
            code, f"1 of 1 events were not accepted by bus aurora-restore-dev: ['{code}']", transient=True
        )
        self.failures.add("publish", error, times)

    def publish(self, events: Sequence[OutgoingEvent]) -> None:
        self.failures.check("publish")
        for event in events:
            DETAIL_MODELS[event.detail_type].model_validate_json(event.detail.model_dump_json())
            self.published.append(event)

    def detail_types(self) -> list[str]:
        return [event.detail_type.value for event in self.published]

    def details(self) -> list[dict[str, Any]]:
        return [event.detail.model_dump(mode="json") for event in self.published]


@dataclass(frozen=True)
class WakeUp:
    name: str
    at: datetime
    detail: dict[str, Any]


class FakeWakeUps:
    """Satisfies shared.ports.WakeUpScheduler: keeps the schedules by name (a second request of a name is refused as
    already there, like the scheduler's ConflictException); `fire_due(now)` takes the due ones off, as
    ActionAfterCompletion DELETE does once they have fired."""

    def __init__(self) -> None:
        self.pending: dict[str, WakeUp] = {}
        self.requested: list[WakeUp] = []
        self.failures = Failures()

    def fail(self, code: str = "ThrottlingException", times: int | None = 1) -> None:
        self.failures.add("wake_at", PipelineError(code, f"CreateSchedule failed: {code}", transient=True), times)

    def wake_at(self, name: str, at: datetime, detail: PipelineDetail) -> bool:
        self.failures.check("wake_at")
        wake_up = WakeUp(name, at, detail.model_dump(mode="json"))
        self.requested.append(wake_up)
        if name in self.pending:
            return False
        self.pending[name] = wake_up
        return True

    def fire_due(self, now: datetime) -> list[WakeUp]:
        due = sorted((w for w in self.pending.values() if w.at <= now), key=lambda w: w.at)
        for wake_up in due:
            del self.pending[wake_up.name]
        return due


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    attributes: dict[str, str]


class FakeNotifier:
    """Satisfies shared.ports.Notifier."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.failures = Failures()

    def fail(self, code: str = "InternalError", times: int | None = 1, http_status: int = 500) -> None:
        self.failures.add("notify", aws_error(code, "Publish", http_status=http_status), times)

    def notify(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        self.failures.check("notify")
        self.sent.append(Notification(subject, message, dict(attributes)))


class FakeSecrets:
    """Satisfies shared.ports.SecretsGateway for one region."""

    def __init__(self, values: dict[str, dict[str, str]] | None = None) -> None:
        self.values: dict[str, dict[str, str]] = dict(values or {})
        self.calls: list[Call] = []

    def get_json(self, secret_id: str) -> dict[str, str]:
        self.calls.append(Call("get_json", {"secret_id": secret_id}))
        if secret_id not in self.values:
            raise PipelineError("SecretNotFound", f"secret {secret_id!r} does not exist in Secrets Manager")
        return dict(self.values[secret_id])

    def put_json(self, secret_id: str, value: dict[str, str]) -> None:
        self.calls.append(Call("put_json", {"secret_id": secret_id}))
        self.values[secret_id] = dict(value)


class FakeTimer:
    """An invocation's time: `time_left` counts down while fake statements "run" (see FakeSqlConnector.durations),
    `monotonic` only ever goes forward. Unlimited until a test gives the invocation a budget."""

    def __init__(self) -> None:
        self.budget = math.inf
        self.total = 0.0
        self._used = 0.0

    def new_invocation(self, seconds: float) -> None:
        self.budget, self._used = seconds, 0.0

    def advance(self, seconds: float) -> None:
        self.total += seconds
        self._used += seconds

    def time_left(self) -> float:
        return self.budget - self._used

    def monotonic(self) -> float:
        return self.total


class FakeSqlSession:
    """Satisfies shared.ports.SqlSession: records statements; a statement containing a queued text fails."""

    def __init__(self, connector: FakeSqlConnector, flavor: str, connection_id: int) -> None:
        self._connector = connector
        self.flavor = flavor
        self.connection_id = connection_id
        self.closed = False
        self.user = ""

    def execute(self, statement: str, params: Sequence[object] = (), timeout: float | None = None) -> None:
        self._connector.run(self, statement, params, timeout)

    def query(
        self, statement: str, params: Sequence[object] = (), timeout: float | None = None
    ) -> list[tuple[object, ...]]:
        return self._connector.run(self, statement, params, timeout)

    def close(self) -> None:
        self.closed = True


class FakeSqlConnector:
    """Satisfies shared.ports.SqlConnector. A statement takes `durations[text]` seconds of the timer (the first
    text it contains); past its timeout it is cancelled (StatementTimedOut). `running` holds statements a dead
    invocation left running on the server, by connection id: PROCESSLIST shows them, KILL QUERY stops them."""

    def __init__(self, flavor: str = "mysql", timer: FakeTimer | None = None) -> None:
        self.flavor = flavor
        self.timer = timer or FakeTimer()
        self.connections: list[dict[str, Any]] = []
        self.statements: list[tuple[str, tuple[object, ...]]] = []
        self.sessions: list[FakeSqlSession] = []
        self.durations: dict[str, float] = {}
        self.cancelled: list[str] = []
        self.running: dict[int, str] = {}
        self.killed: list[int] = []
        self._failing: dict[str, PipelineError] = {}
        self.connect_failures = Failures()  # method "connect", or "connect:<user>" for one user's logins
        # Rows a query answers, by a text it contains (the first match); every session is encrypted by default.
        self.answers: dict[str, list[tuple[object, ...]]] = {"Ssl_cipher": [("Ssl_cipher", "TLS_AES_128_GCM_SHA256")]}

    def fail_statement(self, containing: str, error: PipelineError) -> None:
        self._failing[containing] = error

    def connect(self, host: str, port: int, user: str, password: str) -> FakeSqlSession:
        self.connections.append({"host": host, "port": port, "user": user, "password": password})
        self.connect_failures.check("connect")
        self.connect_failures.check(f"connect:{user}")
        session = FakeSqlSession(self, self.flavor, connection_id=100 + len(self.sessions))
        session.user = user
        self.sessions.append(session)
        return session

    def run(
        self, session: FakeSqlSession, statement: str, params: Sequence[object], timeout: float | None
    ) -> list[tuple[object, ...]]:
        if statement == "SELECT CONNECTION_ID()":
            return [(session.connection_id,)]
        if "information_schema.PROCESSLIST" in statement:
            connection_id, text = params
            return [(connection_id,)] if self.running.get(int(str(connection_id))) == text else []
        if statement == "KILL QUERY %s":
            self.killed.append(int(str(params[0])))
            self.running.pop(int(str(params[0])), None)
            return []
        self.statements.append((statement, tuple(params)))
        for text, error in self._failing.items():
            if text in statement:
                raise error
        seconds = next((d for text, d in self.durations.items() if text in statement), 0.0)
        if timeout is not None and seconds > timeout:
            self.timer.advance(timeout)
            self.cancelled.append(statement)
            raise StatementTimedOut(timeout)
        self.timer.advance(seconds)
        return next((list(rows) for text, rows in self.answers.items() if text in statement), [])

    def executed(self) -> list[str]:
        """Statements that ran to the end (not cancelled, not failed), in order."""
        failed = [s for s, _ in self.statements if any(text in s for text in self._failing)]
        done = [s for s, _ in self.statements]
        for statement in [*self.cancelled, *failed]:
            done.remove(statement)
        return done


class FakeProbe:
    """Satisfies shared.ports.PreflightProbe for one region: a healthy estate by default (the pipeline's key enabled,
    its subnet group and security groups in one VPC, quotas with room); each fact can be changed or made
    unobservable (`unobservable`: method names that raise CannotCheck)."""

    VPC = "vpc-0fake"

    def __init__(self, region: str, rds: FakeRds, account: str = ACCOUNT) -> None:
        self.region = region
        self.rds = rds
        self.keys: dict[str, KeyView] = {}
        self.policies: dict[str, str] = {}
        self.grants: dict[str, list[KeyGrantView]] = {}
        self.subnet_groups: dict[str, SubnetGroupView] = {}
        self.security_groups: dict[str, str] = {}
        self.quotas: dict[str, SnapshotQuota] = {
            "DBClusters": SnapshotQuota(used=3, max=40),
            "DBInstances": SnapshotQuota(used=6, max=40),
        }
        self.unobservable: set[str] = set()
        self.account = account

    def seed_pipeline(self, pipeline: PipelineConfig) -> None:
        arn = f"arn:aws:kms:{self.region}:{self.account}:key/0f1e2d3c"
        self.keys[pipeline.kms_key_id] = KeyView(arn=arn, key_id="0f1e2d3c", enabled=True, state="Enabled")
        root = f"arn:aws:iam::{self.account}:root"
        statement = {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}
        self.policies["0f1e2d3c"] = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        if pipeline.db_subnet_group:
            self.subnet_groups[pipeline.db_subnet_group] = SubnetGroupView(
                name=pipeline.db_subnet_group, vpc_id=self.VPC
            )
        self.security_groups.update({group: self.VPC for group in pipeline.security_group_ids})

    def _observe(self, method: str) -> None:
        if method in self.unobservable:
            raise CannotCheck(f"{method} is not available here")

    def describe_key(self, key_id: str) -> KeyView | None:
        self._observe("describe_key")
        return self.keys.get(key_id)

    def key_policy(self, key_id: str) -> str:
        self._observe("key_policy")
        return self.policies.get(key_id, "{}")

    def key_grants(self, key_id: str) -> list[KeyGrantView]:
        self._observe("key_grants")
        return self.grants.get(key_id, [])

    def subnet_group(self, name: str) -> SubnetGroupView | None:
        self._observe("subnet_group")
        return self.subnet_groups.get(name)

    def security_group_vpcs(self, group_ids: list[str]) -> dict[str, str]:
        self._observe("security_group_vpcs")
        return {g: self.security_groups[g] for g in group_ids if g in self.security_groups}

    def account_quotas(self) -> dict[str, SnapshotQuota]:
        self._observe("account_quotas")
        manual = self.rds.manual_snapshot_quota()
        return {**self.quotas, **({"ManualClusterSnapshots": manual} if manual else {})}

    def manual_snapshot_statuses(self) -> list[str]:
        self._observe("manual_snapshot_statuses")
        return [s.status for s in self.rds.snapshots.values() if s.snapshot_type == "manual"]


class FakeSimulator:
    """Satisfies shared.ports.PolicySimulator: every action allowed unless listed in `denied` (role, action)."""

    def __init__(self) -> None:
        self.denied: set[tuple[str, str]] = set()
        self.conditional: set[str] = set()  # actions whose decision needs context the simulation lacks
        self.available = True

    def simulate(self, principal_arn: str, action: str, resource_arn: str) -> tuple[bool, list[str]]:
        if not self.available:
            raise CannotCheck("SimulatePrincipalPolicy is not available here")
        if action in self.conditional:
            return False, ["rds:cluster-tag/aurora-restore:pipeline"]
        return (principal_arn, action) not in self.denied, []


class FakeEvidenceStore:
    """Satisfies shared.ports.EvidenceStore: objects by key; `fail(code)` makes the next put fail."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.failures = Failures()

    def fail(self, code: str = "AccessDenied") -> None:
        self.failures.add("put", aws_error(code, "PutObject"), 1)

    def put(self, key: str, body: str) -> None:
        self.failures.check("put")
        self.objects[key] = body


# Wiring ---------------------------------------------------------------------------------------------------------
@dataclass
class Fakes:
    """Every fake, and a real `Deps` over them (no idempotency layer: the state store's conditions only)."""

    config: AppConfig = field(default_factory=make_config)
    clock: FakeClock = field(default_factory=FakeClock)
    store: InMemoryStateStore = field(default_factory=InMemoryStateStore)
    bus: FakeBus = field(default_factory=FakeBus)
    notifier: FakeNotifier = field(default_factory=FakeNotifier)
    timer: FakeTimer = field(default_factory=FakeTimer)
    sql: FakeSqlConnector = field(default_factory=FakeSqlConnector)
    recorder: Recorder = field(default_factory=Recorder)
    wakeups: FakeWakeUps = field(default_factory=FakeWakeUps)
    rds: dict[str, FakeRds] = field(default_factory=dict)
    secrets: dict[str, FakeSecrets] = field(default_factory=dict)
    probes: dict[str, FakeProbe] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sql.timer = self.timer  # statements use up the invocation's time

    def rds_in(self, region: str) -> FakeRds:
        if region not in self.rds:
            self.rds[region] = FakeRds(region, now=self.clock.now, peer=self.rds_in)
        return self.rds[region]

    def probe_in(self, region: str) -> FakeProbe:
        if region not in self.probes:
            probe = FakeProbe(region, self.rds_in(region))
            for pipeline in self.config.pipelines:
                if pipeline.target_region == region:
                    probe.seed_pipeline(pipeline)
            self.probes[region] = probe
        return self.probes[region]

    def secrets_in(self, region: str) -> FakeSecrets:
        return self.secrets.setdefault(region, FakeSecrets())

    def sql_for(self, _database: DatabaseConfig) -> FakeSqlConnector:
        return self.sql

    @property
    def source(self) -> FakeRds:
        return self.rds_in(self.pipeline.source_region)

    @property
    def target(self) -> FakeRds:
        return self.rds_in(self.pipeline.target_region)

    @property
    def pipeline(self) -> PipelineConfig:
        return self.config.pipelines[0]

    @cached_property
    def deps(self) -> Deps:
        return Deps(
            config=self.config,
            store=self.store,
            bus=self.bus,
            rds_for=self.rds_in,
            secrets_for=self.secrets_in,
            notifier=self.notifier,
            sql_for=self.sql_for,
            clock=self.clock,
            log=self.recorder,
            idempotency=None,
            metric=self.recorder.metric,
            pipeline_metric=self.recorder.pipeline_metric,
            state_metric=self.recorder.state_metric,
            time_left=self.timer.time_left,
            monotonic=self.timer.monotonic,
            probe_for=self.probe_in,
            wakeups=self.wakeups,
        )

    def all_rds_calls(self) -> list[Call]:
        return [call for rds in self.rds.values() for call in rds.calls]

    def all_deletes(self) -> list[Call]:
        return [call for rds in self.rds.values() for call in rds.deletes()]


# Runs -----------------------------------------------------------------------------------------------------------
def make_run(
    status: RunStatus = RunStatus.COPYING,
    *,
    now: datetime = T0,
    pipeline: PipelineConfig | None = None,
    run_id: str = RUN_ID,
    **overrides: Any,
) -> Run:
    """A run of the default pipeline that entered `status` at `now` (deadline from the state's policy), due now."""
    pipeline = pipeline or make_config().pipelines[0]
    terminal = status.is_terminal
    deadline = now if terminal else now + timedelta(minutes=pipeline.policy(status).deadline_minutes)
    fields: dict[str, Any] = {
        "run_id": run_id,
        "pipeline": pipeline.name,
        "status": status,
        "version": 3,
        "created_at": now - timedelta(minutes=5),
        "updated_at": now,
        "trigger": "rds-event",
        "trigger_detail": "RDS-EVENT-0169 rds:prod-aurora-2026-11-25-03-05",
        "correlation_id": run_id,
        "source_region": pipeline.source_region,
        "source_snapshot_id": f"rds:{pipeline.source_cluster_id}-2026-11-25-03-05",
        "source_snapshot_arn": (
            f"arn:aws:rds:{pipeline.source_region}:{ACCOUNT}:cluster-snapshot:"
            f"rds:{pipeline.source_cluster_id}-2026-11-25-03-05"
        ),
        "target_region": pipeline.target_region,
        "target_cluster_id": pipeline.target_cluster_id,
        "copy_snapshot_id": f"ar-{pipeline.name}-{run_id}",
        "state_entered_at": now,
        "deadline_at": deadline,
        "next_check_at": now,
        "timings": {} if terminal else {status.value: StepTiming(started_at=now)},
        "ended_at": now if terminal else None,
    }
    fields.update(overrides)
    return Run(**fields)


def owned_tags(pipeline: str = "nightly", **extra: str) -> dict[str, str]:
    return {TAG_PIPELINE: pipeline, TAG_MANAGED_BY: MANAGED_BY, **extra}


# Inbound events (raw EventBridge envelopes, as Lambda receives them) --------------------------------------------
def rds_event(
    event_id: str,
    source_arn: str,
    detail_type: str = "RDS DB Cluster Snapshot Event",
    date: str = "2026-11-25T03:14:07.123Z",
) -> dict[str, Any]:
    region = source_arn.split(":")[3] if source_arn.count(":") >= 3 else TARGET_REGION
    return {
        "version": "0",
        "id": f"rds-{event_id}-{source_arn.rsplit(':', 1)[-1]}",
        "detail-type": detail_type,
        "source": "aws.rds",
        "account": ACCOUNT,
        "time": "2026-11-25T03:14:07Z",
        "region": region,
        "resources": [source_arn],
        "detail": {
            "EventCategories": [],
            "SourceType": "",
            "SourceArn": source_arn,
            "Date": date,
            "Message": "",
            "SourceIdentifier": source_arn.split(":", 6)[-1],
            "EventID": event_id,
        },
    }


def pipeline_event(detail_type: str, detail: dict[str, Any], event_id: str = "evt-1") -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id,
        "detail-type": detail_type,
        "source": "aurora-restore",
        "account": ACCOUNT,
        "time": "2026-11-25T03:20:01Z",
        "region": TARGET_REGION,
        "resources": [],
        "detail": detail,
    }


def run_event(detail_type: str, run: Run, **detail: Any) -> dict[str, Any]:
    """A pipeline event about `run` as it is (RunCheckDue and Run{Succeeded,Failed} carry its status)."""
    body: dict[str, Any] = {
        "version": "1",
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "correlation_id": run.correlation_id,
        "occurred_at": "2026-11-25T03:20:00Z",
        "run_version": run.version,
    }
    if detail_type in ("RunCheckDue", "RunSucceeded", "RunFailed"):
        body["status"] = run.status.value
    body.update(detail)
    return pipeline_event(detail_type, body)


def restore_requested(pipeline: str = "nightly", **detail: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"version": "1", "pipeline": pipeline, "request_id": "rerun-1", "requested_by": "alice"}
    body.update(detail)
    return pipeline_event("RestoreRequested", body, event_id="evt-restore")


def ids(items: Iterable[Any]) -> list[str]:
    return [item.identifier for item in items]


if TYPE_CHECKING:  # mypy holds each fake to its port
    from shared.clock import Clock
    from shared.ports import (
        EventPublisher,
        Notifier,
        RdsGateway,
        SecretsGateway,
        SqlConnector,
        SqlSession,
        StateStore,
        WakeUpScheduler,
    )

    _WAKEUPS: WakeUpScheduler = FakeWakeUps()
    _PORTS: tuple[StateStore, RdsGateway, EventPublisher, Notifier, SecretsGateway, SqlConnector, SqlSession, Clock] = (
        InMemoryStateStore(),
        FakeRds(TARGET_REGION),
        FakeBus(),
        FakeNotifier(),
        FakeSecrets(),
        FakeSqlConnector(),
        FakeSqlSession(FakeSqlConnector(), "mysql"),
        FakeClock(),
    )
