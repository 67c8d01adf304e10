"""The orchestrator check's trigger watch (shared.steps.trigger_watch): the fallback run of a night whose
RDS-EVENT-0169 never came, and the run of a trigger deferred while the target was busy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from shared import dispatch
from shared.model import DeferredTrigger, PipelineWatch, Run, RunStatus
from shared.naming import lock_key_for, run_id_for
from shared.outside_run import pipeline_subject
from shared.steps.trigger_watch import RETRY, open_deferred_now, watch_triggers
from shared.transitions import Step
from tests.unit.fakes import ACCOUNT, T0, Fakes, make_config, make_run, pipeline_doc, rds_event

LOCK = lock_key_for("us-west-2", "staging-aurora")
SUBJECT = pipeline_subject("nightly")
YESTERDAY = "rds:prod-aurora-2026-11-24-03-10"
TONIGHT = "rds:prod-aurora-2026-11-25-03-10"
DAY = T0.replace(hour=0, minute=0)
# The fake source backs up in 03:00-03:30; with the default grace of 120 minutes tonight is due at 05:30.
NIGHT_START, NIGHT_DUE = DAY.replace(hour=3), DAY.replace(hour=5, minute=30)


def arn(snapshot_id: str) -> str:
    return f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:{snapshot_id}"


def watched(config: Any = None, *, since: datetime = DAY, snapshots: tuple[str, ...] = (YESTERDAY, TONIGHT)) -> Fakes:
    """The source cluster and its snapshots; the check has watched the pipeline since `since` (its first tick)."""
    fakes = Fakes(config=config) if config is not None else Fakes()
    fakes.source.add_cluster("prod-aurora", deletion_protection=True)
    created = {YESTERDAY: T0 - timedelta(days=1), TONIGHT: T0}
    for snapshot_id in snapshots:
        fakes.source.add_snapshot(snapshot_id, "prod-aurora", created_at=created[snapshot_id])
    fakes.clock.set(since)
    watch_triggers(fakes.deps)
    return fakes


def tick_at(fakes: Fakes, moment: datetime) -> Any:
    fakes.clock.set(moment)
    return watch_triggers(fakes.deps)


def watch(fakes: Fakes) -> PipelineWatch:
    return fakes.store.watches["nightly"]


def lines(fakes: Fakes, code: str) -> list[Any]:
    return [r for r in fakes.store.audit_trail(SUBJECT) if r.code == code]


def run_of(fakes: Fakes, snapshot_id: str) -> Run:
    [run] = [r for r in fakes.store.runs.values() if r.source_snapshot_id == snapshot_id]
    return run


# Awaiting a night ---------------------------------------------------------------------------------------------------
def test_first_tick_awaits_tonight_from_the_source_clusters_backup_window() -> None:
    fakes = watched()
    assert (watch(fakes).night_start, watch(fakes).night_due) == (NIGHT_START, NIGHT_DUE)
    assert watch(fakes).watching_since == DAY and watch(fakes).version == 0
    assert fakes.store.runs == {} and fakes.store.audits == [] and fakes.notifier.sent == []
    assert fakes.source.methods().count("find_cluster") == 1


def test_nothing_is_asked_of_rds_before_the_night_is_due() -> None:
    fakes = watched()
    calls = len(fakes.source.calls)
    for minutes in range(1, 60 * 5 + 30, 7):
        tick_at(fakes, DAY + timedelta(minutes=minutes))
    assert len(fakes.source.calls) == calls and watch(fakes).version == 0


def test_configured_expected_start_is_used_without_describing_the_source() -> None:
    doc = pipeline_doc(trigger_watch={"expected_start": "01:00", "grace_minutes": 30})
    fakes = watched(make_config(doc))
    assert (watch(fakes).night_start, watch(fakes).night_due) == (DAY.replace(hour=1), DAY.replace(hour=1, minute=30))
    assert "find_cluster" not in fakes.source.methods()


def test_a_night_that_began_before_the_first_tick_is_not_examined() -> None:
    """Deploying at 04:00 (after tonight's window began) starts no run: the first night awaited is tomorrow's."""
    fakes = watched(since=DAY.replace(hour=4))
    assert watch(fakes).night_start == NIGHT_START + timedelta(days=1)
    tick_at(fakes, NIGHT_DUE + timedelta(minutes=1))
    assert fakes.store.runs == {}


# The fallback -------------------------------------------------------------------------------------------------------
def test_night_without_trigger_gets_a_fallback_run_from_the_newest_snapshot() -> None:
    fakes = watched()
    summary = tick_at(fakes, NIGHT_DUE)
    run = run_of(fakes, TONIGHT)
    assert summary.fallback_runs == 1 and fakes.recorder.total("FallbackRuns") == 1
    assert (run.status, run.trigger) == (RunStatus.REQUESTED, "fallback")
    assert run.trigger_detail == "fallback: no RDS-EVENT-0169 by 2026-11-25 05:30Z"
    assert run.run_id == run_id_for("nightly", f"snapshot:{arn(TONIGHT)}", T0), "the id the RDS event would give"
    [opened] = fakes.store.audit_trail(run.run_id)
    assert (opened.kind, opened.step) == ("transition", "orchestrator-check")
    assert opened.message == (
        f"run opened for snapshot {TONIGHT} -> staging-aurora; started by the fallback: no RDS-EVENT-0169 arrived "
        "and no run was opened since the night began at 2026-11-25T03:00:00Z (backup window 03:00-03:30 UTC, "
        "grace 120 min)"
    )
    assert fakes.bus.detail_types() == ["RunRequested"] and fakes.store.lock_holder(LOCK) == run.run_id
    assert (watch(fakes).night_start, watch(fakes).night_due) == (
        NIGHT_START + timedelta(days=1),
        NIGHT_DUE + timedelta(days=1),
    )


def test_a_late_trigger_after_the_fallback_is_a_duplicate() -> None:
    fakes = watched()
    tick_at(fakes, NIGHT_DUE)
    outcome = dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", arn(TONIGHT)), fakes.deps)
    assert outcome.result == "none" and len(fakes.store.runs) == 1
    assert fakes.store.audit_trail(SUBJECT)[-1].message.startswith("duplicate trigger: run ")


def test_night_whose_trigger_came_needs_no_fallback() -> None:
    fakes = watched()
    fakes.clock.set(T0 + timedelta(minutes=1))
    dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", arn(TONIGHT)), fakes.deps)
    tick_at(fakes, NIGHT_DUE)
    assert len(fakes.store.runs) == 1 and run_of(fakes, TONIGHT).trigger == "rds-event"
    assert fakes.store.audit_trail(SUBJECT) == [] and fakes.notifier.sent == []
    assert watch(fakes).night_start == NIGHT_START + timedelta(days=1)
    assert "newest_automated_snapshot" not in fakes.source.methods()


def test_a_run_opened_before_the_night_began_does_not_count_for_it() -> None:
    # Given yesterday's snapshot was restored at 02:00 (before tonight's window) and tonight's event was lost
    fakes = watched()
    fakes.clock.set(DAY.replace(hour=2))
    dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", arn(YESTERDAY)), fakes.deps)
    earlier = run_of(fakes, YESTERDAY)
    fakes.store.write(
        earlier.model_copy(update={"status": RunStatus.SUCCEEDED, "ended_at": T0}),
        (earlier.status, earlier.version),
        None,
        release_lock=LOCK,
    )
    # When the night is due; Then tonight's snapshot is restored by the fallback
    tick_at(fakes, NIGHT_DUE)
    assert run_of(fakes, TONIGHT).trigger == "fallback"


def test_no_new_snapshot_since_the_last_run_is_told_not_restored_again() -> None:
    # Given yesterday's snapshot was restored yesterday, and tonight's backup never happened
    fakes = watched(snapshots=(YESTERDAY,))
    fakes.clock.set(T0 - timedelta(days=1))
    dispatch.handle(Step.SNAPSHOT_CHECK, rds_event("RDS-EVENT-0169", arn(YESTERDAY)), fakes.deps)
    yesterday = run_of(fakes, YESTERDAY)
    # When tonight is due
    tick_at(fakes, NIGHT_DUE)
    # Then no second run of the same snapshot: the operator hears that the backup may not have run
    assert list(fakes.store.runs) == [yesterday.run_id]
    [line] = lines(fakes, "NoNewSnapshot")
    assert line.kind == "refused" and f"was restored already (run {yesterday.run_id})" in line.message
    assert len(fakes.notifier.sent) == 1 and fakes.recorder.total("MissedNights") == 1


def test_no_snapshot_at_all_is_told() -> None:
    fakes = watched(snapshots=())
    tick_at(fakes, NIGHT_DUE)
    assert fakes.store.runs == {}
    [line] = lines(fakes, "NoSnapshot")
    assert "prod-aurora has no available automated snapshot: no run tonight" in line.message
    assert len(fakes.notifier.sent) == 1


def test_fallback_finding_the_target_busy_with_an_older_snapshot_defers_it() -> None:
    fakes = watched()
    busy = fakes.store.seed(
        make_run(RunStatus.RESTORING, run_id="20261124t0310-aaaaaaaaaa", created_at=DAY - timedelta(hours=1),
                 source_snapshot_id=YESTERDAY, source_snapshot_arn=arn(YESTERDAY),
                 source_snapshot_created_at=T0 - timedelta(days=1))
    )  # fmt: skip
    tick_at(fakes, NIGHT_DUE)
    assert list(fakes.store.runs) == [busy.run_id]
    deferred = watch(fakes).deferred
    assert deferred is not None and (deferred.kind, deferred.snapshot_id) == ("fallback", TONIGHT)
    assert watch(fakes).night_start == NIGHT_START + timedelta(days=1), "the night was examined"
    [line] = lines(fakes, "TargetBusy")
    assert line.step == "orchestrator-check" and "deferred" in line.message


def test_fallback_off_starts_no_run() -> None:
    fakes = watched(make_config(pipeline_doc(trigger_watch={"fallback": False})))
    tick_at(fakes, NIGHT_DUE + timedelta(hours=3))
    assert fakes.store.runs == {} and fakes.source.calls == [] and watch(fakes).night_start is None


def test_an_unknown_backup_window_is_logged_and_looked_at_again_later() -> None:
    fakes = Fakes()  # the source cluster cannot be described
    tick_at(fakes, DAY)
    assert watch(fakes).night_start is None and watch(fakes).night_due == DAY + RETRY
    assert fakes.store.audits == [] and fakes.recorder.total("TriggerWatchErrors") == 1
    [line] = [entry for entry in fakes.recorder.logs if entry.level == "error"]
    assert line.extra["code"] == "BackupWindowUnknown"
    tick_at(fakes, DAY + RETRY - timedelta(seconds=1))
    assert fakes.source.methods().count("find_cluster") == 1, "not asked again before the retry time"


def test_an_rds_error_at_the_due_night_retries_the_same_night() -> None:
    fakes = watched()
    fakes.source.fail("newest_automated_snapshot", "ThrottlingException", http_status=400)
    summary = tick_at(fakes, NIGHT_DUE)
    assert summary.errors == 1 and fakes.store.runs == {}
    assert (watch(fakes).night_start, watch(fakes).night_due) == (NIGHT_START, NIGHT_DUE + RETRY)
    tick_at(fakes, NIGHT_DUE + RETRY)
    assert run_of(fakes, TONIGHT).trigger == "fallback"


def test_a_state_store_error_skips_the_pipeline_until_the_next_tick() -> None:
    fakes = watched()
    fakes.store.failures.add("get_watches", fakes.source.fail("find_cluster", "ThrottlingException"))
    fakes.source.failures.clear()
    summary = tick_at(fakes, NIGHT_DUE)
    assert summary.errors == 1 and fakes.store.runs == {}
    assert tick_at(fakes, NIGHT_DUE + timedelta(minutes=1)).fallback_runs == 1


def test_a_concurrent_tick_opens_the_fallback_run_once() -> None:
    # Given two ticks (Scheduler delivers at least once) read the watch at the same version
    fakes = watched()
    fakes.clock.set(NIGHT_DUE)
    stale = fakes.store.get_watches(["nightly"])
    watch_triggers(fakes.deps)
    summary = watch_triggers(fakes.deps, stale)
    # Then one run; the twin's opening is a duplicate and its write is stale (nothing raised)
    assert len(fakes.store.runs) == 1 and summary.fallback_runs == 0
    assert [entry.message for entry in fakes.recorder.logs if entry.message == "watch changed meanwhile"]


# Deferred triggers --------------------------------------------------------------------------------------------------
def deferred_tonight(blocked_by: str = "20261125t0200-bbbbbbbbbb") -> DeferredTrigger:
    return DeferredTrigger(
        kind="rds-event",
        key=f"snapshot:{arn(TONIGHT)}",
        trigger=f"RDS-EVENT-0169 {TONIGHT}",
        snapshot_id=TONIGHT,
        snapshot_arn=arn(TONIGHT),
        snapshot_created_at=T0,
        blocked_by=blocked_by,
        deferred_at=T0 + timedelta(minutes=1),
    )


def with_deferred(fakes: Fakes) -> None:
    current = fakes.store.watches["nightly"]
    fakes.store.put_watch(current.model_copy(update={"deferred": deferred_tonight()}), current.version)


def test_deferred_trigger_is_opened_once_the_target_is_free() -> None:
    fakes = watched()
    with_deferred(fakes)
    summary = tick_at(fakes, T0 + timedelta(hours=1))
    run = run_of(fakes, TONIGHT)
    assert summary.deferred_opened == 1 and fakes.recorder.total("DeferredRunsOpened") == 1
    assert run.run_id == run_id_for("nightly", f"snapshot:{arn(TONIGHT)}", T0), "the id the event would have given"
    assert (run.trigger, run.trigger_detail) == ("rds-event", f"RDS-EVENT-0169 {TONIGHT}")
    [opened] = fakes.store.audit_trail(run.run_id)
    assert opened.message.endswith(
        "deferred at 2026-11-25T03:11:00Z while run 20261125t0200-bbbbbbbbbb held the target"
    )
    assert watch(fakes).deferred is None


def test_the_ended_run_s_notification_opens_the_deferred_trigger_at_once_and_only_once_free() -> None:
    fakes = watched()
    with_deferred(fakes)
    holder = fakes.store.seed(make_run(RunStatus.RESTORING, run_id="20261125t0200-bbbbbbbbbb"))
    assert not open_deferred_now(fakes.deps, fakes.deps.config.pipelines[0], "sns-notification")  # still held
    assert watch(fakes).deferred is not None
    fakes.store.seed(holder.model_copy(update={"status": RunStatus.SUCCEEDED}))
    fakes.store.locks.clear()
    assert open_deferred_now(fakes.deps, fakes.deps.config.pipelines[0], "sns-notification")
    [opened] = fakes.store.audit_trail(run_of(fakes, TONIGHT).run_id)
    assert opened.step == "sns-notification" and watch(fakes).deferred is None
    assert not open_deferred_now(fakes.deps, fakes.deps.config.pipelines[0], "sns-notification")  # nothing left


def test_deferred_trigger_waits_while_the_target_is_held() -> None:
    fakes = watched()
    with_deferred(fakes)
    fakes.store.seed(make_run(RunStatus.RESTORING, run_id="20261125t0200-bbbbbbbbbb"))
    version = watch(fakes).version
    tick_at(fakes, T0 + timedelta(hours=1))
    assert len(fakes.store.runs) == 1 and watch(fakes).deferred is not None and watch(fakes).version == version


def test_deferred_trigger_holds_back_the_fallback() -> None:
    fakes = watched()
    with_deferred(fakes)
    fakes.store.seed(make_run(RunStatus.RESTORING, run_id="20261125t0200-bbbbbbbbbb"))
    tick_at(fakes, NIGHT_DUE)
    assert len(fakes.store.runs) == 1 and fakes.notifier.sent == []
    assert watch(fakes).deferred is not None and watch(fakes).night_start == NIGHT_START + timedelta(days=1)


def test_deferred_snapshot_that_is_gone_is_told_and_forgotten() -> None:
    fakes = watched(snapshots=(YESTERDAY,))
    with_deferred(fakes)
    tick_at(fakes, T0 + timedelta(hours=1))
    assert fakes.store.runs == {} and watch(fakes).deferred is None
    [line] = lines(fakes, "SnapshotNotUsable")
    assert f"deferred snapshot {TONIGHT} no longer exists" in line.message and len(fakes.notifier.sent) == 1


def test_deferred_snapshot_older_than_what_the_target_now_holds_is_refused() -> None:
    fakes = watched()
    with_deferred(fakes)
    fakes.store.seed(
        make_run(RunStatus.SUCCEEDED, run_id="20261125t0900-dddddddddd", source_snapshot_id="rds:prod-aurora-later",
                 source_snapshot_created_at=T0 + timedelta(hours=6), notified_at=T0)
    )  # fmt: skip
    tick_at(fakes, T0 + timedelta(hours=7))
    assert len(fakes.store.runs) == 1 and watch(fakes).deferred is None
    [line] = lines(fakes, "OlderThanTarget")
    assert (line.step, line.trigger) == ("orchestrator-check", f"RDS-EVENT-0169 {TONIGHT}")
    assert fakes.notifier.sent == [], "a deferred RDS event is refused quietly, like its replay"


# Through the dispatcher ---------------------------------------------------------------------------------------------
def test_the_check_reports_the_watch_in_its_outcome() -> None:
    fakes = watched()
    fakes.clock.set(NIGHT_DUE)
    outcome = dispatch.handle(Step.ORCHESTRATOR_CHECK, {}, fakes.deps)
    detail = json.loads(outcome.detail or "{}")
    assert outcome.result == "checked" and (detail["fallback_runs"], detail["deferred_opened"]) == (1, 0)
