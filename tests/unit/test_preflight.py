"""The preflight (shared.preflight): each check's verdict on fakes of our ports, and the run that a blocker fails
at its opening with every reason in the notification."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared import dispatch, preflight
from shared.model import RunStatus
from shared.ports import KeyGrantView, KeyView, SnapshotQuota
from shared.preflight import Finding, Inputs, Plan
from shared.steps.turn import StepTurn
from shared.transitions import DetailType, Step
from tests.unit.fakes import (
    ACCOUNT,
    RUN_ID,
    T0,
    Fakes,
    FakeSimulator,
    make_config,
    make_run,
    owned_tags,
    pipeline_doc,
    rds_event,
)

NIGHTLY = "rds:prod-aurora-2026-11-25-03-10"
NIGHTLY_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:{NIGHTLY}"
COPY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/copy-snapshot"
RESTORE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/restore-snapshot"
STEPS = ("snapshot-check", "copy-snapshot", "delete-rds", "restore-snapshot", "check-restore-status",
         "setup-db-users", "archive-snapshot", "sns-notification")  # fmt: skip
ROLES = {step: f"arn:aws:iam::{ACCOUNT}:role/{step}" for step in STEPS}


def swap_fakes() -> Fakes:
    """The demo pipeline as shipped: a `swap` cut-over (the unit fakes default to `replace`)."""
    return Fakes(config=make_config(pipeline_doc(cutover="swap")))


def healthy(fakes: Fakes) -> Fakes:
    fakes.source.add_snapshot(NIGHTLY, "prod-aurora", created_at=T0 - timedelta(hours=2))
    fakes.target.add_cluster("staging-aurora", tags=owned_tags())
    return fakes


def run_plan(fakes: Fakes, simulator: FakeSimulator | None = None, roles: dict[str, str] | None = ROLES) -> Plan:
    pipeline = fakes.pipeline
    snapshot = fakes.source.find_cluster_snapshot(NIGHTLY)
    inputs = Inputs(
        snapshot=snapshot, snapshot_problem="no snapshot", history=list(fakes.store.runs.values()), roles=roles,
        account=ACCOUNT, now=T0, run_id=RUN_ID,
    )  # fmt: skip
    probe = fakes.probe_in(pipeline.target_region)
    return preflight.plan(pipeline, inputs, fakes.target, probe, simulator or FakeSimulator())


def levels(plan: Plan, check: str) -> list[str]:
    return [f.level for f in plan.findings if f.check == check]


def blocker(plan: Plan, code: str) -> Finding:
    [found] = [f for f in plan.blockers if f.code == code]
    return found


def test_a_healthy_estate_has_no_blocker_and_says_what_would_happen() -> None:
    plan = run_plan(healthy(swap_fakes()))
    assert plan.blockers == [], plan.findings
    assert plan.snapshot_id == NIGHTLY and plan.strategy == "snapshot-copy" and plan.cutover == "swap"
    details = {f.check: f.detail for f in plan.findings}
    assert NIGHTLY in details["snapshot"] and "2h00m00s old" in details["snapshot"]
    assert "restores beside as staging-aurora-s3f9a1c2b7d" in details["cutover"]
    assert "renames staging-aurora to staging-aurora-retired-3f9a1c2b7d (kept)" in details["cutover"]
    assert details["strategy"].startswith("auto -> snapshot-copy")
    assert "no successful run yet" in details["duration"]


def test_replace_says_it_deletes_the_target_and_auto_clones_in_one_region() -> None:
    fakes = healthy(Fakes(config=make_config(pipeline_doc(cutover="replace", source_region="us-west-2"))))
    fakes.rds_in("us-west-2").add_snapshot(NIGHTLY, "prod-aurora", created_at=T0)
    plan = run_plan(fakes)
    details = {f.check: f.detail for f in plan.findings}
    assert details["cutover"].startswith("replace: deletes staging-aurora")
    assert plan.strategy == "clone" and "same region and account" in details["strategy"]


def test_every_blocker_is_listed_at_once() -> None:
    fakes = healthy(swap_fakes())
    fakes.target.clusters["staging-aurora"] = fakes.target.clusters["staging-aurora"].model_copy(update={"tags": {}})
    probe = fakes.probe_in("us-west-2")
    probe.subnet_groups.clear()
    fakes.target.manual_snapshot_max = 0  # full: 0 of 0
    probe.policies["0f1e2d3c"] = json.dumps({"Statement": []})  # no delegation to IAM, no grant
    plan = run_plan(fakes)
    codes = {f.code for f in plan.blockers}
    assert codes == {"TargetNotOwned", "SubnetGroupNotFound", "SnapshotQuotaExceeded", "KmsAccessMissing"}
    assert "refusing to delete or rename" in blocker(plan, "TargetNotOwned").detail
    assert "staging-db-subnets not found" in blocker(plan, "SubnetGroupNotFound").detail


def test_a_grant_or_the_key_policy_naming_the_role_gives_key_access() -> None:
    fakes = healthy(swap_fakes())
    probe = fakes.probe_in("us-west-2")
    statement = {"Effect": "Allow", "Principal": {"AWS": ROLES["restore-snapshot"]}, "Action": "kms:*"}
    probe.policies["0f1e2d3c"] = json.dumps({"Statement": [statement]})
    operations = ["CreateGrant", "DescribeKey", "Encrypt", "ReEncryptTo"]
    probe.grants["0f1e2d3c"] = [KeyGrantView(grantee=ROLES["copy-snapshot"], operations=operations)]
    assert levels(run_plan(fakes), "kms-access") == ["ok", "ok"]
    probe.grants["0f1e2d3c"] = [KeyGrantView(grantee=ROLES["copy-snapshot"], operations=["Encrypt"])]
    found = blocker(run_plan(fakes), "KmsAccessMissing")
    assert "copy-snapshot" in found.detail and "kms:CreateGrant" in found.detail


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "KmsKeyNotFound"),
        (
            KeyView(
                arn=f"arn:aws:kms:us-west-2:{ACCOUNT}:key/0f1e2d3c",
                key_id="0f1e2d3c",
                enabled=False,
                state="PendingDeletion",
            ),
            "KmsKeyDisabled",
        ),  # fmt: skip
        (
            KeyView(
                arn=f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/0f1e2d3c", key_id="0f1e2d3c", enabled=True, state="Enabled"
            ),
            "KmsKeyWrongRegion",
        ),  # fmt: skip
    ],
)
def test_an_unusable_key_blocks(key: KeyView | None, code: str) -> None:
    fakes = healthy(swap_fakes())
    probe = fakes.probe_in("us-west-2")
    if key is None:
        probe.keys.clear()
    else:
        probe.keys["alias/aurora-restore"] = key
    assert blocker(run_plan(fakes), code)


def test_security_groups_missing_or_in_another_vpc_block() -> None:
    fakes = healthy(Fakes(config=make_config(pipeline_doc(security_group_ids=["sg-1", "sg-2", "sg-3"]))))
    probe = fakes.probe_in("us-west-2")
    probe.security_groups = {"sg-1": probe.VPC, "sg-2": "vpc-other"}
    plan = run_plan(fakes)
    assert "sg-3" in blocker(plan, "SecurityGroupNotFound").detail
    assert "sg-2" in blocker(plan, "SecurityGroupWrongVpc").detail


def test_quotas_clusters_instances_and_copies_in_flight() -> None:
    fakes = healthy(swap_fakes())
    probe = fakes.probe_in("us-west-2")
    probe.quotas["DBClusters"] = SnapshotQuota(used=40, max=40)
    for index in range(5):
        fakes.target.add_snapshot(f"copy-{index}", "other", snapshot_type="manual", status="copying")
    plan = run_plan(fakes)
    assert "DB clusters 40/40" in blocker(plan, "QuotaExceeded").detail
    assert any("5 snapshot copies in flight" in f.detail and f.level == "warning" for f in plan.findings)


def test_a_replace_over_the_cluster_quota_is_warned_not_blocked_it_adds_no_cluster() -> None:
    fakes = healthy(Fakes(config=make_config(pipeline_doc(cutover="replace"))))
    fakes.probe_in("us-west-2").quotas["DBClusters"] = SnapshotQuota(used=50, max=40)
    plan = run_plan(fakes)
    assert not [b for b in plan.blockers if b.code == "QuotaExceeded"]
    assert any("DB clusters 50/40: over the quota; the run adds none" in f.detail for f in plan.findings)
    swap = healthy(swap_fakes())
    swap.probe_in("us-west-2").quotas["DBClusters"] = SnapshotQuota(used=50, max=40)
    assert "DB clusters 50/40" in blocker(run_plan(swap), "QuotaExceeded").detail


def test_what_cannot_be_observed_is_a_warning_never_a_pass_or_a_blocker() -> None:
    fakes = healthy(swap_fakes())
    probe = fakes.probe_in("us-west-2")
    probe.unobservable = {"account_quotas", "key_policy"}
    simulator = FakeSimulator()
    simulator.available = False
    plan = run_plan(fakes, simulator)
    assert plan.blockers == []
    warnings = [f.detail for f in plan.findings if f.level == "warning"]
    assert any("counted; the AWS default quota assumed" in f.detail for f in plan.findings)
    assert any("DB clusters: could not check" in w for w in warnings)
    assert any("could not check: key_policy" in w for w in warnings)
    assert any("could not check: SimulatePrincipalPolicy" in w for w in warnings)
    unknown_roles = run_plan(fakes, roles=None)
    assert [f.level for f in unknown_roles.findings if f.check == "iam"] == ["warning"]


def test_iam_simulation_denied_blocks_and_conditions_warn() -> None:
    fakes = healthy(swap_fakes())
    simulator = FakeSimulator()
    simulator.denied.add((ROLES["delete-rds"], "rds:DeleteDBCluster"))
    simulator.conditional.add("rds:ModifyDBCluster")
    plan = run_plan(fakes, simulator)
    assert "delete-rds" in blocker(plan, "IamDenied").detail
    assert any(f.level == "warning" and "setup-db-users" in f.detail for f in plan.findings)


def test_names_taken_by_someone_else_block_and_our_leftovers_warn() -> None:
    fakes = healthy(swap_fakes())
    fakes.target.add_cluster("staging-aurora-s3f9a1c2b7d", tags={"owner": "dba"})
    fakes.target.add_cluster("staging-aurora-retired-3f9a1c2b7d", tags=owned_tags())
    plan = run_plan(fakes)
    assert "staging-aurora-s3f9a1c2b7d is taken" in blocker(plan, "NameTaken").detail
    assert levels(plan, "names") == ["blocker", "warning"]


def test_the_duration_estimate_is_the_median_of_recent_successful_runs() -> None:
    fakes = healthy(swap_fakes())
    for index, minutes in enumerate((50, 70, 60, 500)):
        status = RunStatus.FAILED if minutes == 500 else RunStatus.SUCCEEDED
        run = make_run(status, run_id=f"r{index}")
        fakes.store.seed(run.model_copy(update={"ended_at": run.created_at + timedelta(minutes=minutes)}))
    plan = run_plan(fakes)
    assert plan.estimate_seconds == 3600
    assert "about 1h00m00s (median of the last 3 successful runs)" in {f.detail for f in plan.findings}


def test_a_blocker_at_opening_fails_the_run_at_once_with_every_reason() -> None:
    fakes = healthy(swap_fakes())
    fakes.target.clusters["staging-aurora"] = fakes.target.clusters["staging-aurora"].model_copy(update={"tags": {}})
    fakes.probe_in("us-west-2").subnet_groups.clear()
    dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", NIGHTLY_ARN), fakes.deps)
    [run] = fakes.store.runs.values()
    assert run.status is RunStatus.FAILED and run.failure is not None
    assert run.failure.code == "TargetNotOwned"
    assert "refusing to delete or rename" in run.failure.message and "staging-db-subnets" in run.failure.message
    assert DetailType.RUN_REQUESTED.value not in fakes.bus.detail_types()
    assert DetailType.RUN_FAILED.value in fakes.bus.detail_types()
    # The notification step tells the operator every reason
    dispatch.handle(Step.SNS_NOTIFICATION, run_failed_event(fakes), fakes.deps)
    [sent] = fakes.notifier.sent
    assert "TargetNotOwned" in sent.message and "staging-db-subnets" in sent.message
    assert fakes.target.deletes() == [] and "copy_snapshot" not in fakes.target.methods()


def test_warnings_at_opening_are_audited_and_the_run_proceeds() -> None:
    fakes = healthy(swap_fakes())
    fakes.probe_in("us-west-2").unobservable = {"account_quotas"}
    dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", NIGHTLY_ARN), fakes.deps)
    [run] = fakes.store.runs.values()
    assert run.status is RunStatus.REQUESTED
    assert DetailType.RUN_REQUESTED.value in fakes.bus.detail_types()
    assert any("preflight warnings" in r.message for r in fakes.store.audit_trail(run.run_id))


def run_failed_event(fakes: Fakes) -> dict[str, object]:
    [detail] = [d for d in fakes.bus.details() if d.get("status") == "FAILED"]
    return {
        "version": "0",
        "id": "evt-failed",
        "detail-type": DetailType.RUN_FAILED.value,
        "source": "aurora-restore",
        "account": ACCOUNT,
        "time": "2026-11-25T03:15:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": detail,
    }


def test_a_transition_reports_how_long_the_run_stayed_in_the_state_it_left() -> None:
    # (the dashboard's per-step durations: StateSeconds by state)
    fakes = healthy(swap_fakes())
    dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", NIGHTLY_ARN), fakes.deps)
    fakes.clock.advance(minutes=3)
    [run] = fakes.store.runs.values()
    StepTurn(fakes.deps, run, Step.COPY_SNAPSHOT, "test").transition(RunStatus.COPYING, "copy started")
    assert fakes.recorder.state_seconds == [("REQUESTED", 180)]
