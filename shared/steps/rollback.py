"""Rollback: put the retired target back under the target name while it is kept (`aurora-restore rollback`).

Like the swap, every call observes RDS and does the next thing, so it can be repeated until it answers `done`:

1. the retired cluster must exist, carry the pipeline's ownership tag and be `available` (a stopped one is started:
   a stopped cluster cannot be renamed, https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/
   aurora-cluster-stop-start.html);
2. the cluster holding the target name (it must be the one the swap put there: its run tag) is renamed away to
   `<target>-rolledback-<run hash>`, its instances first;
3. the retired cluster is renamed to the target name (it kept its own security groups), then its instances to
   `<target>-<n>`;
4. the master secret gets a new password, applied to the cluster that is back (the secret held the swapped-in
   cluster's), and the rolled-back cluster takes the retired one's place in the pipeline's watch: kept
   `keep_previous_hours`, then deleted by the check.

It refuses while a run holds the target, and never renames a cluster without the pipeline's ownership tag. Every
action is audited under `pipeline#<name>`; the start and the end are notified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from shared.config import PipelineConfig
from shared.errors import PipelineError, SafetyViolation
from shared.model import RetiredCluster
from shared.naming import TAG_PIPELINE, TAG_RUN, instance_id, lock_key_for, rolled_back_cluster_id
from shared.outside_run import pipeline_subject, record_outside_run
from shared.ports import ClusterView, RdsGateway
from shared.rds_states import Condition, condition
from shared.steps.context import Deps
from shared.steps.retired_clusters import RetiredChange, update_retired
from shared.steps.setup_db_users import new_password

STEP = "rollback"


@dataclass(frozen=True)
class Progress:
    done: bool
    message: str


def advance_rollback(deps: Deps, pipeline: PipelineConfig) -> Progress:
    """Do the rollback's next step; `done` once the retired cluster serves under the target name again."""
    holder = deps.store.lock_holder(lock_key_for(pipeline.target_region, pipeline.target_cluster_id))
    if holder is not None:
        raise PipelineError("TargetBusy", f"run {holder} holds target {pipeline.target_cluster_id}; roll back after it")
    watch = deps.store.get_watch(pipeline.name)
    kept = [r for r in (watch.retired if watch else []) if r.kind == "retired"]
    if not kept:
        raise PipelineError("NothingToRollBack", f"pipeline {pipeline.name} keeps no retired target to roll back to")
    entry = kept[-1]
    rds = deps.rds_for(pipeline.target_region)
    current = rds.find_cluster(pipeline.target_cluster_id)
    if current is not None and current.tags.get(TAG_RUN) == entry.run_tag:
        return _settle_back(deps, rds, pipeline, entry, current)
    retired = rds.find_cluster(entry.cluster_id)
    if retired is None:
        raise PipelineError("RetiredGone", f"retired cluster {entry.cluster_id} no longer exists; nothing to roll back")
    _guard(pipeline, retired)
    state = condition(retired.status)
    if state is Condition.STOPPED:
        rds.start_cluster(retired.identifier)
        return _step(deps, pipeline, f"retired cluster {retired.identifier} was stopped: started for the rollback")
    if state is not Condition.READY:
        return Progress(False, f"retired cluster {retired.identifier} is {retired.status}; waiting")
    if current is not None:
        return _vacate(deps, rds, pipeline, entry, current)
    return _fill(deps, rds, pipeline, entry, retired)


def _guard(pipeline: PipelineConfig, cluster: ClusterView) -> None:
    if cluster.tags.get(TAG_PIPELINE) != pipeline.name:
        raise SafetyViolation(
            "NotOwned", f"cluster {cluster.identifier} is not tagged {TAG_PIPELINE}={pipeline.name}; not renaming it"
        )


def _step(deps: Deps, pipeline: PipelineConfig, message: str, notify: bool = False) -> Progress:
    record_outside_run(deps.store, deps.log, deps.clock.now(), step=STEP, kind="decision", message=message,
                       subject=pipeline_subject(pipeline.name), pipeline=pipeline.name)  # fmt: skip
    if notify:
        deps.notifier.notify(
            f"aurora-restore [{pipeline.name}] rollback: {pipeline.target_cluster_id}"[:99],
            message,
            {"pipeline": pipeline.name, "status": "ROLLBACK"},
        )
    return Progress(False, message)


def _vacate(deps: Deps, rds: RdsGateway, pipeline: PipelineConfig, entry: RetiredCluster, new: ClusterView) -> Progress:
    if new.tags.get(TAG_RUN) != entry.replaced_by:
        raise SafetyViolation(
            "TargetChanged",
            f"{new.identifier} is not the cluster the swap of run {entry.run_id} put in place (run tag "
            f"{new.tags.get(TAG_RUN)!r}); not rolling back over it",
        )
    _guard(pipeline, new)
    members = [m for m in (rds.find_instance(i) for i in new.member_ids) if m is not None]
    if condition(new.status) is not Condition.READY or any(m.status != "available" for m in members):
        return Progress(False, f"{new.identifier} is {new.status} or has busy instances; waiting")
    away = rolled_back_cluster_id(pipeline.target_cluster_id, entry.replaced_by or entry.run_id)
    for instance in members:  # all checked before any is renamed
        _guard_instance(pipeline, instance.identifier, instance.tags)
    for index, instance in enumerate(sorted(members, key=lambda m: m.identifier), start=1):
        rds.rename_instance(instance.identifier, instance_id(away, index))
    rds.rename_cluster(new.identifier, away)
    return _step(deps, pipeline, f"rollback: {new.identifier} (run {entry.replaced_by}) renamed to {away}; "
                 f"{entry.cluster_id} takes the target name next", notify=True)  # fmt: skip


def _guard_instance(pipeline: PipelineConfig, identifier: str, tags: dict[str, str]) -> None:
    if tags.get(TAG_PIPELINE) != pipeline.name:
        raise SafetyViolation("NotOwned", f"instance {identifier} is not tagged {TAG_PIPELINE}={pipeline.name}")


def _fill(
    deps: Deps, rds: RdsGateway, pipeline: PipelineConfig, entry: RetiredCluster, retired: ClusterView
) -> Progress:
    members = [m for m in (rds.find_instance(i) for i in retired.member_ids) if m is not None]
    for index in range(1, len(members) + 1):
        holder = rds.find_instance(instance_id(pipeline.target_cluster_id, index))
        if holder is not None and holder.cluster_id != retired.identifier:
            return Progress(False, f"{holder.identifier} still held by {holder.cluster_id} (rename in progress)")
    rds.rename_cluster(retired.identifier, pipeline.target_cluster_id)
    return _step(deps, pipeline, f"rollback: {retired.identifier} renamed back to {pipeline.target_cluster_id}")


def _settle_back(
    deps: Deps, rds: RdsGateway, pipeline: PipelineConfig, entry: RetiredCluster, back: ClusterView
) -> Progress:
    """The retired cluster holds the target name again: its instances follow, then the bookkeeping."""
    members = sorted((m for m in (rds.find_instance(i) for i in back.member_ids) if m is not None),
                     key=lambda m: m.identifier)  # fmt: skip
    target = pipeline.target_cluster_id
    pending = [m for m in members if not _is_target_instance(m.identifier, target)]
    for index, instance in enumerate(members, start=1):
        name = instance_id(target, index)
        if instance in pending and instance.status == "available" and rds.find_instance(name) is None:
            rds.rename_instance(instance.identifier, name)
    if pending or back.status != "available" or any(m.status != "available" for m in members):
        return Progress(False, f"{target} is back; instances settling ({len(pending)} to rename)")
    now = deps.clock.now()
    away = rolled_back_cluster_id(target, entry.replaced_by or entry.run_id)
    moved = rds.find_cluster(away)
    add: tuple[RetiredCluster, ...] = ()
    if moved is not None:
        add = (RetiredCluster(kind="rolled-back", cluster_id=away, arn=moved.arn, run_id=entry.run_id,
                              run_tag=moved.tags.get(TAG_RUN, ""), retired_at=now,
                              delete_after=now + timedelta(hours=pipeline.keep_previous_hours)),)  # fmt: skip
    _reset_master(deps, rds, pipeline, back)
    update_retired(deps, pipeline.name, RetiredChange(drop=(entry.cluster_id,), add=add))
    kept = (
        f"; {away} kept until {now + timedelta(hours=pipeline.keep_previous_hours):%Y-%m-%d %H:%M} UTC" if add else ""
    )
    _step(deps, pipeline, f"rollback done: the previous cluster (run tag {entry.run_tag}) serves as {target} with "
          f"{len(members)} instance(s){kept}", notify=True)  # fmt: skip
    return Progress(True, f"rolled back: {target} is the previous cluster again{kept}")


def _reset_master(deps: Deps, rds: RdsGateway, pipeline: PipelineConfig, back: ClusterView) -> None:
    """The master secret holds the swapped-in cluster's password: give the cluster that is back a new one, stored
    first (as setup-db-users does), so the secret works for the cluster under the target name."""
    secret_id = pipeline.database.master_secret_id
    vault = deps.secrets_for(pipeline.target_region)
    password = new_password()
    current = vault.get_json(secret_id)
    vault.put_json(
        secret_id,
        {**current, "password": password, "host": back.endpoint or "", "dbClusterIdentifier": back.identifier},
    )
    rds.set_master_password(back.identifier, password)


def _is_target_instance(identifier: str, target: str) -> bool:
    prefix = target.lower() + "-"
    return identifier.lower().startswith(prefix) and identifier[len(prefix) :].isdigit()
