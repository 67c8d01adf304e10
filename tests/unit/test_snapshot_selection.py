"""snapshot-check: which snapshot a run restores, and when a run is (not) opened."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import dispatch
from shared.model import AuditRecord, Run, RunStatus
from shared.naming import TAG_RUN, copy_snapshot_id, lock_key_for
from shared.outside_run import UNMATCHED, pipeline_subject
from shared.transitions import Step
from tests.unit.fakes import (
    ACCOUNT,
    T0,
    Fakes,
    make_config,
    make_run,
    owned_tags,
    pipeline_doc,
    rds_event,
    restore_requested,
)

LOCK = lock_key_for("us-west-2", "staging-aurora")
NIGHTLY = "rds:prod-aurora-2026-11-25-03-10"
NIGHTLY_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:{NIGHTLY}"
SUBJECT = pipeline_subject("nightly")
MANUAL = "prod-aurora-before-release"
MANUAL_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:{MANUAL}"


def given_source(fakes: Fakes) -> None:
    """Production's snapshots: last night's and tonight's automated ones, a newer one still being taken, a manual
    one taken before a release, and a snapshot of another cluster."""
    source = fakes.source
    source.add_snapshot("rds:prod-aurora-2026-11-24-03-10", "prod-aurora", created_at=T0 - timedelta(days=1))
    source.add_snapshot(NIGHTLY, "prod-aurora", created_at=T0)
    source.add_snapshot("rds:prod-aurora-2026-11-25-09-00", "prod-aurora", status="creating", created_at=None)
    source.add_snapshot(MANUAL, "prod-aurora", snapshot_type="manual", created_at=T0 + timedelta(hours=1))
    source.add_snapshot("rds:billing-2026-11-25-03-00", "billing", created_at=T0 + timedelta(hours=2))


def snapshot_check(fakes: Fakes, raw: dict[str, Any]) -> Any:
    return dispatch.handle(Step.SNAPSHOT_CHECK, raw, fakes.deps)


def the_run(fakes: Fakes) -> Run:
    [run] = fakes.store.runs.values()
    return run


def refusal(fakes: Fakes) -> AuditRecord:
    [line] = [r for r in fakes.store.audit_trail(SUBJECT) if r.kind in ("refused", "rejected")]
    return line


def assert_refused(fakes: Fakes, outcome: Any, message: str, code: str = "SnapshotNotUsable") -> None:
    """Refused: audited under the pipeline with its code, the operator notified, no run, no lock, no event."""
    assert outcome.result == "refused" and outcome.run_id is None
    line = refusal(fakes)
    assert (line.kind, line.code) == ("refused", code) and message in line.message
    [note] = fakes.notifier.sent
    assert note.attributes == {"pipeline": "nightly", "status": "REFUSED"} and message in note.message
    assert fakes.store.runs == {} and fakes.store.locks == {} and fakes.bus.published == []


# Opening a run ------------------------------------------------------------------------------------------------------
def test_automated_snapshot_event_opens_a_run_and_locks_the_target() -> None:
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN))
    run = the_run(fakes)
    assert outcome.result == "opened" and outcome.run_id == run.run_id
    assert (run.status, run.version, run.trigger) == (RunStatus.REQUESTED, 0, "rds-event")
    assert (run.source_snapshot_id, run.source_snapshot_arn) == (NIGHTLY, NIGHTLY_ARN)
    assert (run.target_region, run.target_cluster_id) == ("us-west-2", "staging-aurora")
    assert run.copy_snapshot_id == copy_snapshot_id("nightly", run.run_id)
    assert run.run_id.startswith("20261125t0310-"), "named after the snapshot's time"
    requested = make_config().pipelines[0].policy(RunStatus.REQUESTED)  # 4 h: queueing for a copy slot included
    assert run.deadline_at == T0 + timedelta(minutes=requested.deadline_minutes)
    assert run.next_check_at == T0 + timedelta(seconds=requested.min_poll_seconds)
    assert fakes.store.lock_holder(LOCK) == run.run_id
    assert fakes.bus.detail_types() == ["RunRequested"]
    assert fakes.store.kinds(run.run_id) == ["transition"]


def test_restore_request_without_a_pin_takes_the_newest_available_automated_snapshot() -> None:
    # Given a newer manual snapshot, a newer automated one still `creating`, and a newer one of another cluster
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, restore_requested(correlation_id="OPS-4712"))
    run = the_run(fakes)
    assert outcome.result == "opened"
    assert run.source_snapshot_id == NIGHTLY
    assert (run.trigger, run.correlation_id) == ("restore-requested", "OPS-4712")
    assert run.trigger_detail == "RestoreRequested rerun-1 by alice"


def test_restore_request_is_refused_when_the_source_has_no_automated_snapshot() -> None:
    fakes = Fakes()
    outcome = snapshot_check(fakes, restore_requested())
    assert_refused(fakes, outcome, "no available automated snapshot of prod-aurora in us-east-1")


@pytest.mark.parametrize(
    "pin",
    ["prod-aurora-before-release", f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:prod-aurora-before-release"],
)
def test_restore_request_restores_the_pinned_snapshot(pin: str) -> None:
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=pin))
    assert outcome.result == "opened" and the_run(fakes).source_snapshot_id == MANUAL


def test_pinned_automated_snapshot_arn_keeps_its_prefix() -> None:
    fakes = Fakes()
    given_source(fakes)
    snapshot_check(fakes, restore_requested(snapshot_identifier=NIGHTLY_ARN))
    assert the_run(fakes).source_snapshot_id == NIGHTLY


REFUSED_PINS = {
    "arn-in-another-region": (
        f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster-snapshot:{NIGHTLY}",
        "is not in the source region us-east-1",
    ),
    "arn-of-a-cluster": (f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:prod-aurora", "is not a DB cluster snapshot ARN"),
    "arn-of-an-instance-snapshot": (
        f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:prod-aurora-1-snap",
        "is not a DB cluster snapshot ARN",
    ),
    "truncated-arn": ("arn:aws:rds:us-east-1", "is not a DB cluster snapshot ARN"),
    "unknown-id": ("prod-aurora-never-taken", "'prod-aurora-never-taken' not found in us-east-1"),
    "another-clusters-snapshot": (
        "rds:billing-2026-11-25-03-00",
        "belongs to cluster billing, not to the pipeline's source prod-aurora",
    ),
    "not-available": ("rds:prod-aurora-2026-11-25-09-00", "is 'creating', not 'available'"),
}


@pytest.mark.parametrize(("pin", "message"), REFUSED_PINS.values(), ids=REFUSED_PINS.keys())
def test_restore_request_pinning_an_unusable_snapshot_is_refused(pin: str, message: str) -> None:
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=pin))
    assert_refused(fakes, outcome, message)


def test_snapshot_of_another_engine_is_refused() -> None:
    fakes = Fakes()
    fakes.source.add_snapshot(NIGHTLY, "prod-aurora", engine="aurora-postgresql")
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN))
    assert outcome.result == "none"
    line = refusal(fakes)
    assert line.code == "SnapshotNotUsable"
    assert line.message == f"snapshot {NIGHTLY} is aurora-postgresql, the pipeline restores aurora-mysql"
    assert len(fakes.notifier.sent) == 1 and fakes.store.runs == {}


def test_restore_request_for_an_unknown_pipeline_is_rejected() -> None:
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, restore_requested(pipeline="weekly"))
    assert outcome.result == "refused" and fakes.store.runs == {}
    [line] = fakes.store.audit_trail(pipeline_subject("weekly"))
    assert (line.kind, line.code) == ("rejected", "UnknownPipeline")
    assert "configured pipelines: ['nightly']" in line.message
    assert fakes.all_rds_calls() == []


# Duplicates and a busy target ---------------------------------------------------------------------------------------
def test_duplicate_trigger_is_ignored() -> None:
    # Given the run of tonight's snapshot is open; When RDS delivers the same event again
    fakes = Fakes()
    given_source(fakes)
    first = snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN))
    fakes.bus.published.clear()
    again = snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN, date="2026-11-25T03:14:09.000Z"))
    # Then no second run, no refusal, no notification: the trail says "duplicate"
    assert (first.result, again.result) == ("opened", "none")
    assert len(fakes.store.runs) == 1 and fakes.bus.published == [] and fakes.notifier.sent == []
    [line] = fakes.store.audit_trail(SUBJECT)
    assert line.kind == "ignored" and line.message == f"duplicate trigger: run {first.run_id} already exists"


def test_duplicate_restore_request_is_ignored() -> None:
    fakes = Fakes()
    given_source(fakes)
    first = snapshot_check(fakes, restore_requested())
    again = snapshot_check(fakes, restore_requested())
    assert (first.result, again.result) == ("opened", "refused")
    assert len(fakes.store.runs) == 1 and fakes.notifier.sent == []
    assert [r.kind for r in fakes.store.audit_trail(SUBJECT)] == ["ignored"]


def test_trigger_while_the_target_is_busy_is_refused_and_the_operator_notified() -> None:
    # Given last night's run still holds the target
    fakes = Fakes()
    given_source(fakes)
    busy = fakes.store.seed(make_run(RunStatus.RESTORING, run_id="20261124t0310-aaaaaaaaaa"))
    # When tonight's snapshot arrives
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN))
    # Then no run is opened and the refusal names the holder
    assert outcome.result == "none"
    assert list(fakes.store.runs) == [busy.run_id] and fakes.store.lock_holder(LOCK) == busy.run_id
    line = refusal(fakes)
    assert line.code == "TargetBusy" and busy.run_id in line.message
    assert len(fakes.notifier.sent) == 1 and fakes.bus.published == []


def test_target_is_free_again_once_the_previous_run_ended() -> None:
    fakes = Fakes()
    given_source(fakes)
    fakes.store.seed(make_run(RunStatus.SUCCEEDED, run_id="20261124t0310-aaaaaaaaaa"))
    assert snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN)).result == "opened"


def test_refusal_survives_a_failing_notification() -> None:
    fakes = Fakes()
    fakes.notifier.fail("InternalError")
    outcome = snapshot_check(fakes, restore_requested())
    assert outcome.result == "refused" and refusal(fakes).code == "SnapshotNotUsable"
    assert fakes.recorder.messages("error") == ["refusal notification failed"]


# Which RDS events open a run ----------------------------------------------------------------------------------------


def test_manual_snapshot_does_not_trigger_a_pipeline_that_did_not_opt_in() -> None:
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0075", MANUAL_ARN))
    assert outcome.result == "none" and fakes.store.runs == {}
    [line] = fakes.store.audit_trail(SUBJECT)
    assert (line.kind, line.message) == ("ignored", "manual snapshots do not trigger this pipeline")
    assert fakes.notifier.sent == []


def test_manual_snapshot_triggers_a_pipeline_that_opted_in() -> None:
    fakes = Fakes(config=make_config(pipeline_doc(trigger_on_manual_snapshots=True)))
    given_source(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0075", MANUAL_ARN))
    assert outcome.result == "opened" and the_run(fakes).source_snapshot_id == MANUAL


def test_copy_made_by_aurora_restore_never_opens_a_run() -> None:
    # Given a same-region pipeline that opted into manual snapshots, and one of its own copies of the source
    doc = pipeline_doc(target_region="us-east-1", trigger_on_manual_snapshots=True)
    fakes = Fakes(config=make_config(doc))
    fakes.source.add_snapshot(
        "ar-nightly-20261124t0310-aaaaaaaaaa",
        "prod-aurora",
        snapshot_type="manual",
        tags=owned_tags(**{TAG_RUN: "20261124t0310-aaaaaaaaaa"}),
    )
    arn = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:ar-nightly-20261124t0310-aaaaaaaaaa"
    # When its RDS-EVENT-0075 arrives; Then it is ignored (else every copy would trigger the next run)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0075", arn))
    assert outcome.result == "none" and fakes.store.runs == {}
    [line] = fakes.store.audit_trail(UNMATCHED)
    assert line.message.endswith("is a copy made by aurora-restore")


IGNORED_EVENTS = {
    "not-a-cluster-snapshot": (
        f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:prod-aurora",
        "not a cluster snapshot event",
    ),
    "snapshot-gone": (
        f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:rds:prod-aurora-2026-11-20-03-10",
        "no longer exists in us-east-1",
    ),
    "not-a-source": (
        f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:rds:billing-2026-11-25-03-00",
        "cluster billing in us-east-1 is not a source",
    ),
}


@pytest.mark.parametrize(("arn", "message"), IGNORED_EVENTS.values(), ids=IGNORED_EVENTS.keys())
def test_snapshot_event_that_concerns_no_pipeline_is_ignored(arn: str, message: str) -> None:
    fakes = Fakes()
    given_source(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn))
    assert outcome.result == "none" and fakes.store.runs == {} and fakes.notifier.sent == []
    [line] = fakes.store.audit_trail(UNMATCHED)
    assert line.kind == "ignored" and message in line.message


def test_one_snapshot_opens_a_run_for_every_pipeline_of_its_source() -> None:
    second = pipeline_doc(
        name="qa",
        target_cluster_id="qa-aurora",
        database={"master_secret_id": "aurora-restore/qa"},
        masking="not-needed",
    )
    fakes = Fakes(config=make_config(pipeline_doc(), second))
    given_source(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", NIGHTLY_ARN))
    assert outcome.result == "opened"
    assert sorted(r.pipeline for r in fakes.store.runs.values()) == ["nightly", "qa"]
    assert sorted(fakes.store.locks) == [lock_key_for("us-west-2", "qa-aurora"), LOCK]
