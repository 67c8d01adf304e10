"""Where a run's new cluster comes from (`strategy` per pipeline), chosen once when the run leaves REQUESTED and
recorded on the run (`restore_from`); the restore step follows the record.

- `snapshot-copy`: copy the run's snapshot (into the target region), then RestoreDBClusterFromSnapshot from the copy.
- `clone`: RestoreDBClusterToPointInTime with RestoreType `copy-on-write` and UseLatestRestorableTime: no copy, and
  the clone shares the source's pages until either side writes, so it is ready in minutes whatever the size.
- `point-in-time`: the same call with RestoreType `full-copy` at the latest restorable time: a full, independent
  volume (as a snapshot restore), without the snapshot copy.
- `auto`: `clone` where it is possible, else `snapshot-copy`.

What the choice relies on (RestoreDBClusterToPointInTime, RDS API Reference,
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterToPointInTime.html, and Aurora UG
"Cloning a volume for an Amazon Aurora DB cluster",
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Clone.html):
- RestoreToTime "Can't be specified if the RestoreType parameter is copy-on-write": a clone is always of the latest
  restorable time. Both direct restores therefore take the latest restorable time, never the run's snapshot time,
  so they are used only when the run's snapshot is the source's newest: a run pinned to an older snapshot (an
  operator's rerun) is restored from a copy of that snapshot under `auto`, and refused under `clone` and
  `point-in-time` (the data would not be the pinned snapshot's).
- "You can't create a clone in a different AWS Region from the source" and the call takes no source region; another
  account's cluster must be shared through AWS RAM first: both are configuration errors (shared.config).
- "You can't create a clone from an Aurora DB cluster that has no DB instances."
- KmsKeyId is "to use when restoring an encrypted DB cluster from an encrypted DB cluster" and "You can restore to a
  new DB cluster and encrypt the new DB cluster with a KMS key that is different from the KMS key used to encrypt
  the source"; without it an unencrypted source gives an unencrypted cluster. The snapshot path always encrypts
  with the pipeline's key, so an unencrypted source is never restored directly (auto copies the snapshot).
- The call takes no EngineVersion: the new cluster runs the source's version, so a pipeline that pins another
  `engine_version` is restored from a snapshot copy.
- "While an Aurora cluster is stopped, you can do a point-in-time restore" (aurora-cluster-stop-start.html); whether
  a stopped cluster can be cloned is not documented (UNVERIFIED): `auto` copies the snapshot instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import PipelineConfig
from shared.errors import PipelineError
from shared.model import RestoreFrom, Run
from shared.ports import ClusterView, PointInTimeSource, RdsGateway, RestoreRequest, RestoreType, SnapshotView
from shared.rds_states import Condition, condition
from shared.steps.turn import StepTurn

CLONE: RestoreFrom = "clone"
POINT_IN_TIME: RestoreFrom = "point-in-time"
SNAPSHOT_COPY: RestoreFrom = "snapshot-copy"


@dataclass(frozen=True)
class SourceFacts:
    """What the choice looks at: the source cluster as described now (None: not found in the pipeline's region),
    the run's source snapshot, and the source's newest automated snapshot."""

    cluster: ClusterView | None
    snapshot: SnapshotView | None
    newest: SnapshotView | None


@dataclass(frozen=True)
class Choice:
    restore_from: RestoreFrom
    reason: str


def obstacle(kind: RestoreFrom, pipeline: PipelineConfig, facts: SourceFacts) -> str | None:
    """Why the new cluster cannot come straight from the source cluster as `kind` (clone or point-in-time), or
    None. Configuration problems (region, account) are refused by shared.config before any run."""
    cluster, snapshot = facts.cluster, facts.snapshot
    if cluster is None:
        return f"source cluster {pipeline.source_cluster_id} was not found in {pipeline.source_region}"
    if not cluster.engine.startswith("aurora"):
        return f"source cluster {cluster.identifier} runs {cluster.engine!r}; only Aurora clusters are cloned"
    state = condition(cluster.status)
    if state is Condition.FAILED:
        return f"source cluster {cluster.identifier} is {cluster.status!r}"
    if kind == CLONE and state is Condition.STOPPED:
        return f"source cluster {cluster.identifier} is stopped (cloning a stopped cluster is not documented)"
    if kind == CLONE and not cluster.member_ids:
        return f"source cluster {cluster.identifier} has no DB instance (Aurora clones only clusters with one)"
    if snapshot is None:
        return "the run's source snapshot is gone, so its encryption and engine version cannot be checked"
    if not snapshot.encrypted:
        return (
            f"source cluster {cluster.identifier} is not encrypted: a restore from it would stay unencrypted, "
            "while a snapshot copy is restored encrypted with the pipeline's key"
        )
    if pipeline.engine_version and snapshot.engine_version and pipeline.engine_version != snapshot.engine_version:
        return (
            f"engine_version pins {pipeline.engine_version} but the source runs {snapshot.engine_version}, and a "
            "restore from the source keeps the source's version"
        )
    newest = facts.newest
    if newest is not None and snapshot.created_at and newest.created_at and newest.created_at > snapshot.created_at:
        return (
            f"the run restores snapshot {snapshot.identifier}, older than the source's newest {newest.identifier}, "
            "and a restore from the source takes its latest restorable time"
        )
    return None


def direct_possible_by_config(pipeline: PipelineConfig) -> bool:
    """Same region and same account: the only pipelines whose new cluster can come straight from the source."""
    return not pipeline.cross_region and pipeline.same_account


def choose(pipeline: PipelineConfig, facts: SourceFacts | None) -> Choice:
    """The restore source of a run. `facts` may be None when the configuration alone decides (snapshot-copy, or
    `auto` on a pipeline that crosses regions or accounts). Raises a non-transient PipelineError when a configured
    `clone` or `point-in-time` is not possible for this run: the operator chose it, so nothing else is done."""
    strategy = pipeline.strategy
    if strategy == SNAPSHOT_COPY:
        return Choice(SNAPSHOT_COPY, "strategy snapshot-copy")
    if not direct_possible_by_config(pipeline):
        where = "another region" if pipeline.cross_region else "another account"
        return Choice(SNAPSHOT_COPY, f"strategy auto: the source is in {where}, so its snapshot is copied")
    assert facts is not None, "a pipeline that may restore from its source needs the source's facts"
    kind: RestoreFrom = CLONE if strategy == "auto" else strategy
    problem = obstacle(kind, pipeline, facts)
    if problem is None:
        how = "copy-on-write clone" if kind == CLONE else "full-copy point-in-time restore"
        return Choice(kind, f"strategy {strategy}: {how} of {pipeline.source_cluster_id} at its latest restorable time")
    if strategy == "auto":
        return Choice(SNAPSHOT_COPY, f"strategy auto: no clone, {problem}; the snapshot is copied instead")
    raise PipelineError("RestoreSourceUnusable", f"strategy {strategy} is not possible for this run: {problem}")


def observe(turn: StepTurn) -> SourceFacts:
    """Describe the source cluster, the run's snapshot and the source's newest automated snapshot (one region)."""
    run, pipeline = turn.run, turn.pipeline
    source = turn.deps.rds_for(pipeline.source_region)
    return SourceFacts(
        cluster=source.find_cluster(pipeline.source_cluster_id),
        snapshot=source.find_cluster_snapshot(run.source_snapshot_id),
        newest=source.newest_automated_snapshot(pipeline.source_cluster_id),
    )


def choose_for(turn: StepTurn) -> Choice:
    """The choice for this run. A run whose copy already exists (a retried turn after the copy was requested) stays
    on the copy path, so one run never makes both a copy and a clone."""
    pipeline = turn.pipeline
    if pipeline.strategy == SNAPSHOT_COPY or not direct_possible_by_config(pipeline):
        return choose(pipeline, None)
    target = turn.deps.rds_for(turn.run.target_region)
    if pipeline.strategy == "auto" and target.find_cluster_snapshot(turn.run.copy_snapshot_id) is not None:
        return Choice(SNAPSHOT_COPY, "strategy auto: this run's snapshot copy was already requested")
    return choose(pipeline, observe(turn))


# ---- the restore step's side -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Origin:
    """The source fields of a RestoreRequest."""

    snapshot_id: str | None
    point_in_time: PointInTimeSource | None
    engine: str
    engine_version: str | None


def restore_from(run: Run) -> RestoreFrom:
    return run.restore_from or SNAPSHOT_COPY  # a run recorded before the choice existed used the copy


def origin(turn: StepTurn, rds: RdsGateway) -> Origin:
    """Where this run's restore reads from: its copy (which must exist), or the source cluster."""
    run, pipeline = turn.run, turn.pipeline
    kind = restore_from(run)
    if kind != SNAPSHOT_COPY:
        restore_type: RestoreType = "copy-on-write" if kind == CLONE else "full-copy"
        # No EngineVersion parameter: the new cluster runs the source's version; engine is for the instances.
        return Origin(None, PointInTimeSource(cluster_id=pipeline.source_cluster_id, restore_type=restore_type),
                      pipeline.engine, None)  # fmt: skip
    copy = rds.find_cluster_snapshot(run.copy_snapshot_id)
    if copy is None:
        raise PipelineError("CopyMissing", f"copy {run.copy_snapshot_id} to restore from does not exist")
    return Origin(copy.identifier, None, copy.engine or pipeline.engine, pipeline.engine_version or copy.engine_version)


def restore(rds: RdsGateway, request: RestoreRequest) -> ClusterView:
    """Make the new cluster: from the snapshot or from the source cluster, as the request says."""
    if request.point_in_time is not None:
        return rds.restore_to_point_in_time(request)
    return rds.restore_cluster(request)


def described(run: Run) -> str:
    """`from <copy>` or `as a copy-on-write clone of <source>`, for the audit."""
    kind = restore_from(run)
    if kind == SNAPSHOT_COPY:
        return f"from {run.copy_snapshot_id}"
    how = "a copy-on-write clone" if kind == CLONE else "a full-copy point-in-time restore"
    return f"as {how} of the source cluster (latest restorable time)"
