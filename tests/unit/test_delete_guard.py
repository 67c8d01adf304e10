"""delete-rds: the previous target is deleted if and only if this pipeline owns it; instances before the cluster."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import dispatch
from shared.config import AppConfig, PipelineConfig
from shared.errors import ConfigError, PipelineError, SafetyViolation
from shared.model import Run, RunStatus
from shared.naming import TAG_PIPELINE, TAG_RUN, lock_key_for
from shared.ports import ClusterView, InstanceView
from shared.steps import delete_rds
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, Fakes, make_config, make_run, owned_tags, pipeline_doc, run_event

TARGET = "staging-aurora"


def given_target(
    fakes: Fakes,
    *,
    tags: dict[str, str] | None = None,
    deletion_protection: bool = False,
    status: str = "available",
    instance_tags: list[dict[str, str]] | None = None,
    identifier: str = TARGET,
) -> None:
    """The previous night's target: a cluster and its two instances, owned by `nightly` unless told otherwise."""
    rds = fakes.target
    rds.add_cluster(
        identifier,
        status=status,
        tags=owned_tags(**{TAG_RUN: "previous-night"}) if tags is None else tags,
        deletion_protection=deletion_protection,
    )
    for index, itags in enumerate(instance_tags or [owned_tags(), owned_tags()], start=1):
        rds.add_instance(f"{identifier}-{index}", identifier, tags=itags)


def given_run(fakes: Fakes, **overrides: Any) -> Run:
    return fakes.store.seed(make_run(RunStatus.REPLACING_TARGET, now=fakes.clock.now(), **overrides))


def act(fakes: Fakes, run: Run) -> None:
    delete_rds.act(StepTurn(fakes.deps, run, Step.DELETE_RDS, "SnapshotCopied"))


def cluster_view(identifier: str = TARGET, tags: dict[str, str] | None = None, protected: bool = False) -> ClusterView:
    return ClusterView(
        identifier=identifier,
        arn=f"arn:aws:rds:us-west-2:123456789012:cluster:{identifier}",
        status="available",
        engine="aurora-mysql",
        deletion_protection=protected,
        tags=owned_tags() if tags is None else tags,
    )


# The guard's rules, one by one ------------------------------------------------------------------------------------
def test_guard_passes_a_target_owned_by_the_pipeline_without_deletion_protection() -> None:
    config = make_config()
    # Given the configured target, tagged for this pipeline; When guarded; Then nothing is raised
    delete_rds.guard(config, config.pipelines[0], cluster_view())
    delete_rds.guard(config, config.pipelines[0], cluster_view("Staging-Aurora"))  # RDS ids are case-insensitive


def test_guard_refuses_a_cluster_that_is_not_the_configured_target() -> None:
    config = make_config()
    with pytest.raises(SafetyViolation) as refused:
        delete_rds.guard(config, config.pipelines[0], cluster_view("staging-aurora-2"))
    assert refused.value.code == "NotTheTarget" and not refused.value.transient


def test_guard_refuses_a_configured_source_cluster_when_a_config_slips_past_validation() -> None:
    # Given two pipelines where one's target is the other's source: the config parser refuses the document ...
    first = pipeline_doc()
    second = pipeline_doc(
        name="qa",
        source_cluster_id=TARGET,
        source_region="us-west-2",
        target_cluster_id="qa-aurora",
        database={"master_secret_id": "aurora-restore/qa"},
        masking="not-needed",
    )
    with pytest.raises(ConfigError, match="a source cluster is also a target"):
        make_config(first, second)
    # ... and the guard still refuses if such a configuration reached it (defence in depth)
    pipelines = [PipelineConfig.model_validate(first), PipelineConfig.model_validate(second)]
    config = AppConfig.model_construct(pipelines=pipelines)
    with pytest.raises(SafetyViolation) as refused:
        delete_rds.guard(config, pipelines[0], cluster_view())
    assert refused.value.code == "TargetIsSourceCluster"


def test_guard_refuses_a_cluster_without_the_ownership_tag() -> None:
    config = make_config()
    with pytest.raises(SafetyViolation) as refused:
        delete_rds.guard(config, config.pipelines[0], cluster_view(tags={"environment": "staging"}))
    assert refused.value.code == "TargetNotOwned"
    assert f"it has no {TAG_PIPELINE} tag" in refused.value.message


def test_guard_refuses_a_cluster_owned_by_another_pipeline() -> None:
    config = make_config()
    with pytest.raises(SafetyViolation) as refused:
        delete_rds.guard(config, config.pipelines[0], cluster_view(tags=owned_tags("weekly")))
    assert refused.value.code == "TargetNotOwned"
    assert f"it carries {TAG_PIPELINE}=weekly" in refused.value.message


def test_guard_refuses_a_cluster_with_deletion_protection_on() -> None:
    config = make_config()
    with pytest.raises(SafetyViolation) as refused:
        delete_rds.guard(config, config.pipelines[0], cluster_view(protected=True))
    assert refused.value.code == "TargetDeletionProtected"


@pytest.mark.parametrize("tags", [{}, owned_tags("weekly"), {TAG_PIPELINE: "Nightly"}])
def test_guard_instance_refuses_an_instance_not_owned_by_the_pipeline(tags: dict[str, str]) -> None:
    pipeline = make_config().pipelines[0]
    instance = InstanceView(identifier=f"{TARGET}-1", cluster_id=TARGET, status="available", tags=tags)
    with pytest.raises(SafetyViolation) as refused:
        delete_rds.guard_instance(pipeline, instance)
    assert refused.value.code == "InstanceNotOwned"


@given(
    identifier=st.sampled_from([TARGET, TARGET.upper(), "staging-aurora-2", "prod-aurora", "staging"]),
    owner=st.sampled_from([None, "nightly", "weekly", "Nightly", ""]),
    protected=st.booleans(),
)
def test_guard_passes_exactly_when_every_rule_holds(identifier: str, owner: str | None, protected: bool) -> None:
    config = make_config()
    tags = {} if owner is None else {TAG_PIPELINE: owner}
    expected = [
        code
        for code, broken in (
            ("NotTheTarget", identifier.lower() != TARGET),
            ("TargetNotOwned", owner != "nightly"),
            ("TargetDeletionProtected", protected),
        )
        if broken
    ]
    try:
        delete_rds.guard(config, config.pipelines[0], cluster_view(identifier, tags, protected))
    except SafetyViolation as refused:
        assert expected and refused.code == expected[0], "the first broken rule is reported"
    else:
        assert not expected


# The step: a refusal deletes nothing --------------------------------------------------------------------------------
REFUSALS = {
    "no-ownership-tag": ({"tags": {"environment": "staging"}}, "TargetNotOwned"),
    "another-pipelines-tag": ({"tags": owned_tags("weekly")}, "TargetNotOwned"),
    "deletion-protection": ({"deletion_protection": True}, "TargetDeletionProtected"),
    "instance-not-owned": ({"instance_tags": [owned_tags(), {"owner": "dba-team"}]}, "InstanceNotOwned"),
    "instance-of-another-pipeline": ({"instance_tags": [owned_tags("weekly"), owned_tags()]}, "InstanceNotOwned"),
}


@pytest.mark.parametrize(("target", "code"), REFUSALS.values(), ids=REFUSALS.keys())
def test_act_refuses_and_deletes_nothing_when_a_rule_is_broken(target: dict[str, Any], code: str) -> None:
    fakes = Fakes()
    given_target(fakes, **target)
    run = given_run(fakes)
    with pytest.raises(SafetyViolation) as refused:
        act(fakes, run)
    assert refused.value.code == code
    assert fakes.target.deletes() == [], "no delete was even attempted"
    assert fakes.store.run().version == run.version


def test_act_refuses_a_cluster_that_is_no_longer_the_configured_target() -> None:
    # Given a run opened for `old-staging`, and the configuration since edited to target staging-aurora
    fakes = Fakes()
    given_target(fakes, identifier="old-staging")
    run = given_run(fakes, target_cluster_id="old-staging")
    # When delete-rds looks at the run's target; Then it refuses, and deletes nothing
    with pytest.raises(SafetyViolation) as refused:
        act(fakes, run)
    assert refused.value.code == "NotTheTarget"
    assert fakes.target.deletes() == []


def test_safety_violation_fails_the_run_through_the_dispatcher_and_deletes_nothing() -> None:
    # Given a target somebody else owns
    fakes = Fakes()
    given_target(fakes, tags=owned_tags("weekly"))
    run = given_run(fakes)
    # When SnapshotCopied wakes delete-rds
    outcome = dispatch.handle(Step.DELETE_RDS, run_event("SnapshotCopied", run), fakes.deps)
    # Then the run fails at once (never retried), the lock is released, RunFailed is emitted, nothing is deleted
    failed = fakes.store.run()
    assert outcome.result == "error" and outcome.detail == "TargetNotOwned"
    assert failed.status is RunStatus.FAILED and failed.failure is not None
    assert failed.failure.code == "TargetNotOwned" and failed.attempts == 0
    assert fakes.store.lock_holder(lock_key_for("us-west-2", TARGET)) is None
    assert fakes.bus.detail_types() == ["RunFailed"]
    assert fakes.all_deletes() == []


# The step: all rules hold -------------------------------------------------------------------------------------------
def test_act_deletes_every_instance_before_the_cluster() -> None:
    fakes = Fakes()
    given_target(fakes)
    run = given_run(fakes)
    act(fakes, run)
    assert [(c.method, next(iter(c.args.values()))) for c in fakes.target.deletes()] == [
        ("delete_instance", f"{TARGET}-1"),
        ("delete_instance", f"{TARGET}-2"),
        ("delete_cluster", TARGET),
    ]
    waiting = fakes.store.run()
    assert waiting.status is RunStatus.REPLACING_TARGET
    assert fakes.store.audit_trail(RUN_ID)[-1].message.startswith(f"deletion of {TARGET} requested")
    assert fakes.bus.published == [], "TargetDeleted comes from RDS-EVENT-0171 (or the next look), not now"


def test_act_waits_with_backoff_when_the_cluster_still_refuses_deletion() -> None:
    # Given instances RDS has not yet accepted for deletion (the cluster refuses with InvalidDBClusterStateFault)
    fakes = Fakes()
    given_target(fakes)
    run = given_run(fakes, checks=2)
    fakes.target.fail("delete_cluster", "InvalidDBClusterStateFault")
    # When delete-rds acts
    act(fakes, run)
    # Then it looks again after min_poll * 2**checks (60 s * 4), without counting an attempt
    waiting = fakes.store.run()
    assert waiting.next_check_at == fakes.clock.now() + timedelta(seconds=240)
    assert waiting.attempts == 0 and waiting.checks == 3
    assert "instances deleting (2 left)" in fakes.store.audit_trail(RUN_ID)[-1].message


def test_act_raises_other_errors_of_the_cluster_delete() -> None:
    fakes = Fakes()
    given_target(fakes)
    run = given_run(fakes)
    fakes.target.fail("delete_cluster", "AccessDenied")
    with pytest.raises(PipelineError) as error:
        act(fakes, run)
    assert error.value.code == "AccessDenied" and not error.value.transient


def test_act_does_not_delete_an_instance_twice_while_it_is_deleting() -> None:
    fakes = Fakes()
    given_target(fakes)
    fakes.target.set_status(f"{TARGET}-1", "deleting")
    run = given_run(fakes)
    act(fakes, run)
    assert [c.args for c in fakes.target.calls_to("delete_instance")] == [{"instance_id": f"{TARGET}-2"}]
    assert fakes.target.calls_to("delete_cluster")


def test_act_emits_target_deleted_when_the_target_is_absent() -> None:
    fakes = Fakes()
    run = given_run(fakes)
    act(fakes, run)
    assert fakes.bus.detail_types() == ["TargetDeleted"]
    assert fakes.target.deletes() == []
    assert "target absent; TargetDeleted emitted" in fakes.store.audit_trail(RUN_ID)[-1].message


def test_act_emits_target_deleted_when_the_target_was_already_restored_by_this_run() -> None:
    # Given a crash after the restore was requested: the cluster carries this run's id
    fakes = Fakes()
    given_target(fakes, tags=owned_tags(**{TAG_RUN: RUN_ID}), status="creating")
    run = given_run(fakes)
    act(fakes, run)
    assert fakes.bus.detail_types() == ["TargetDeleted"]
    assert fakes.target.deletes() == [], "never delete what this run restored"


def test_act_waits_while_the_cluster_is_already_deleting() -> None:
    fakes = Fakes()
    given_target(fakes, status="deleting")
    run = given_run(fakes, checks=1)
    act(fakes, run)
    waiting = fakes.store.run()
    assert fakes.target.deletes() == []
    assert waiting.next_check_at == fakes.clock.now() + timedelta(seconds=120)  # min_poll 60 s * 2**1
    assert fakes.bus.published == []


def test_act_still_guards_a_cluster_that_is_already_deleting() -> None:
    # A cluster someone else is deleting is still not ours: refuse rather than wait on it.
    fakes = Fakes()
    given_target(fakes, status="deleting", tags={})
    run = given_run(fakes)
    with pytest.raises(SafetyViolation):
        act(fakes, run)
