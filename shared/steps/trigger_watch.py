"""The orchestrator check's trigger watch: what RDS events cannot be trusted to start.

"Amazon RDS emits events on a best effort basis" and they "might be out of sequence or missing"
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/working-with-events.html): if the night's
RDS-EVENT-0169 is lost, no run starts and nobody is told. So on every tick, for every pipeline, the check looks at
the pipeline's watch item (one GetItem) and:

1. opens the trigger that was deferred while the target was busy (shared.steps.opening), once the target's lock is
   free, so a snapshot that arrived during a run is restored when that run has ended;
2. when the awaited night is due (its backup window's end plus the grace period has passed) and no run of the
   pipeline was opened since the night began, starts one from the newest automated snapshot: a run with trigger
   `fallback`, whose opening audit says why. It keys on the snapshot's ARN like the RDS event does, so the fallback
   and a late RDS-EVENT-0169 for one snapshot open one run between them. When that snapshot was restored already
   (no new backup), or there is none, the operator is told instead.

The night comes from the source cluster's PreferredBackupWindow (described once a night) or from the pipeline's
`trigger_watch.expected_start` (shared.expected_trigger). Nights that began before the pipeline was first watched
are not examined, so a deployment never starts a run by itself. Errors are logged and counted (TriggerWatchErrors)
and the watch looks again after RETRY; they never stop the check's re-drives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.base_model import Model
from shared.clock import iso
from shared.config import PipelineConfig
from shared.errors import PipelineError, StaleWatchError
from shared.expected_trigger import Window, night_after, night_from, parse_window
from shared.model import DeferredTrigger, PipelineWatch
from shared.naming import lock_key_for
from shared.steps.context import Deps
from shared.steps.deferral import answer_busy, offer
from shared.steps.opening import Busy, Duplicate, Opened, Opening, open_run, record
from shared.transitions import Step

STEP = Step.ORCHESTRATOR_CHECK.value
RETRY = timedelta(minutes=15)


class WatchSummary(Model):
    pipelines: int = 0
    nights_checked: int = 0
    fallback_runs: int = 0
    deferred_opened: int = 0
    errors: int = 0


def watch_triggers(deps: Deps, watches: dict[str, PipelineWatch] | None = None) -> WatchSummary:
    """Every pipeline's watch, given as read for this tick (`watches`) or read here in one batch."""
    summary = WatchSummary()
    if watches is None:
        try:
            watches = deps.store.get_watches([p.name for p in deps.config.pipelines])
        except PipelineError as exc:  # e.g. the state table throttled: the next tick looks again
            summary.errors += 1
            deps.log.error("trigger watch failed", extra={"code": exc.code})
            deps.metric("TriggerWatchErrors", 1)
            return summary
    for pipeline in deps.config.pipelines:
        summary.pipelines += 1
        try:
            watch_pipeline(deps, pipeline, summary, watches.get(pipeline.name))
        except PipelineError as exc:  # e.g. the state table throttled: the next tick looks again
            summary.errors += 1
            deps.log.error("trigger watch failed", extra={"pipeline": pipeline.name, "code": exc.code})
            deps.metric("TriggerWatchErrors", 1)
    return summary


def watch_pipeline(
    deps: Deps,
    pipeline: PipelineConfig,
    summary: WatchSummary,
    stored: PipelineWatch | None,
    *,
    step: str = STEP,
    night: bool = True,
) -> None:
    """Open the deferred trigger once the target is free; then, with `night`, examine the awaited night."""
    now = deps.clock.now()
    watch = stored or PipelineWatch(pipeline=pipeline.name, watching_since=now, updated_at=now)
    changes: dict[str, Any] = {}
    lock = lock_key_for(pipeline.target_region, pipeline.target_cluster_id)
    if watch.deferred is not None and deps.store.lock_holder(lock) is None:
        changes.update(_open_deferred(deps, pipeline, watch.deferred, summary, step))
    if night and pipeline.trigger_watch.fallback and (watch.night_due is None or now >= watch.night_due):
        changes.update(_night(deps, pipeline, watch.model_copy(update=changes), now, summary))
    if stored is not None and not changes:
        return
    try:
        deps.store.put_watch(
            watch.model_copy(update={**changes, "updated_at": now}), stored.version if stored else None
        )
    except StaleWatchError:
        # A trigger was deferred (or a twin tick wrote) meanwhile: nothing is lost, the next tick looks again.
        deps.log.info("watch changed meanwhile", extra={"pipeline": pipeline.name})


def open_deferred_now(deps: Deps, pipeline: PipelineConfig, step: str) -> bool:
    """The run that held the target has ended and been reported: open a trigger deferred meanwhile now rather
    than at the check's next tick. Best effort (the check's tick does the same if this fails); True if opened."""
    stored = deps.store.get_watch(pipeline.name)
    if stored is None or stored.deferred is None:
        return False
    summary = WatchSummary()
    watch_pipeline(deps, pipeline, summary, stored, step=step, night=False)
    return summary.deferred_opened > 0


def _open_deferred(
    deps: Deps, pipeline: PipelineConfig, deferred: DeferredTrigger, summary: WatchSummary, step: str = STEP
) -> dict[str, Any]:
    """The target is free: open the deferred trigger's run (its id is the one the trigger would have had)."""
    snapshot = deps.rds_for(pipeline.source_region).find_cluster_snapshot(deferred.snapshot_id)
    if snapshot is None or snapshot.arn != deferred.snapshot_arn:
        gone = f"deferred snapshot {deferred.snapshot_id} no longer exists in {pipeline.source_region}"
        record(deps, "refused", gone, trigger=deferred.trigger, pipeline=pipeline.name, code="SnapshotNotUsable",
               notify=True, step=step)  # fmt: skip
        return {"deferred": None}
    opening = Opening(
        deferred.kind,
        deferred.key,
        snapshot.created_at or deferred.snapshot_created_at,
        deferred.trigger,
        why=f"deferred at {iso(deferred.deferred_at)} while run {deferred.blocked_by} held the target",
        step=step,
    )
    result = open_run(deps, pipeline, snapshot, opening)
    if isinstance(result, Busy):  # another trigger took the target first: wait for that run to end
        return {}
    if isinstance(result, Opened):
        summary.deferred_opened += 1
        deps.metric("DeferredRunsOpened", 1)
    return {"deferred": None}


def _night(
    deps: Deps, pipeline: PipelineConfig, watch: PipelineWatch, now: datetime, summary: WatchSummary
) -> dict[str, Any]:
    """Start awaiting a night, or examine the awaited night that is due and await the next one."""
    grace = timedelta(minutes=pipeline.trigger_watch.grace_minutes)
    try:
        window = _window(deps, pipeline)
        if watch.night_start is None:
            night = night_from(window, grace, watch.watching_since)
            return {"night_start": night.start, "night_due": night.due}
        summary.nights_checked += 1
        deferred = _examine(deps, pipeline, watch, window, summary)
    except PipelineError as exc:
        summary.errors += 1
        deps.log.error(
            "trigger watch failed", extra={"pipeline": pipeline.name, "code": exc.code, "reason": exc.message}
        )
        deps.metric("TriggerWatchErrors", 1)
        return {"night_due": now + RETRY}
    following = night_after(window, grace, watch.night_start, now)
    return {"night_start": following.start, "night_due": following.due, **deferred}


def _window(deps: Deps, pipeline: PipelineConfig) -> Window:
    configured = pipeline.trigger_watch.expected_start
    if configured:
        return parse_window(configured)
    cluster = deps.rds_for(pipeline.source_region).find_cluster(pipeline.source_cluster_id)
    if cluster is None or not cluster.preferred_backup_window:
        missing = "not found" if cluster is None else "has no PreferredBackupWindow"
        raise PipelineError(
            "BackupWindowUnknown",
            f"source cluster {pipeline.source_cluster_id} in {pipeline.source_region} {missing}: set "
            "trigger_watch.expected_start for pipeline " + pipeline.name,
        )
    return parse_window(cluster.preferred_backup_window)


def _examine(
    deps: Deps, pipeline: PipelineConfig, watch: PipelineWatch, window: Window, summary: WatchSummary
) -> dict[str, Any]:
    """The night is due: start the fallback run when no run was opened since it began. Returns the deferred
    trigger to keep, when the fallback found the target busy."""
    assert watch.night_start is not None and watch.night_due is not None
    name, began = pipeline.name, watch.night_start
    latest = deps.store.recent_runs(name, 1)
    if latest and latest[0].created_at >= began:
        deps.log.info("night had its run", extra={"pipeline": name, "run_id": latest[0].run_id})
        return {}
    if watch.deferred is not None:
        deps.log.info("night's trigger is deferred", extra={"pipeline": name, "snapshot": watch.deferred.snapshot_id})
        return {}
    trigger = f"fallback: no RDS-EVENT-0169 by {watch.night_due:%Y-%m-%d %H:%M}Z"
    why = (
        f"started by the fallback: no RDS-EVENT-0169 arrived and no run was opened since the night began at "
        f"{iso(began)} (backup window {window}, grace {pipeline.trigger_watch.grace_minutes} min)"
    )
    snapshot = deps.rds_for(pipeline.source_region).newest_automated_snapshot(pipeline.source_cluster_id)
    if snapshot is None:
        none = f"{trigger}, and {pipeline.source_cluster_id} has no available automated snapshot: no run tonight"
        record(deps, "refused", none, trigger=trigger, pipeline=name, code="NoSnapshot", notify=True, step=STEP)
        deps.metric("MissedNights", 1)
        return {}
    opening = Opening("fallback", f"snapshot:{snapshot.arn}", snapshot.created_at or began, trigger, why=why, step=STEP)
    result = open_run(deps, pipeline, snapshot, opening)
    if isinstance(result, Opened):
        summary.fallback_runs += 1
        deps.metric("FallbackRuns", 1)
    elif isinstance(result, Duplicate):
        stale = (
            f"{trigger}, and the newest automated snapshot {snapshot.identifier} was restored already (run "
            f"{result.run_id}): the night's backup may not have run; no run tonight"
        )
        record(deps, "refused", stale, trigger=trigger, pipeline=name, code="NoNewSnapshot", notify=True, step=STEP)
        deps.metric("MissedNights", 1)
    elif isinstance(result, Busy):
        kept: dict[str, Any] = {}

        # Written with the watch's own update: a separate write would make that one stale. If that update loses to
        # a concurrent writer, the deferral goes with it; the writer was a twin tick (same deferral) or an RDS event
        # deferring a snapshot at least as new as this newest automated one.
        def keep(trigger: DeferredTrigger) -> tuple[bool, str]:
            accepted, words = offer(watch.deferred, trigger)
            if accepted:
                kept["deferred"] = trigger
            return accepted, words

        answer_busy(deps, pipeline, snapshot, opening, result, keep)
        return kept
    return {}
