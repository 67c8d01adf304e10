"""The `swap` cut-over on fakes: names, the new cluster's settings, reading the target, the renames, the clean-up of a
failed run's staging cluster, the retired target's deletion and the rollback's refusals."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from shared.config import QUARANTINE_MISSING, parse_config
from shared.errors import ConfigError, PipelineError, SafetyViolation
from shared.model import RetiredCluster, Run, RunStatus, SwapWindow
from shared.naming import TAG_RUN, lock_key_for, retired_cluster_id, staging_cluster_id
from shared.new_cluster import plan, read_target
from shared.steps import delete_rds, restore_snapshot, swap_clusters
from shared.steps.on_failure import clean_up
from shared.steps.retired_clusters import keep_retired, sweep_retired
from shared.steps.rollback import advance_rollback
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, make_config, make_run, owned_tags, pipeline_doc

TARGET = "staging-aurora"
STAGING = staging_cluster_id(TARGET, RUN_ID)
RETIRED = retired_cluster_id(TARGET, RUN_ID)
QUARANTINE = ["sg-0feedc0ffee000001"]
RDS_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")


def swap_fakes(**overrides: Any) -> Fakes:
    """The demo pipeline in `swap` mode, with nothing of the network, parameter groups or instances configured."""
    doc = pipeline_doc(cutover="swap", **overrides)
    for key in ("db_subnet_group", "security_group_ids", "instances"):
        if key not in overrides:
            doc.pop(key)
    return Fakes(config=make_config(doc))


def given_target(fakes: Fakes, *, status: str = "available", tags: dict[str, str] | None = None) -> None:
    rds = fakes.target
    rds.add_cluster(TARGET, status=status, tags=owned_tags(**{TAG_RUN: "previous-night"}) if tags is None else tags)
    rds.clusters[TARGET] = rds.clusters[TARGET].model_copy(
        update={
            "db_subnet_group": "legacy-subnets",
            "security_group_ids": ["sg-legacy"],
            "db_cluster_parameter_group": "legacy-cluster",
            "iam_database_authentication": True,
            "backup_retention_days": 7,
        }  # fmt: skip
    )
    for index in (1, 2, 3):
        rds.add_instance(f"{TARGET}-{index}", TARGET, tags=owned_tags())
        rds.instances[f"{TARGET}-{index}"] = rds.instances[f"{TARGET}-{index}"].model_copy(
            update={"instance_class": "db.r6g.xlarge", "db_parameter_group": "legacy-instance"}
        )


def turn(fakes: Fakes, run: Run, step: Step) -> StepTurn:
    return StepTurn(fakes.deps, run, step, "test")


def seed(fakes: Fakes, status: RunStatus, **fields: Any) -> Run:
    return fakes.store.seed(make_run(status, now=fakes.clock.now(), pipeline=fakes.pipeline, **fields))


def given_staging(fakes: Fakes, *, status: str = "available", instances: int = 3) -> None:
    rds = fakes.target
    rds.add_cluster(STAGING, status=status, tags=owned_tags(**{TAG_RUN: RUN_ID}))
    rds.clusters[STAGING] = rds.clusters[STAGING].model_copy(update={"security_group_ids": QUARANTINE})
    for index in range(1, instances + 1):
        rds.add_instance(f"{STAGING}-{index}", STAGING, tags=owned_tags(**{TAG_RUN: RUN_ID}))


# Names and configuration --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", ["staging-aurora", "a" * 63, "x-" * 25 + "y"])
def test_staging_and_retired_names_follow_the_rds_identifier_rules_and_differ_per_run(target: str) -> None:
    for name in (staging_cluster_id(target, RUN_ID), retired_cluster_id(target, RUN_ID)):
        assert RDS_ID.match(name) and len(name) <= 63 and RUN_ID.split("-")[1] in name
    assert staging_cluster_id(target, RUN_ID) != staging_cluster_id(target, "20261126t0310-0a1b2c3d4e")
    assert f"{staging_cluster_id(target, RUN_ID)}-15".startswith(staging_cluster_id(target, RUN_ID))


def test_swap_needs_a_quarantine_group_and_replace_does_not() -> None:
    doc = pipeline_doc(cutover="swap", quarantine_security_group_ids=[])
    with pytest.raises(ConfigError, match=re.escape(QUARANTINE_MISSING[:40])):
        parse_config({"pipelines": [doc]})
    assert parse_config({"pipelines": [pipeline_doc(cutover="replace", quarantine_security_group_ids=[])]})


def test_the_new_cluster_takes_the_targets_settings_unless_configured_field_by_field() -> None:
    fakes = swap_fakes(db_cluster_parameter_group="configured-params")
    given_target(fakes)
    rds = fakes.target
    members = [i for i in (rds.find_instance(m) for m in rds.clusters[TARGET].member_ids) if i is not None]
    run = make_run(RunStatus.RESTORING, previous_target=read_target(rds.clusters[TARGET], members))

    new = plan(fakes.pipeline, run)

    assert (new.db_subnet_group, new.security_group_ids) == ("legacy-subnets", ["sg-legacy"])
    assert new.db_cluster_parameter_group == "configured-params"  # configured: overrides the target's
    assert (new.instance_class, new.instance_count, new.db_instance_parameter_group) == (
        "db.r6g.xlarge",
        3,
        "legacy-instance",
    )
    assert (new.iam_database_authentication, new.backup_retention_days) == (True, 7)
    assert "cluster parameters: configured-params (configuration)" in new.origins
    assert "subnet group: legacy-subnets (previous target)" in new.origins
    assert new.tags[TAG_RUN] == RUN_ID


def test_parameter_groups_of_another_major_version_are_not_taken_over() -> None:
    fakes = swap_fakes()
    given_target(fakes)
    rds = fakes.target
    old = rds.clusters[TARGET].model_copy(update={"engine_version": "5.7.mysql_aurora.2.11.2"})
    members = [i for i in (rds.find_instance(m) for m in old.member_ids) if i is not None]
    run = make_run(RunStatus.RESTORING, previous_target=read_target(old, members))

    upgraded = plan(fakes.pipeline, run, "8.0.mysql_aurora.3.05.2")
    same = plan(fakes.pipeline, run, "5.7.mysql_aurora.2.12.0")

    assert (upgraded.db_cluster_parameter_group, upgraded.db_instance_parameter_group) == (None, None)
    assert "not taken over (engine 5.7, new cluster 8.0)" in upgraded.origins
    assert (same.db_cluster_parameter_group, same.db_instance_parameter_group) == ("legacy-cluster", "legacy-instance")


def test_a_first_run_without_a_configured_network_refuses_the_default_vpc() -> None:
    fakes = swap_fakes()
    with pytest.raises(SafetyViolation, match="refusing to restore into the default VPC"):
        plan(fakes.pipeline, make_run(RunStatus.RESTORING))
    configured = swap_fakes(db_subnet_group="subnets", security_group_ids=["sg-app"])
    assert plan(configured.pipeline, make_run(RunStatus.RESTORING)).db_subnet_group == "subnets"


# Before the swap: the target is read, never touched ------------------------------------------------------------------
def test_swap_mode_reads_the_target_and_restores_beside_it_in_quarantine() -> None:
    fakes = swap_fakes()
    given_target(fakes)
    fakes.target.add_snapshot(f"ar-nightly-{RUN_ID}", "prod-aurora", snapshot_type="manual")
    run = seed(fakes, RunStatus.REPLACING_TARGET)

    delete_rds.act(turn(fakes, run, Step.DELETE_RDS))

    read = fakes.store.run()
    assert read.staging_cluster_id == STAGING and read.previous_target is not None
    assert read.previous_target.instance_count == 3 and fakes.bus.detail_types() == ["TargetRead"]
    assert fakes.all_deletes() == []
    restore_snapshot.act(turn(fakes, read, Step.RESTORE_SNAPSHOT))
    [request] = [c.args["request"] for c in fakes.target.calls_to("restore_cluster")]
    assert (request.cluster_id, request.security_group_ids, request.db_subnet_group) == (
        STAGING,
        QUARANTINE,
        "legacy-subnets",
    )
    created = [c.args["request"] for c in fakes.target.calls_to("create_instance")]
    assert [r.instance_id for r in created] == [f"{STAGING}-{n}" for n in (1, 2, 3)]
    assert {r.instance_class for r in created} == {"db.r6g.xlarge"}
    assert fakes.store.run().status is RunStatus.RESTORING
    assert [c.method for c in fakes.target.calls if c.args.get("cluster_id") == TARGET] == ["find_cluster"]


def test_a_target_the_pipeline_does_not_own_fails_the_run_before_anything_is_made() -> None:
    fakes = swap_fakes()
    given_target(fakes, tags={"team": "dba"})
    run = seed(fakes, RunStatus.REPLACING_TARGET)
    with pytest.raises(SafetyViolation, match="refusing to swap out"):
        delete_rds.act(turn(fakes, run, Step.DELETE_RDS))
    assert fakes.bus.published == [] and fakes.target.calls_to("restore_cluster") == []


def test_configured_runs_swap_only_in_swap_mode() -> None:
    assert (
        swap_clusters.after_validation(make_run(RunStatus.CONFIGURING_DB, staging_cluster_id=STAGING))
        is RunStatus.SWAPPING
    )
    assert swap_clusters.after_validation(make_run(RunStatus.CONFIGURING_DB)) is RunStatus.ARCHIVING


# The swap -----------------------------------------------------------------------------------------------------------
def swapping_target(fakes: Fakes) -> Any:
    rds = fakes.target
    members = [i for i in (rds.find_instance(m) for m in rds.clusters[TARGET].member_ids) if i is not None]
    return read_target(rds.clusters[TARGET], members)


def swapping(fakes: Fakes, **fields: Any) -> Run:
    target = swapping_target(fakes)
    return seed(fakes, RunStatus.SWAPPING, staging_cluster_id=STAGING, previous_target=target, **fields)


def act_swap(fakes: Fakes) -> Run:
    swap_clusters.act(turn(fakes, fakes.store.run(), Step.SWAP_CLUSTERS))
    return fakes.store.run()


def settle(fakes: Fakes) -> None:
    """RDS finishes every rename in flight."""
    for key, cluster in list(fakes.target.clusters.items()):
        if cluster.status == "renaming":
            fakes.target.set_status(key, "available")
    for key, instance in list(fakes.target.instances.items()):
        if instance.status == "renaming":
            fakes.target.set_status(key, "available")


def test_the_swap_renames_the_old_target_away_then_the_staging_cluster_into_place() -> None:
    fakes = swap_fakes()
    given_target(fakes)
    given_staging(fakes)
    original_arn = fakes.target.clusters[TARGET].arn
    swapping(fakes)

    vacated = act_swap(fakes)
    assert vacated.retired_cluster_id == RETIRED and vacated.swap and vacated.swap.vacated_at == T0
    assert (
        fakes.target.find_cluster(TARGET) is None and fakes.target.clusters[RETIRED].tags[TAG_RUN] == "previous-night"
    )
    assert sorted(fakes.target.clusters[RETIRED].member_ids) == [f"{RETIRED}-{n}" for n in (1, 2, 3)]
    settle(fakes)
    fakes.clock.advance(minutes=2)
    filled = act_swap(fakes)
    assert filled.swap and filled.swap.seconds == 120 and filled.new_cluster_id == TARGET
    [rename] = [c.args for c in fakes.target.calls_to("rename_cluster") if c.args["cluster_id"] == STAGING]
    assert rename == {"cluster_id": STAGING, "new_id": TARGET, "security_group_ids": ["sg-legacy"]}
    settle(fakes)
    act_swap(fakes)  # the instances follow
    settle(fakes)
    done = act_swap(fakes)

    assert done.status is RunStatus.ARCHIVING
    assert sorted(fakes.target.clusters[TARGET].member_ids) == [f"{TARGET}-{n}" for n in (1, 2, 3)]
    assert fakes.target.clusters[TARGET].tags[TAG_RUN] == RUN_ID and fakes.target.clusters[TARGET].arn == original_arn
    watch = fakes.store.get_watch("nightly")
    assert watch is not None and [(r.cluster_id, r.run_tag) for r in watch.retired] == [(RETIRED, "previous-night")]
    assert watch.retired[0].delete_after == fakes.clock.now() + timedelta(hours=24)
    assert fakes.all_deletes() == []


def test_a_swap_with_no_security_groups_for_the_target_is_refused_before_anything_is_made_or_renamed() -> None:
    # Given a target with no security groups of its own to hand on, and none configured
    fakes = swap_fakes()
    given_target(fakes)
    fakes.target.clusters[TARGET] = fakes.target.clusters[TARGET].model_copy(update={"security_group_ids": []})
    fakes.target.add_snapshot(f"ar-nightly-{RUN_ID}", "prod-aurora", snapshot_type="manual")
    read = seed(fakes, RunStatus.RESTORING, staging_cluster_id=STAGING, previous_target=swapping_target(fakes))
    # When the restore would begin, or the swap would rename the target away
    with pytest.raises(SafetyViolation, match="nothing was renamed"):
        restore_snapshot.request_restore(turn(fakes, read, Step.RESTORE_SNAPSHOT))
    given_staging(fakes)
    with pytest.raises(SafetyViolation) as refused:
        swap_clusters.vacate(turn(fakes, read, Step.SWAP_CLUSTERS), fakes.target, fakes.target.clusters[TARGET])
    # Then nothing was made or renamed: the target keeps its name and serves on
    assert refused.value.code == "NoTargetSecurityGroups"
    assert fakes.target.calls_to("restore_cluster") == [] and fakes.target.calls_to("rename_cluster") == []
    assert fakes.target.find_cluster(TARGET) is not None


def test_a_vacate_retried_after_a_crash_renames_only_what_is_left() -> None:
    fakes = swap_fakes()
    given_target(fakes)
    given_staging(fakes)
    swapping(fakes)
    fakes.target.rename_instance(f"{TARGET}-2", f"{RETIRED}-1")  # the crashed attempt got this far
    fakes.target.set_status(f"{RETIRED}-1", "available")

    act_swap(fakes)

    assert sorted(fakes.target.clusters[RETIRED].member_ids) == [f"{RETIRED}-{n}" for n in (1, 2, 3)]


def test_the_old_target_is_not_moved_while_the_staging_cluster_is_not_ready() -> None:
    fakes = swap_fakes()
    given_target(fakes)
    given_staging(fakes, status="resetting-master-credentials")
    swapping(fakes)
    run = act_swap(fakes)
    assert run.swap is None and fakes.target.calls_to("rename_cluster") == []
    assert fakes.target.clusters[TARGET].tags[TAG_RUN] == "previous-night"


def test_a_stopped_target_is_started_for_its_rename_never_renamed_stopped() -> None:
    fakes = swap_fakes()
    given_target(fakes, status="stopped")
    given_staging(fakes)
    swapping(fakes)
    run = act_swap(fakes)
    assert [c.method for c in fakes.target.calls if c.method in ("start_cluster", "rename_cluster")] == [
        "start_cluster"
    ]
    assert (
        run.status is RunStatus.SWAPPING and "StartDBCluster requested" in fakes.store.audit_trail(RUN_ID)[-1].message
    )


def test_a_target_that_lost_its_ownership_tag_is_never_renamed() -> None:
    fakes = swap_fakes()
    given_target(fakes, tags={"team": "dba"})
    given_staging(fakes)
    swapping(fakes)
    with pytest.raises(SafetyViolation, match="refusing to rename"):
        act_swap(fakes)
    assert fakes.target.calls_to("rename_cluster") == [] and fakes.target.calls_to("rename_instance") == []


# A failure before the swap ------------------------------------------------------------------------------------------
def failed_in(fakes: Fakes, status: RunStatus, **fields: Any) -> Run:
    failure = {"step": "setup-db-users", "status": status, "code": "SqlFailed", "message": "masking failed", "at": T0}
    return seed(fakes, RunStatus.FAILED, staging_cluster_id=STAGING, failure=failure, **fields)


def test_a_failure_before_the_swap_removes_the_staging_cluster_and_never_touches_the_target() -> None:
    fakes = swap_fakes()
    given_target(fakes)
    given_staging(fakes)
    run = failed_in(fakes, RunStatus.CONFIGURING_DB)

    [done] = clean_up(turn(fakes, run, Step.SNS_NOTIFICATION))

    assert f"staging cluster {STAGING} removed" in done
    assert sorted(c.args["instance_id"] for c in fakes.target.calls_to("delete_instance")) == [
        f"{STAGING}-{n}" for n in (1, 2, 3)
    ]
    assert all(TARGET + "-s" in str(c.args) for c in fakes.target.deletes())
    fakes.target.finish_deletions()
    assert sweep_retired(fakes.deps) == 0  # the cluster is deleted now that its instances are gone ...
    fakes.target.finish_deletions()
    assert sweep_retired(fakes.deps) == 1 and fakes.target.find_cluster(STAGING) is None  # ... and dropped
    assert fakes.target.find_cluster(TARGET) is not None and len(fakes.target.clusters[TARGET].member_ids) == 3


def test_keep_failed_staging_keeps_it_quarantined_and_a_failure_after_the_vacate_deletes_nothing() -> None:
    fakes = swap_fakes(keep_failed_staging=True)
    given_staging(fakes)
    [kept] = clean_up(turn(fakes, failed_in(fakes, RunStatus.RESTORING), Step.SNS_NOTIFICATION))
    assert "kept, quarantined" in kept and fakes.all_deletes() == []
    fakes = swap_fakes()
    given_staging(fakes)
    late = failed_in(fakes, RunStatus.SWAPPING, retired_cluster_id=RETIRED, swap=SwapWindow(vacated_at=T0))
    [told] = clean_up(turn(fakes, late, Step.SNS_NOTIFICATION))
    assert "nothing was deleted" in told and "aurora-restore rollback nightly" in told and fakes.all_deletes() == []


# The retired target --------------------------------------------------------------------------------------------------
def retired_entry(delete_after: timedelta, cluster_id: str = RETIRED) -> RetiredCluster:
    return RetiredCluster(cluster_id=cluster_id, arn="arn", run_id=RUN_ID, run_tag="previous-night",
                          retired_at=T0, delete_after=T0 + delete_after, replaced_by=RUN_ID)  # fmt: skip


def test_the_retired_target_is_deleted_once_its_time_is_up_and_only_if_still_owned() -> None:
    fakes = swap_fakes()
    fakes.target.add_cluster(RETIRED, tags=owned_tags(**{TAG_RUN: "previous-night"}))
    fakes.target.add_instance(f"{RETIRED}-1", RETIRED, tags=owned_tags())
    fakes.target.add_cluster("someone-elses", tags={"team": "dba"})
    keep_retired(fakes.deps, "nightly", retired_entry(timedelta(hours=24)))
    keep_retired(fakes.deps, "nightly", retired_entry(timedelta(hours=1), "someone-elses"))

    assert sweep_retired(fakes.deps) == 0 and fakes.all_deletes() == []  # not yet due
    fakes.clock.advance(hours=2)
    assert sweep_retired(fakes.deps) == 1  # someone-elses: refused, dropped from the list, untouched
    assert fakes.all_deletes() == []
    fakes.clock.advance(hours=23)
    assert sweep_retired(fakes.deps) == 0  # instances, then the cluster, deleting
    fakes.target.finish_deletions()
    assert sweep_retired(fakes.deps) == 1 and fakes.target.find_cluster(RETIRED) is None
    assert fakes.target.find_cluster("someone-elses") is not None
    refused = [r for r in fakes.store.audit_trail("pipeline#nightly") if r.kind == "refused"]
    assert len(refused) == 1 and "not deleting it" in refused[0].message


def test_a_rollback_is_refused_while_a_run_holds_the_target_or_when_nothing_is_kept() -> None:
    fakes = swap_fakes()
    with pytest.raises(PipelineError, match="keeps no retired target"):
        advance_rollback(fakes.deps, fakes.pipeline)
    fakes.store.locks[lock_key_for("us-west-2", TARGET)] = RUN_ID
    with pytest.raises(PipelineError, match=f"run {RUN_ID} holds target"):
        advance_rollback(fakes.deps, fakes.pipeline)


def test_the_rollback_command_reports_each_step_and_stops_at_its_timeout() -> None:
    from ops.errors import CliError
    from ops.rollback import roll_back

    fakes = swap_fakes()
    with pytest.raises(CliError, match="rollback refused \\[NothingToRollBack\\]"):
        roll_back(fakes.deps, "nightly", print, timeout=0, interval=1)
    fakes.target.add_cluster(RETIRED, status="stopped", tags=owned_tags(**{TAG_RUN: "previous-night"}))
    keep_retired(fakes.deps, "nightly", retired_entry(timedelta(hours=24)))
    lines: list[str] = []
    progress = roll_back(fakes.deps, "nightly", lines.append, timeout=2, interval=1, sleep=lambda _: None)
    assert not progress.done and lines[0].endswith("started for the rollback") and len(lines) == 3
    assert [c.method for c in fakes.target.calls if c.method == "start_cluster"] == ["start_cluster"]
    assert "rollback" in fakes.store.audit_trail("pipeline#nightly")[0].message


def test_a_run_with_the_targets_settings_can_be_stored_in_dynamodb() -> None:
    """boto3's DynamoDB serializer refuses floats: Serverless v2 capacities must not become one."""
    from decimal import Decimal

    from shared.aws.state_store import run_item
    from shared.cluster_settings import ServerlessScaling, TargetSettings

    scaling = ServerlessScaling(min_capacity=Decimal("0.5"), max_capacity=Decimal("16"))
    target = TargetSettings(cluster_id=TARGET, arn="arn", instance_count=2, serverless_v2=scaling)
    item = run_item(make_run(RunStatus.RESTORING, previous_target=target, staging_cluster_id=STAGING))
    assert item["previous_target"]["M"]["serverless_v2"]["M"]["min_capacity"] == {"S": "0.5"}
    stored = Run.model_validate(make_run(RunStatus.RESTORING, previous_target=target).model_dump(mode="json"))
    assert stored.previous_target == target
