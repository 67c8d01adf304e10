"""The dispatcher's guards and error policy: `dispatch.handle(step, raw_event, deps)` never raises on bad input,
acts only on the run the event belongs to, in a status the step acts in, and turns errors into retry or failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import dispatch
from shared.errors import PipelineError
from shared.model import Run, RunStatus
from shared.naming import lock_key_for
from shared.outside_run import REJECTED, UNMATCHED
from shared.steps.sns_notification import NOTIFY_ATTEMPTS
from shared.transitions import Step
from tests.unit.fakes import (
    RUN_ID,
    T0,
    Fakes,
    aws_error,
    make_config,
    make_run,
    owned_tags,
    pipeline_doc,
    rds_event,
    run_event,
)

S = RunStatus
LOCK = lock_key_for("us-west-2", "staging-aurora")


def given_run(fakes: Fakes, status: RunStatus = S.COPYING, **overrides: Any) -> Run:
    return fakes.store.seed(make_run(status, now=T0, pipeline=fakes.pipeline, **overrides))


def given_copy_in_progress(fakes: Fakes, run: Run, percent: int = 50) -> None:
    fakes.target.add_snapshot(
        run.copy_snapshot_id,
        "prod-aurora",
        status="copying",
        snapshot_type="manual",
        percent_progress=percent,
        tags=owned_tags(),
    )


# Malformed input --------------------------------------------------------------------------------------------------
MALFORMED: dict[str, Any] = {
    "not-an-object": "RunCheckDue",
    "a-list": [{"source": "aurora-restore"}],
    "unknown-source": {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}},
    "unknown-detail-type": {"source": "aurora-restore", "detail-type": "RunCheckdue", "detail": {}},
    "detail-missing-fields": run_event("RunCheckDue", make_run(), run_version="three"),
    "rds-event-bad-arn": rds_event("RDS-EVENT-0169", "arn:aws:s3:::bucket"),
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_is_rejected_audited_and_counted(raw: Any) -> None:
    fakes = Fakes()
    run = given_run(fakes)
    outcome = dispatch.handle(Step.CHECK_COPY_STATUS, raw, fakes.deps)
    assert outcome.result == "rejected" and outcome.step == "check-copy-status" and outcome.detail
    [line] = fakes.store.audit_trail(REJECTED)
    assert (line.kind, line.code, line.step) == ("rejected", "MalformedEvent", "check-copy-status")
    assert fakes.recorder.total("RejectedEvents") == 1
    assert fakes.store.run() == run and fakes.all_rds_calls() == []


def test_rejection_never_raises_even_when_the_audit_table_is_down() -> None:
    fakes = Fakes()
    fakes.store.failures.add("audit", aws_error("ProvisionedThroughputExceededException", "PutItem"), times=None)
    outcome = dispatch.handle(Step.COPY_SNAPSHOT, {"source": "nowhere"}, fakes.deps)
    assert outcome.result == "rejected"
    assert fakes.recorder.messages("error") == ["could not audit a rejected event"]


# Events that belong to no run ---------------------------------------------------------------------------------------
def test_event_for_an_unknown_run_is_ignored() -> None:
    fakes = Fakes()
    ghost = make_run(run_id="20261124t0310-0000000000")
    outcome = dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", ghost), fakes.deps)
    assert outcome.result == "ignored" and outcome.detail == "run 20261124t0310-0000000000 not found"
    [line] = fakes.store.audit_trail(UNMATCHED)
    assert (line.kind, line.trigger) == ("ignored", "RunCheckDue")


@pytest.mark.parametrize(
    ("arn", "reason"),
    [
        ("arn:aws:rds:us-west-2:123456789012:cluster:unrelated-db", "cluster unrelated-db in us-west-2 is not"),
        ("arn:aws:rds:eu-west-1:123456789012:cluster:staging-aurora", "cluster staging-aurora in eu-west-1 is not"),
        ("arn:aws:rds:us-east-1:123456789012:cluster:prod-aurora", "cluster prod-aurora in us-east-1 is not"),
        ("arn:aws:rds:us-west-2:123456789012:db:unrelated-db-1", "db unrelated-db-1 in us-west-2 is not"),
    ],
)
def test_rds_event_for_a_resource_that_is_not_a_configured_target_is_ignored(arn: str, reason: str) -> None:
    fakes = Fakes()
    run = given_run(fakes, S.REPLACING_TARGET)
    outcome = dispatch.handle(
        Step.RESTORE_SNAPSHOT, rds_event("RDS-EVENT-0171", arn, "RDS DB Cluster Event"), fakes.deps
    )
    assert outcome.result == "ignored" and outcome.detail.startswith(reason)
    assert fakes.store.run() == run
    # only reads: the instance's cluster, or the cluster's ownership tag (a staging or retired cluster's pipeline)
    assert [c.method for c in fakes.all_rds_calls()] in ([], ["find_instance"], ["find_cluster"])


def test_rds_event_for_the_target_without_an_active_run_is_ignored() -> None:
    fakes = Fakes()
    arn = "arn:aws:rds:us-west-2:123456789012:cluster:staging-aurora"
    outcome = dispatch.handle(
        Step.RESTORE_SNAPSHOT, rds_event("RDS-EVENT-0171", arn, "RDS DB Cluster Event"), fakes.deps
    )
    assert outcome.result == "ignored" and outcome.detail == "no active run for target staging-aurora"


def test_rds_event_for_a_deleted_instance_reaches_the_run_of_its_target() -> None:
    # Given the previous target's instance is gone (cannot be described) while delete-rds waits on it
    fakes = Fakes()
    given_run(fakes, S.REPLACING_TARGET)
    fakes.target.add_cluster("staging-aurora", status="deleting", tags=owned_tags())
    arn = "arn:aws:rds:us-west-2:123456789012:db:staging-aurora-1"
    # When RDS-EVENT-0003 arrives; Then the `<target>-<n>` naming leads to the target's run, and delete-rds acts
    outcome = dispatch.handle(Step.DELETE_RDS, rds_event("RDS-EVENT-0003", arn, "RDS DB Instance Event"), fakes.deps)
    assert outcome.result == "advanced" and outcome.run_id == RUN_ID


def test_rds_event_for_a_deleted_instance_reaches_its_own_target_when_target_ids_share_a_prefix() -> None:
    # Given two pipelines whose targets are `staging` and `staging-eu`, and a run on `staging-eu` only
    config = make_config(
        pipeline_doc(name="nightly", target_cluster_id="staging"),
        pipeline_doc(
            name="nightly-eu",
            target_cluster_id="staging-eu",
            database={"master_secret_id": "aurora-restore/eu"},
            masking="not-needed",
        ),
    )
    fakes = Fakes(config=config)
    eu = config.pipelines[1]
    fakes.store.seed(make_run(S.REPLACING_TARGET, now=T0, pipeline=eu))
    arn = "arn:aws:rds:us-west-2:123456789012:db:staging-eu-1"
    # When the deleted instance `staging-eu-1` (named `<target>-<n>`) reports RDS-EVENT-0003
    outcome = dispatch.handle(Step.DELETE_RDS, rds_event("RDS-EVENT-0003", arn, "RDS DB Instance Event"), fakes.deps)
    # Then it reaches the run of `staging-eu`
    assert outcome.run_id == RUN_ID


# Guards on the run --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("step", "event", "status"),
    [
        (Step.COPY_SNAPSHOT, "RunRequested", S.COPYING),
        (Step.DELETE_RDS, "SnapshotCopied", S.RESTORING),
        (Step.SETUP_DB_USERS, "ClusterAvailable", S.FAILED),
        (Step.ARCHIVE_SNAPSHOT, "DatabaseReady", S.SUCCEEDED),
        (Step.SNS_NOTIFICATION, "RunSucceeded", S.ARCHIVING),
    ],
)
def test_run_in_a_status_the_step_does_not_act_in_is_ignored(step: Step, event: str, status: RunStatus) -> None:
    fakes = Fakes()
    run = given_run(fakes, status)
    outcome = dispatch.handle(step, run_event(event, run), fakes.deps)
    assert (outcome.result, outcome.detail) == ("ignored", status.value)
    assert fakes.store.run() == run and fakes.all_rds_calls() == [] and fakes.notifier.sent == []
    [line] = fakes.store.audit_trail(RUN_ID)
    assert line.kind == "ignored" and line.message.startswith(f"run is {status.value}; {step.value} acts on")


@pytest.mark.parametrize("event_version", [2, 4])
def test_stale_check_is_ignored(event_version: int) -> None:
    fakes = Fakes()
    run = given_run(fakes, S.COPYING)  # version 3
    given_copy_in_progress(fakes, run)
    outcome = dispatch.handle(
        Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run, run_version=event_version), fakes.deps
    )
    assert (outcome.result, outcome.detail) == ("ignored", "stale check")
    assert fakes.store.run() == run and fakes.all_rds_calls() == []
    assert fakes.store.audit_trail(RUN_ID)[-1].message == f"stale check (v{event_version}, run is v3)"


def test_current_check_is_acted_on() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.COPYING)
    given_copy_in_progress(fakes, run)
    outcome = dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run), fakes.deps)
    assert outcome.result == "advanced"
    assert fakes.store.run().copy_percent == 50


# Error policy -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["Throttling", "InternalFailure", "InvalidDBClusterSnapshotStateFault"])
def test_transient_error_is_retried_with_backoff(code: str) -> None:
    fakes = Fakes()
    run = given_run(fakes, S.COPYING)
    fakes.target.fail("find_cluster_snapshot", code)
    outcome = dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run), fakes.deps)
    retried = fakes.store.run()
    assert (outcome.result, outcome.detail) == ("error", code)
    assert retried.status is S.COPYING and retried.attempts == 1
    assert retried.last_error is not None and retried.last_error.code == code and retried.last_error.transient
    assert retried.next_check_at == T0 + timedelta(seconds=30)
    assert fakes.store.audit_trail(RUN_ID)[-1].kind == "retry"
    assert fakes.store.lock_holder(LOCK) == RUN_ID


@pytest.mark.parametrize("code", ["AccessDenied", "KMSKeyNotAccessibleFault", "SnapshotQuotaExceeded"])
def test_non_transient_error_fails_the_run(code: str) -> None:
    fakes = Fakes()
    run = given_run(fakes, S.COPYING)
    fakes.target.fail("find_cluster_snapshot", code)
    outcome = dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run), fakes.deps)
    failed = fakes.store.run()
    assert (outcome.result, outcome.detail) == ("error", code)
    assert failed.status is S.FAILED and failed.failure is not None and failed.failure.code == code
    assert failed.failure.step == "check-copy-status" and failed.failure.status is S.COPYING
    assert fakes.bus.detail_types() == ["RunFailed"]
    assert fakes.store.lock_holder(LOCK) is None


def test_unexpected_exception_becomes_a_transient_internal_error() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.COPYING)
    fakes.target.fail_with("find_cluster_snapshot", KeyError("PercentProgress"))
    outcome = dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run), fakes.deps)
    retried = fakes.store.run()
    assert (outcome.result, outcome.detail) == ("error", "InternalError")
    assert retried.status is S.COPYING and retried.attempts == 1 and retried.last_error is not None
    assert (retried.last_error.code, retried.last_error.transient) == ("InternalError", True)
    assert retried.last_error.message == "unexpected KeyError in check-copy-status"
    assert fakes.recorder.messages("exception") == ["unexpected error"]


def test_unexpected_exceptions_exhaust_the_retry_budget() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.COPYING, attempts=4)
    fakes.target.fail_with("find_cluster_snapshot", RuntimeError("bug"))
    dispatch.handle(Step.CHECK_COPY_STATUS, run_event("RunCheckDue", run), fakes.deps)
    failed = fakes.store.run()
    assert failed.status is S.FAILED and failed.failure is not None
    assert failed.failure.message == "gave up after 5 attempts: unexpected RuntimeError in check-copy-status"


def test_transient_error_outside_a_run_is_raised_for_lambda_to_retry() -> None:
    # snapshot-check has no run yet: a throttled describe must come back (Lambda retries, then the DLQ)
    fakes = Fakes()
    fakes.source.fail("find_cluster_snapshot", "Throttling")
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-aurora-2026-11-25-03-10"
    with pytest.raises(PipelineError) as raised:
        dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", arn), fakes.deps)
    assert raised.value.code == "Throttling"


def test_permanent_error_outside_a_run_is_rejected() -> None:
    fakes = Fakes()
    fakes.source.fail("find_cluster_snapshot", "AccessDenied")
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-aurora-2026-11-25-03-10"
    outcome = dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", arn), fakes.deps)
    assert outcome.result == "rejected" and outcome.detail.startswith("AccessDenied: missing IAM permission")
    assert fakes.store.runs == {}


def test_the_orchestrator_check_treats_any_payload_as_a_tick() -> None:
    fakes = Fakes()
    outcome = dispatch.handle(Step.ORCHESTRATOR_CHECK, "garbage", fakes.deps)
    assert outcome.result == "checked"
    assert fakes.store.audits == []


# The notification step's own retry budget -------------------------------------------------------------------------
def test_notification_is_published_once_per_finished_run() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.SUCCEEDED)
    first = dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunSucceeded", run), fakes.deps)
    notified = fakes.store.run()
    again = dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunSucceeded", notified), fakes.deps)
    assert (first.result, again.result) == ("advanced", "advanced")
    assert len(fakes.notifier.sent) == 1 and fakes.notifier.sent[0].attributes["status"] == "SUCCEEDED"
    assert notified.notified_at == T0 and not notified.pending_notification
    assert fakes.recorder.total("RunsSucceeded") == 1
    assert fakes.store.audit_trail(RUN_ID)[-1].message == "already notified"


@pytest.mark.parametrize(("attempts", "delay"), [(0, 60), (1, 120), (4, 960), (5, 1920), (6, 1920)])
def test_notification_failure_releases_the_claim_and_backs_off(attempts: int, delay: int) -> None:
    fakes = Fakes()
    run = given_run(fakes, S.FAILED, attempts=attempts)
    fakes.notifier.fail("InternalError")
    outcome = dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunFailed", run), fakes.deps)
    retried = fakes.store.run()
    assert (outcome.result, outcome.detail) == ("error", "InternalError")
    assert retried.attempts == attempts + 1 and retried.notify_claimed_at is None
    assert retried.next_check_at == T0 + timedelta(seconds=delay)
    assert retried.pending_notification and not retried.notification_abandoned
    assert fakes.store.audit_trail(RUN_ID)[-1].kind == "retry"


def test_notification_retries_even_a_permanent_error_within_its_budget() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.SUCCEEDED)
    fakes.notifier.fail("AuthorizationError", http_status=403)
    dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunSucceeded", run), fakes.deps)
    retried = fakes.store.run()
    assert retried.status is S.SUCCEEDED and retried.attempts == 1 and retried.pending_notification


def test_notification_is_abandoned_after_its_budget() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.FAILED, attempts=NOTIFY_ATTEMPTS - 1)
    fakes.notifier.fail("InternalError")
    dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunFailed", run), fakes.deps)
    abandoned = fakes.store.run()
    assert abandoned.notification_abandoned and not abandoned.pending_notification
    assert fakes.recorder.total("NotificationsAbandoned") == 1
    line = fakes.store.audit_trail(RUN_ID)[-1]
    assert line.kind == "error" and line.message.startswith(f"notification abandoned after {NOTIFY_ATTEMPTS} attempts")
    assert fakes.store.due_runs(T0 + timedelta(days=1), 10) == [], "the check stops looking at it"


def test_notification_waits_while_another_delivery_holds_a_fresh_claim() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.SUCCEEDED, notify_claimed_at=T0 - timedelta(minutes=1))
    outcome = dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunCheckDue", run), fakes.deps)
    assert outcome.result == "advanced" and fakes.notifier.sent == []
    assert fakes.store.audit_trail(RUN_ID)[-1].message == "another delivery is notifying"


def test_notification_takes_over_an_abandoned_claim() -> None:
    fakes = Fakes()
    run = given_run(fakes, S.SUCCEEDED, notify_claimed_at=T0 - timedelta(minutes=6))
    dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunCheckDue", run), fakes.deps)
    assert len(fakes.notifier.sent) == 1 and fakes.store.run().notified_at == T0
