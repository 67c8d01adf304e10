"""Where the new cluster comes from (`strategy`): the choice in every situation, the configuration errors, and the
steps on fakes (no copy for a clone, RestoreDBClusterToPointInTime for the restore, retention with no copy of its
own), and the IAM statement.

Sources: RestoreDBClusterToPointInTime (RDS API Reference); Aurora UG Aurora.Managing.Clone (limitations) and
aurora-cluster-stop-start (point-in-time restore of a stopped cluster).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from local_runtime.template_rules import load_template
from shared import dispatch
from shared.config import PipelineConfig
from shared.errors import ConfigError, PipelineError
from shared.model import Run, RunStatus
from shared.naming import TAG_RUN
from shared.ports import ClusterView, SnapshotView
from shared.steps.restore_source import SourceFacts, choose
from shared.transitions import Step
from tests.unit.fakes import T0, Fakes, make_config, make_run, owned_tags, pipeline_doc, run_event

S = RunStatus
REGION = "us-west-2"  # production and the target in one region and account


def same_region(**overrides: Any) -> dict[str, Any]:
    return pipeline_doc(source_region=REGION, **overrides)


def pipeline(**overrides: Any) -> PipelineConfig:
    return make_config(same_region(**overrides)).pipelines[0]


def cluster(status: str = "available", members: int = 1, engine: str = "aurora-mysql") -> ClusterView:
    return ClusterView(
        identifier="prod-aurora",
        arn=f"arn:aws:rds:{REGION}:123456789012:cluster:prod-aurora",
        status=status,
        engine=engine,
        deletion_protection=True,
        member_ids=[f"prod-aurora-{i}" for i in range(1, members + 1)],
    )


def snapshot(
    identifier: str = "rds:prod-aurora-2026-11-25-03-05", *, encrypted: bool = True, age_hours: int = 0
) -> Any:
    return SnapshotView(
        identifier=identifier,
        arn=f"arn:aws:rds:{REGION}:123456789012:cluster-snapshot:{identifier}",
        cluster_id="prod-aurora",
        status="available",
        snapshot_type="automated",
        engine="aurora-mysql",
        engine_version="8.0.mysql_aurora.3.05.2",
        created_at=T0 - timedelta(hours=age_hours),
        encrypted=encrypted,
    )


def facts(**changes: Any) -> SourceFacts:
    """A cloneable source: available, one writer, encrypted, the run's snapshot its newest."""
    base: dict[str, Any] = {"cluster": cluster(), "snapshot": snapshot(), "newest": snapshot()}
    base.update(changes)
    return SourceFacts(**base)


# The choice ---------------------------------------------------------------------------------------------------------
def test_auto_clones_a_same_region_same_account_source() -> None:
    choice = choose(pipeline(), facts())
    assert choice.restore_from == "clone" and "copy-on-write clone of prod-aurora" in choice.reason


def test_auto_copies_the_snapshot_of_a_source_in_another_region_without_looking_at_it() -> None:
    choice = choose(make_config().pipelines[0], None)  # the demo pipeline: us-east-1 -> us-west-2
    assert choice.restore_from == "snapshot-copy" and "another region" in choice.reason


def test_auto_copies_when_the_source_account_is_not_known_to_be_the_pipelines() -> None:
    choice = choose(pipeline(source_account_id="210987654321"), None)
    assert choice.restore_from == "snapshot-copy" and "another account" in choice.reason


def test_a_source_account_equal_to_the_target_account_may_be_cloned() -> None:
    same = pipeline(source_account_id="123456789012", target_account_id="123456789012")
    assert choose(same, facts()).restore_from == "clone"


@pytest.mark.parametrize(
    ("situation", "changes", "why"),
    [
        ("source gone", {"cluster": None}, "was not found"),
        ("not Aurora", {"cluster": cluster(engine="mysql")}, "only Aurora clusters"),
        ("failed source", {"cluster": cluster(status="inaccessible-encryption-credentials")}, "is 'inaccessible"),
        ("stopped source", {"cluster": cluster(status="stopped")}, "stopped"),
        ("no instance", {"cluster": cluster(members=0)}, "no DB instance"),
        ("snapshot gone", {"snapshot": None}, "snapshot is gone"),
        ("unencrypted", {"snapshot": snapshot(encrypted=False), "newest": None}, "not encrypted"),
        ("pinned older snapshot", {"snapshot": snapshot(age_hours=24)}, "older than the source's newest"),
    ],
)
def test_auto_copies_the_snapshot_when_a_clone_is_not_possible(
    situation: str, changes: dict[str, Any], why: str
) -> None:
    choice = choose(pipeline(), facts(**changes))
    assert choice.restore_from == "snapshot-copy", situation
    assert why in choice.reason and "the snapshot is copied instead" in choice.reason


def test_auto_copies_when_engine_version_pins_another_version_than_the_sources() -> None:
    choice = choose(pipeline(engine_version="8.0.mysql_aurora.3.08.0"), facts())
    assert choice.restore_from == "snapshot-copy" and "keeps the source's version" in choice.reason
    assert choose(pipeline(engine_version="8.0.mysql_aurora.3.05.2"), facts()).restore_from == "clone"


def test_a_configured_clone_that_is_not_possible_fails_with_the_reason() -> None:
    with pytest.raises(PipelineError) as raised:
        choose(pipeline(strategy="clone"), facts(cluster=cluster(members=0)))
    assert raised.value.code == "RestoreSourceUnusable" and not raised.value.transient
    assert "strategy clone is not possible" in raised.value.message and "no DB instance" in raised.value.message


def test_point_in_time_restores_a_stopped_source_or_one_without_instances() -> None:
    # "While an Aurora cluster is stopped, you can do a point-in-time restore" (aurora-cluster-stop-start);
    # the no-instance limit is the clone's.
    for source in (cluster(status="stopped"), cluster(members=0)):
        choice = choose(pipeline(strategy="point-in-time"), facts(cluster=source))
        assert choice.restore_from == "point-in-time" and "full-copy point-in-time restore" in choice.reason


def test_point_in_time_refuses_an_unencrypted_source() -> None:
    with pytest.raises(PipelineError, match="not encrypted"):
        choose(pipeline(strategy="point-in-time"), facts(snapshot=snapshot(encrypted=False)))


def test_snapshot_copy_is_used_as_configured() -> None:
    assert choose(pipeline(strategy="snapshot-copy"), None).restore_from == "snapshot-copy"


# Configuration errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy", ["clone", "point-in-time"])
def test_a_cross_region_pipeline_cannot_clone_or_restore_to_a_point_in_time(strategy: str) -> None:
    with pytest.raises(ConfigError, match=f"strategy '{strategy}' restores from the source cluster in its own region"):
        make_config(pipeline_doc(strategy=strategy))  # us-east-1 -> us-west-2


@pytest.mark.parametrize("strategy", ["clone", "point-in-time"])
def test_a_direct_restore_needs_the_source_in_the_pipelines_account(strategy: str) -> None:
    with pytest.raises(ConfigError, match="needs the source cluster in the pipeline's own account"):
        make_config(same_region(strategy=strategy, source_account_id="210987654321"))


@pytest.mark.parametrize("strategy", ["auto", "snapshot-copy"])
def test_auto_and_snapshot_copy_are_valid_across_regions(strategy: str) -> None:
    assert make_config(pipeline_doc(strategy=strategy)).pipelines[0].strategy == strategy


# The steps on fakes -----------------------------------------------------------------------------------------------
def given(strategy: str = "auto", status: RunStatus = S.REQUESTED, **run_fields: Any) -> tuple[Fakes, Run]:
    """A same-region pipeline; production available with a writer; the run's snapshot its newest, encrypted."""
    fakes = Fakes(config=make_config(same_region(strategy=strategy)))
    fakes.source.add_cluster("prod-aurora", deletion_protection=True)
    fakes.source.add_instance("prod-aurora-1", "prod-aurora")
    run = fakes.store.seed(make_run(status, pipeline=fakes.pipeline, **run_fields))
    fakes.source.add_snapshot(run.source_snapshot_id, "prod-aurora")
    return fakes, run


def run_tags(run: Run) -> dict[str, str]:
    return owned_tags(**{TAG_RUN: run.run_id})


def step(fakes: Fakes, which: Step, run: Run) -> str:
    return dispatch.handle(which, run_event("RunCheckDue", run), fakes.deps).result


def test_a_clone_run_makes_no_copy_and_moves_on_to_replacing_the_target() -> None:
    fakes, run = given()
    step(fakes, Step.COPY_SNAPSHOT, run)

    moved = fakes.store.run()
    assert moved.status is S.REPLACING_TARGET and moved.restore_from == "clone"
    assert "copy_snapshot" not in fakes.target.methods() and "manual_snapshot_quota" not in fakes.target.methods()
    assert "SnapshotCopied" in fakes.bus.detail_types()  # what wakes delete-rds, as after a copy
    assert "no snapshot copy: strategy auto: copy-on-write clone" in fakes.store.audit_trail(run.run_id)[-1].message


def test_a_copy_run_records_its_choice() -> None:
    fakes, run = given(strategy="snapshot-copy")
    step(fakes, Step.COPY_SNAPSHOT, run)
    moved = fakes.store.run()
    assert moved.status is S.COPYING and moved.restore_from == "snapshot-copy"
    assert [c.method for c in fakes.target.calls_to("copy_snapshot")] == ["copy_snapshot"]


def test_a_retried_turn_whose_copy_exists_stays_on_the_copy_path() -> None:
    fakes, run = given()
    fakes.target.add_snapshot(
        run.copy_snapshot_id, "prod-aurora", snapshot_type="manual", status="copying", tags=run_tags(run)
    )
    step(fakes, Step.COPY_SNAPSHOT, run)
    assert fakes.store.run().status is S.COPYING and fakes.store.run().restore_from == "snapshot-copy"
    assert "restore_to_point_in_time" not in fakes.target.methods()


def test_an_impossible_configured_clone_fails_the_run_with_nothing_made() -> None:
    fakes, run = given(strategy="clone")
    fakes.source.add_snapshot(run.source_snapshot_id, "prod-aurora", encrypted=False)
    step(fakes, Step.COPY_SNAPSHOT, run)
    failed = fakes.store.run()
    assert failed.status is S.FAILED and failed.failure is not None
    assert failed.failure.code == "RestoreSourceUnusable" and "not encrypted" in failed.failure.message
    assert not fakes.target.calls_to("copy_snapshot") and not fakes.target.deletes()


@pytest.mark.parametrize(("restore_from", "restore_type"), [("clone", "copy-on-write"), ("point-in-time", "full-copy")])
def test_the_restore_reads_from_the_source_cluster(restore_from: str, restore_type: str) -> None:
    fakes, run = given(status=S.REPLACING_TARGET, restore_from=restore_from)  # the old target is gone
    step(fakes, Step.RESTORE_SNAPSHOT, run)

    [call] = fakes.target.calls_to("restore_to_point_in_time")
    request = call.args["request"]
    assert request.point_in_time.cluster_id == "prod-aurora" and request.point_in_time.restore_type == restore_type
    assert request.snapshot_id is None and request.engine_version is None
    assert request.kms_key_id == "alias/aurora-restore" and request.db_subnet_group == "staging-db-subnets"
    assert not fakes.target.calls_to("restore_cluster")
    assert run.copy_snapshot_id.lower() not in [c.args.get("identifier", "").lower() for c in fakes.target.calls]
    restored = fakes.store.run()
    assert restored.status is S.RESTORING and "of the source cluster (latest restorable time)" in (
        fakes.store.audit_trail(run.run_id)[-1].message
    )
    assert fakes.target.clusters["staging-aurora"].tags[TAG_RUN] == run.run_id


def test_a_clone_run_archives_only_older_copies_beyond_retention() -> None:
    fakes, run = given(status=S.ARCHIVING, restore_from="clone")
    for index in range(3):  # copies of earlier nights that took the copy path
        fakes.target.add_snapshot(
            f"ar-nightly-old-{index}",
            "prod-aurora",
            snapshot_type="manual",
            created_at=T0 - timedelta(days=3 - index),
            tags=owned_tags(),
        )
    step(fakes, Step.ARCHIVE_SNAPSHOT, run)
    assert fakes.store.run().status is S.SUCCEEDED
    assert [c.args["identifier"] for c in fakes.target.calls_to("delete_snapshot")] == ["ar-nightly-old-0"]


# IAM ------------------------------------------------------------------------------------------------------------
def test_a_restore_from_the_source_can_only_make_tagged_clusters_and_is_never_denied_on_the_source() -> None:
    resources = load_template()["Resources"]
    statements = [
        statement
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::ManagedPolicy"
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "Effect" in statement  # the conditional statements (Fn::If) are about KMS keys
    ]
    allowed = [s for s in statements if s["Effect"] == "Allow" and "rds:RestoreDBClusterToPointInTime" in s["Action"]]
    on_clusters = [s for s in allowed if any(":cluster:" in r["Fn::Sub"] for r in s["Resource"])]
    assert on_clusters and all(
        s["Condition"] == {"StringLike": {"rds:req-tag/aurora-restore:pipeline": "*"}} for s in on_clusters
    )
    inputs = {r["Fn::Sub"].rsplit(":", 2)[-2] for s in allowed for r in s["Resource"]}
    assert {"cluster", "subgrp", "cluster-pg", "og"} <= inputs  # the action's required resource types
    denied = [s for s in statements if s["Effect"] == "Deny" and "${SourceClusterId}" in str(s["Resource"])]
    assert denied and all("rds:RestoreDBClusterToPointInTime" not in s["Action"] for s in denied)
