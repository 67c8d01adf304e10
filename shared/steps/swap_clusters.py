"""swap-clusters: put the configured, quarantined staging cluster in the target's place (`swap` cut-over).

Every look observes RDS and does the next thing, so a lost event, a crash or a duplicate delivery only delays it:

1. vacate: the old target (it must still be the configured target, not a source, and carry the ownership tag, or
   the run fails before anything is renamed) is renamed to the run's retired identifier, its instances first (to
   `<retired>-<n>`, freeing the `<target>-<n>` names). A stopped target is started first: "You can't modify the
   configuration of an Aurora DB cluster, or any of its DB instances, while the cluster is stopped ... You must start
   the cluster before performing any such administrative actions"
   (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-cluster-stop-start.html).
2. fill: once the target name and the `<target>-<n>` names are free (a rename shows `renaming` until done, see
   shared/rds_states.py), the staging cluster is renamed to the target identifier with the target's own security
   groups in the same ModifyDBCluster call (the new name never reaches the quarantine groups' clients, and the
   applications' groups never reach the unproven copy), then its instances to `<target>-<n>`.
3. finish: all `available` under the target's names: the master secret's host follows, the retired cluster is
   stopped if configured and handed to the check for deletion after `keep_previous_hours`
   (shared/steps/retired_clusters.py), and the run moves on.

What a rename does (AWS documentation): the endpoints contain the identifier, so the cluster and instance endpoints
move with the name ("When you rename a DB instance, the endpoint for the DB instance changes, because the URL
includes the name you assigned"; "the old DNS name ... is immediately deleted, although it could remain cached for
a few minutes. The new DNS name ... becomes effective in about 10 minutes",
https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RenameInstance.html); the same holds for a cluster's
endpoints (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/multi-az-db-cluster-rename.html, written for
Multi-AZ DB clusters; for Aurora UNVERIFIED). Tags stay with the resource. Renaming emits RDS-EVENT-0172 "Renamed DB
cluster from [old] to [new]" (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Events.Messages.html);
no instance rename event is listed, so the check's RunCheckDue brings the step back too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.errors import PipelineError, SafetyViolation
from shared.model import RetiredCluster, Run, RunStatus, SwapWindow
from shared.naming import TAG_PIPELINE, TAG_RUN, instance_id, retired_cluster_id
from shared.new_cluster import plan
from shared.ports import ClusterView, InstanceView, RdsGateway
from shared.rds_states import Condition, condition
from shared.steps.delete_rds import guard, guard_instance, members_of
from shared.steps.retired_clusters import keep_retired
from shared.steps.turn import StepTurn


def after_validation(run: Run) -> RunStatus:
    """Where a run goes once its database is configured and proven: a `swap` run swaps, a `replace` run is in place
    already."""
    return RunStatus.SWAPPING if run.staging_cluster_id is not None else RunStatus.ARCHIVING


def act(turn: StepTurn) -> None:
    run = turn.run
    rds = turn.deps.rds_for(run.target_region)
    current = rds.find_cluster(run.target_cluster_id)
    if current is not None and current.tags.get(TAG_RUN) == run.run_id:
        finish(turn, rds, current)
    elif current is not None:
        vacate(turn, rds, current)
    else:
        fill(turn, rds)


def _wait(turn: StepTurn, message: str, **changes: Any) -> None:
    turn.wait(turn.policy.min_poll_seconds, message, **changes)


def _staging_ready(turn: StepTurn, rds: RdsGateway) -> str | None:
    """Why the staging cluster cannot take the target's place yet (None: it can). It must exist, be this run's,
    and be `available` with all its instances: the old target is never moved for a cluster that is not ready."""
    run = turn.run
    staging_id = run.staging_cluster_id or ""
    staging = rds.find_cluster(staging_id)
    if staging is None or staging.tags.get(TAG_RUN) != run.run_id:
        raise SafetyViolation(
            "StagingMissing",
            f"staging cluster {staging_id} of run {run.run_id} is gone or not this run's; the target was not touched",
        )
    if staging.status != "available":
        return f"staging cluster {staging_id} is {staging.status}"
    busy = [m.identifier for m in members_of(rds, staging) if m.status != "available"]
    return f"staging instances {busy} not available" if busy else None


def vacate(turn: StepTurn, rds: RdsGateway, old: ClusterView) -> None:
    """Rename the old target (instances first) to the retired identifier."""
    run, pipeline = turn.run, turn.pipeline
    guard(turn.deps.config, pipeline, old, verb="rename")
    members = members_of(rds, old)
    for instance in members:
        guard_instance(pipeline, instance, verb="rename")
    retired = run.retired_cluster_id or retired_cluster_id(run.target_cluster_id, run.run_id)
    state = condition(old.status)
    if state is Condition.STOPPED:
        rds.start_cluster(old.identifier)  # owned (guarded above); a stopped cluster cannot be renamed
        _wait(
            turn,
            f"target {old.identifier} is stopped: StartDBCluster requested (a stopped cluster cannot be "
            "renamed); the swap follows once it is available",
            retired_cluster_id=retired,
        )
        return
    not_ready = _staging_ready(turn, rds)
    if not_ready is not None:
        _wait(turn, f"{not_ready}; the target keeps serving meanwhile")
        return
    plan(pipeline, run).target_security_groups(run.target_cluster_id)  # refused before the target is touched
    busy = [m.identifier for m in members if condition(m.status) is not Condition.READY]
    if state is not Condition.READY or busy:
        _wait(
            turn,
            f"target {old.identifier} is {old.status} (instances not ready: {busy}); swap waits, no attempt spent",
            retired_cluster_id=retired,
        )
        return
    _rename_members_away(rds, members, retired)
    rds.rename_cluster(old.identifier, retired)
    # The ARN carries the identifier (arn:...:cluster:<id>), so it follows the rename.
    renamed = old.model_copy(update={"identifier": retired, "arn": f"{old.arn.rsplit(':', 1)[0]}:{retired}"})
    keep(turn, renamed, run.run_id)
    now = turn.now()
    _wait(
        turn,
        f"target {old.identifier} ({old.arn}) renamed to {retired} with its {len(members)} instance(s); the target "
        "name points at nothing until the staging cluster takes it",
        retired_cluster_id=retired,
        swap=SwapWindow(vacated_at=now),
    )


def _rename_members_away(rds: RdsGateway, members: list[InstanceView], retired: str) -> None:
    """`<retired>-<n>` for each member not renamed yet (a retry after a crash skips those that are)."""
    done = {m.identifier.lower() for m in members if m.identifier.lower().startswith(f"{retired}-")}
    index = 0
    for instance in sorted(members, key=lambda m: m.identifier):
        if instance.identifier.lower() in done:
            continue
        index += 1
        while instance_id(retired, index) in done:
            index += 1
        rds.rename_instance(instance.identifier, instance_id(retired, index))


def _names_taken(rds: RdsGateway, run: Run, count: int) -> list[str]:
    """The `<target>-<n>` instance names some other cluster still holds (a rename in progress)."""
    taken = []
    for index in range(1, count + 1):
        name = instance_id(run.target_cluster_id, index)
        holder = rds.find_instance(name)
        if holder is not None and holder.cluster_id not in (run.staging_cluster_id, run.target_cluster_id):
            taken.append(name)
    return taken


def fill(turn: StepTurn, rds: RdsGateway) -> None:
    """The target name is free: rename the staging cluster into it, with the target's own security groups."""
    run, pipeline = turn.run, turn.pipeline
    if run.swap is not None and run.swap.filled_at is not None:
        _wait(turn, f"{run.staging_cluster_id} is being renamed to {run.target_cluster_id}")
        return
    # The run's retired name (recorded, or the one vacate would have recorded before a crash lost the write).
    retired = rds.find_cluster(run.retired_cluster_id or retired_cluster_id(run.target_cluster_id, run.run_id))
    if retired is not None and condition(retired.status) is not Condition.READY:
        _wait(turn, f"retired cluster {retired.identifier} is {retired.status}; the rename must finish first")
        return
    new = plan(pipeline, run)
    taken = _names_taken(rds, run, new.instance_count)
    if taken:
        _wait(turn, f"instance names {taken} still held by the previous target (rename in progress)")
        return
    not_ready = _staging_ready(turn, rds)
    if not_ready is not None:
        _wait(turn, not_ready)
        return
    groups = new.target_security_groups(run.target_cluster_id)  # checked before vacating; the config may change
    rds.rename_cluster(run.staging_cluster_id or "", run.target_cluster_id, groups)
    now = turn.now()
    window = (run.swap or SwapWindow()).model_copy(update={"filled_at": now})
    _wait(
        turn,
        f"{run.staging_cluster_id} renamed to {run.target_cluster_id} with the target's security groups "
        f"{groups}; instances follow",
        swap=window,
    )


def finish(turn: StepTurn, rds: RdsGateway, cluster: ClusterView) -> None:
    """The new cluster holds the target name: rename its instances, then hand over the retired cluster."""
    run, pipeline = turn.run, turn.pipeline
    if run.swap is None or run.swap.filled_at is None:  # renamed, but the write recording it was lost (crash)
        turn.note("decision", "the new cluster already holds the target name", swap=SwapWindow(filled_at=turn.now()))
        return
    count = plan(pipeline, run).instance_count
    pending = _rename_instances(rds, run, count)
    if pending:
        _wait(turn, f"instances not yet under the target's names: {pending}")
        return
    instances = [rds.find_instance(instance_id(run.target_cluster_id, n)) for n in range(1, count + 1)]
    busy = [i.identifier for i in instances if i is not None and i.status != "available"]
    if cluster.status != "available" or busy or None in instances:
        _wait(turn, f"cluster {cluster.status}, instances not yet available: {busy}")
        return
    kept = _retire(turn, rds, cluster)
    _point_secret(turn, cluster)
    turn.transition(
        RunStatus.ARCHIVING,
        f"swap done: {run.target_cluster_id} is the new cluster ({count} instance(s)); the name pointed at nothing "
        f"for {run.swap.seconds if run.swap.seconds is not None else 0}s; {kept}",
    )


def _rename_instances(rds: RdsGateway, run: Run, count: int) -> list[str]:
    """Rename `<staging>-<n>` to `<target>-<n>` where the target name is free; return those still to do."""
    pending = []
    for index in range(1, count + 1):
        source = rds.find_instance(instance_id(run.staging_cluster_id or "", index))
        if source is None:
            continue
        if source.tags.get(TAG_RUN) != run.run_id:
            raise SafetyViolation("InstanceNotOurs", f"instance {source.identifier} was not made by run {run.run_id}")
        pending.append(source.identifier)
        if source.status == "available" and rds.find_instance(instance_id(run.target_cluster_id, index)) is None:
            rds.rename_instance(source.identifier, instance_id(run.target_cluster_id, index))
    return pending


def _retire(turn: StepTurn, rds: RdsGateway, new: ClusterView) -> str:
    """Stop the retired cluster if configured; its time to be kept counts from now."""
    run, pipeline = turn.run, turn.pipeline
    retired_id = run.retired_cluster_id or retired_cluster_id(run.target_cluster_id, run.run_id)
    retired = rds.find_cluster(retired_id)
    if retired is None:
        return "there was no previous target"
    if retired.tags.get(TAG_PIPELINE) != pipeline.name:
        return f"{retired_id} does not carry the pipeline's ownership tag; not kept for a rollback"
    stopped = ""
    if pipeline.stop_previous and retired.status == "available":
        rds.stop_cluster(retired.identifier)
        stopped = ", stopped meanwhile"
    delete_after = keep(turn, retired, new.tags.get(TAG_RUN))
    return f"previous target kept as {retired.identifier} until {delete_after:%Y-%m-%d %H:%M} UTC{stopped}"


def keep(turn: StepTurn, retired: ClusterView, replaced_by: str | None) -> datetime:
    """Hand the retired cluster to the check for deletion after keep_previous_hours (from now). Done as soon as it
    is renamed away, so a run that fails before the new cluster is in place can still be rolled back."""
    now = turn.now()
    delete_after = now + timedelta(hours=turn.pipeline.keep_previous_hours)
    entry = RetiredCluster(
        cluster_id=retired.identifier,
        arn=retired.arn,
        run_id=turn.run.run_id,
        run_tag=retired.tags.get(TAG_RUN, ""),
        retired_at=now,
        delete_after=delete_after,
        replaced_by=replaced_by,
    )
    keep_retired(turn.deps, turn.pipeline.name, entry)
    return delete_after


def _point_secret(turn: StepTurn, cluster: ClusterView) -> None:
    """The master secret named the staging endpoint (setup-db-users rotated it there): point it at the target."""
    db = turn.pipeline.database
    vault = turn.deps.secrets_for(turn.run.target_region)
    try:
        secret = vault.get_json(db.master_secret_id)
        if secret.get("dbClusterIdentifier") not in (None, cluster.identifier):
            vault.put_json(
                db.master_secret_id,
                {**secret, "host": cluster.endpoint or "", "dbClusterIdentifier": cluster.identifier},
            )
    except PipelineError as exc:  # the swap is done; a stale host in the secret is reported, not fatal
        turn.remark("error", f"master secret {db.master_secret_id} still names the staging endpoint: {exc.message}")
