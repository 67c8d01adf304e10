"""snapshot-check's trigger rules: a snapshot named from another account is refused, a run never rolls the target
back, and a snapshot trigger that finds the target busy is deferred (shared.steps.opening)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared import dispatch
from shared.model import PipelineWatch, Run, RunStatus
from shared.naming import lock_key_for
from shared.outside_run import UNMATCHED, pipeline_subject
from shared.transitions import Step
from tests.unit.fakes import ACCOUNT, T0, Fakes, make_config, make_run, pipeline_doc, rds_event, restore_requested

LOCK = lock_key_for("us-west-2", "staging-aurora")
SUBJECT = pipeline_subject("nightly")
FOREIGN = "999999999999"
YESTERDAY = "rds:prod-aurora-2026-11-24-03-10"
TONIGHT = "rds:prod-aurora-2026-11-25-03-10"
LATER = "rds:prod-aurora-2026-11-25-09-10"


def arn(snapshot_id: str, account: str = ACCOUNT, region: str = "us-east-1") -> str:
    return f"arn:aws:rds:{region}:{account}:cluster-snapshot:{snapshot_id}"


def given_nights(fakes: Fakes) -> None:
    source = fakes.source
    source.add_snapshot(YESTERDAY, "prod-aurora", created_at=T0 - timedelta(days=1))
    source.add_snapshot(TONIGHT, "prod-aurora", created_at=T0)
    source.add_snapshot(LATER, "prod-aurora", created_at=T0 + timedelta(hours=6))


def snapshot_check(fakes: Fakes, raw: dict[str, Any]) -> Any:
    return dispatch.handle(Step.SNAPSHOT_CHECK, raw, fakes.deps)


def target_holds(fakes: Fakes, snapshot_id: str, run_id: str = "20261124t0310-aaaaaaaaaa") -> Run:
    """The target holds `snapshot_id`: a SUCCEEDED run of the pipeline restored it."""
    snapshot = fakes.source.snapshots[snapshot_id.lower()]
    run = make_run(
        RunStatus.SUCCEEDED,
        run_id=run_id,
        source_snapshot_id=snapshot_id,
        source_snapshot_arn=snapshot.arn,
        source_snapshot_created_at=snapshot.created_at,
        notified_at=T0,
    )
    return fakes.store.seed(run)


def target_busy_with(fakes: Fakes, snapshot_id: str, run_id: str = "20261125t0200-bbbbbbbbbb") -> Run:
    snapshot = fakes.source.snapshots[snapshot_id.lower()]
    run = make_run(
        RunStatus.COPYING,
        run_id=run_id,
        source_snapshot_id=snapshot_id,
        source_snapshot_arn=snapshot.arn,
        source_snapshot_created_at=snapshot.created_at,
    )
    return fakes.store.seed(run)


def lines(fakes: Fakes, code: str, subject: str = SUBJECT) -> list[Any]:
    return [r for r in fakes.store.audit_trail(subject) if r.code == code]


def new_runs(fakes: Fakes, *known: Run) -> list[Run]:
    return [r for r in fakes.store.runs.values() if r.run_id not in {k.run_id for k in known}]


# Provenance ---------------------------------------------------------------------------------------------------------
def test_snapshot_event_naming_another_account_is_refused_though_ours_has_that_name() -> None:
    fakes = Fakes()
    given_nights(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT, FOREIGN)))
    assert outcome.result == "none" and fakes.store.runs == {} and fakes.bus.published == []
    [line] = lines(fakes, "ForeignSnapshot")
    assert line.kind == "refused"
    assert f"names account {FOREIGN}, but the source's snapshots are in account {ACCOUNT}" in line.message
    [note] = fakes.notifier.sent
    assert note.attributes["status"] == "REFUSED" and FOREIGN in note.message


def test_snapshot_event_of_a_cluster_no_pipeline_uses_from_another_account_is_refused_unmatched() -> None:
    fakes = Fakes()
    fakes.source.add_snapshot("rds:billing-2026-11-25-03-00", "billing")
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn("rds:billing-2026-11-25-03-00", FOREIGN)))
    [line] = lines(fakes, "ForeignSnapshot", UNMATCHED)
    assert line.kind == "refused" and fakes.notifier.sent == [] and fakes.store.runs == {}


def test_snapshot_event_of_this_account_is_refused_when_the_source_is_configured_in_another() -> None:
    fakes = Fakes(config=make_config(pipeline_doc(source_account_id="210987654321")))
    given_nights(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    assert outcome.result == "none" and fakes.store.runs == {}
    [line] = lines(fakes, "ForeignSnapshot")
    assert "source's snapshots are in account 210987654321" in line.message


def test_snapshot_event_of_the_configured_source_account_opens_a_run() -> None:
    fakes = Fakes(config=make_config(pipeline_doc(source_account_id=ACCOUNT)))
    given_nights(fakes)
    assert snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT))).result == "opened"


def test_pinned_snapshot_arn_of_another_account_is_refused() -> None:
    fakes = Fakes()
    given_nights(fakes)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=arn(TONIGHT, FOREIGN)))
    assert outcome.result == "refused" and fakes.store.runs == {}
    [line] = lines(fakes, "ForeignSnapshot")
    assert arn(TONIGHT, FOREIGN) in line.message and "nothing restored" in line.message
    assert len(fakes.notifier.sent) == 1


def test_pinned_snapshot_by_bare_id_is_looked_up_in_this_account() -> None:
    fakes = Fakes()
    given_nights(fakes)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=TONIGHT))
    assert outcome.result == "opened" and fakes.store.run(outcome.run_id).source_snapshot_arn == arn(TONIGHT)


# Order: never roll the target back ---------------------------------------------------------------------------------
def test_run_records_its_snapshots_creation_time() -> None:
    fakes = Fakes()
    given_nights(fakes)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    assert fakes.store.run(outcome.run_id).source_snapshot_created_at == T0


def test_event_replayed_late_does_not_roll_the_target_back() -> None:
    # Given the target holds tonight's snapshot; When yesterday's event is replayed (a redrive after a fix)
    fakes = Fakes()
    given_nights(fakes)
    held = target_holds(fakes, TONIGHT)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(YESTERDAY)))
    # Then it is refused quietly: the audit says why, no run, no notification
    assert outcome.result == "none" and new_runs(fakes, held) == [] and fakes.notifier.sent == []
    [line] = lines(fakes, "OlderThanTarget")
    assert (
        line.kind == "refused" and f"{YESTERDAY} (created 2026-11-24T03:10:00Z) is older than {TONIGHT}" in line.message
    )
    assert f"which the target holds since run {held.run_id}" in line.message


def test_the_target_is_the_newest_succeeded_run_not_a_failed_or_active_one() -> None:
    # Given a later run FAILED (the target may no longer hold its snapshot); the last SUCCEEDED held yesterday's
    fakes = Fakes()
    given_nights(fakes)
    held = target_holds(fakes, YESTERDAY)
    failed = fakes.store.seed(
        make_run(
            RunStatus.FAILED,
            run_id="20261125t0900-cccccccccc",
            created_at=T0 + timedelta(hours=1),
            source_snapshot_id=LATER,
            source_snapshot_arn=arn(LATER),
            source_snapshot_created_at=T0 + timedelta(hours=6),
        )
    )
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    assert outcome.result == "opened" and [r.source_snapshot_id for r in new_runs(fakes, held, failed)] == [TONIGHT]


def test_a_rerun_of_the_snapshot_the_target_holds_is_allowed() -> None:
    fakes = Fakes()
    given_nights(fakes)
    fakes.source.snapshots.pop(LATER.lower())
    target_holds(fakes, TONIGHT)
    assert snapshot_check(fakes, restore_requested()).result == "opened"


def test_operator_request_for_an_older_snapshot_is_refused_and_told() -> None:
    fakes = Fakes()
    given_nights(fakes)
    target_holds(fakes, TONIGHT)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=YESTERDAY))
    assert outcome.result == "refused"
    [line] = lines(fakes, "OlderThanTarget")
    assert "allow_older: true" in line.message
    [note] = fakes.notifier.sent
    assert "is older than" in note.message


def test_operator_may_roll_the_target_back_to_a_pinned_snapshot_with_allow_older() -> None:
    fakes = Fakes()
    given_nights(fakes)
    held = target_holds(fakes, TONIGHT)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=YESTERDAY, allow_older=True))
    assert outcome.result == "opened"
    [run] = new_runs(fakes, held)
    assert run.source_snapshot_id == YESTERDAY
    [opened] = fakes.store.audit_trail(run.run_id)
    assert opened.message.endswith(f"allow_older: the operator may roll the target back to {YESTERDAY}")


def test_allow_older_without_a_pinned_snapshot_is_rejected_as_malformed() -> None:
    fakes = Fakes()
    given_nights(fakes)
    outcome = snapshot_check(fakes, restore_requested(allow_older=True))
    assert outcome.result == "rejected" and "allow_older needs snapshot_identifier" in (outcome.detail or "")
    assert fakes.store.runs == {}


# A busy target ------------------------------------------------------------------------------------------------------
def test_newer_snapshot_while_the_target_is_busy_is_refused_now_and_deferred() -> None:
    # Given yesterday's snapshot is being restored; When tonight's RDS-EVENT-0169 arrives
    fakes = Fakes()
    given_nights(fakes)
    busy = target_busy_with(fakes, YESTERDAY)
    outcome = snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    # Then no run now; the watch keeps tonight's snapshot for when the active run ends, and the operator is told
    assert outcome.result == "none" and list(fakes.store.runs) == [busy.run_id]
    deferred = fakes.store.watches["nightly"].deferred
    assert deferred is not None
    assert (deferred.kind, deferred.snapshot_id, deferred.blocked_by) == ("rds-event", TONIGHT, busy.run_id)
    assert (deferred.key, deferred.snapshot_created_at) == (f"snapshot:{arn(TONIGHT)}", T0)
    [line] = lines(fakes, "TargetBusy")
    assert f"deferred: snapshot {TONIGHT}" in line.message and f"once run {busy.run_id} has ended" in line.message
    [note] = fakes.notifier.sent
    assert note.attributes["status"] == "DEFERRED" and "it starts once the active run has ended" in note.message
    assert fakes.recorder.total("DeferredTriggers") == 1


def test_snapshot_the_active_run_already_restores_is_refused_not_deferred() -> None:
    fakes = Fakes()
    given_nights(fakes)
    target_busy_with(fakes, TONIGHT)
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(YESTERDAY)))
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT), date="2026-11-25T03:15:00.000Z"))
    assert "nightly" not in fakes.store.watches
    busy = lines(fakes, "TargetBusy")
    assert len(busy) == 2 and all("it restores a snapshot at least as new" in r.message for r in busy)


def test_the_newest_deferred_snapshot_wins() -> None:
    fakes = Fakes()
    given_nights(fakes)
    target_busy_with(fakes, YESTERDAY)
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(LATER)))
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))  # older than the one waiting
    deferred = fakes.store.watches["nightly"].deferred
    assert deferred is not None and deferred.snapshot_id == LATER
    assert f"not deferred: {LATER}, as new or newer, already waits" in lines(fakes, "TargetBusy")[-1].message


def test_a_newer_snapshot_replaces_the_deferred_one() -> None:
    fakes = Fakes()
    given_nights(fakes)
    target_busy_with(fakes, YESTERDAY)
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(LATER)))
    watch = fakes.store.watches["nightly"]
    assert watch.deferred is not None and watch.deferred.snapshot_id == LATER and watch.version == 1
    assert f"replacing {TONIGHT}" in lines(fakes, "TargetBusy")[-1].message


def test_operator_request_while_the_target_is_busy_is_refused_never_queued() -> None:
    fakes = Fakes()
    given_nights(fakes)
    target_busy_with(fakes, YESTERDAY)
    outcome = snapshot_check(fakes, restore_requested(snapshot_identifier=LATER))
    assert outcome.result == "refused" and "nightly" not in fakes.store.watches
    [line] = lines(fakes, "TargetBusy")
    assert line.message.endswith("only one run per target cluster at a time")


def test_deferral_survives_a_concurrent_write_of_the_watch() -> None:
    # Given the check writes the watch between this delivery's read and its write
    fakes = Fakes()
    given_nights(fakes)
    target_busy_with(fakes, YESTERDAY)
    now = fakes.clock.now()
    fakes.store.put_watch(PipelineWatch(pipeline="nightly", watching_since=now, updated_at=now), None)
    real_get = fakes.store.get_watch
    calls: list[int] = []

    def get_then_race(pipeline: str) -> Any:
        watch = real_get(pipeline)
        if not calls:
            assert watch is not None
            fakes.store.put_watch(watch.model_copy(update={"night_due": now}), watch.version)
        calls.append(1)
        return watch

    fakes.store.get_watch = get_then_race  # type: ignore[method-assign]
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    # Then the deferral is written on top of the other writer's change, nothing lost
    watch = real_get("nightly")
    assert watch is not None and len(calls) == 2
    assert watch.night_due == now and watch.deferred is not None and watch.deferred.snapshot_id == TONIGHT


@pytest.mark.parametrize("holder_known", [True, False])
def test_deferral_when_the_holders_snapshot_time_is_unknown_is_safe(holder_known: bool) -> None:
    """A holder without a recorded snapshot time (a run from before it was recorded) cannot be compared: the trigger
    is deferred, and the opening compares it with the target once the holder has ended."""
    fakes = Fakes()
    given_nights(fakes)
    holder = make_run(RunStatus.COPYING, run_id="20261125t0200-bbbbbbbbbb", source_snapshot_created_at=None)
    fakes.store.seed(holder, LOCK if holder_known else None)
    if not holder_known:
        fakes.store.locks[LOCK] = "20261125t0200-gone000000"
    snapshot_check(fakes, rds_event("RDS-EVENT-0169", arn(TONIGHT)))
    deferred = fakes.store.watches["nightly"].deferred
    assert deferred is not None and deferred.snapshot_id == TONIGHT
