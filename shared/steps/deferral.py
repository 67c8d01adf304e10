"""A snapshot trigger that finds the target busy is not lost.

The trigger is refused for now (audited, the operator told); when its snapshot is newer than the one the active
run restores, it is also kept on the pipeline's watch item (the newest one wins), and the orchestrator check's
trigger watch (shared.steps.trigger_watch) opens its run once the target's lock is free, with the run id the
trigger would have had. An operator's RestoreRequested is refused and never queued: it was asked for now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.clock import iso
from shared.config import PipelineConfig
from shared.errors import PipelineError, StaleWatchError
from shared.model import DeferredTrigger, PipelineWatch, Run
from shared.ports import SnapshotView
from shared.steps.context import Deps
from shared.steps.opening import Busy, Opening, record

DEFER_ATTEMPTS = 3


def newer_than_run(snapshot: SnapshotView, holder: Run | None) -> bool:
    """Whether `snapshot` is newer than the one `holder` restores (unknown counts as newer: deferring is safe, the
    opening re-checks against the target)."""
    if holder is None:
        return True
    if snapshot.arn == holder.source_snapshot_arn:
        return False
    if snapshot.created_at is None or holder.source_snapshot_created_at is None:
        return True
    return snapshot.created_at > holder.source_snapshot_created_at


def refuse_busy(
    deps: Deps, pipeline: PipelineConfig, opening: Opening, busy: Busy, why: str = "", *, deferred: bool = False
) -> None:
    message = (
        f"target {pipeline.target_cluster_id} already has an active run {busy.holder_run_id}; "
        "only one run per target cluster at a time" + (f" ({why})" if why else "")
    )
    record(
        deps,
        "refused",
        message,
        trigger=opening.trigger,
        pipeline=pipeline.name,
        code="TargetBusy",
        notify=True,
        step=opening.step,
        deferred=deferred,
    )


# Keeps a deferred trigger: whether it is now the one waiting, and what became of it in words (for the refusal).
Keep = Callable[[DeferredTrigger], tuple[bool, str]]


def answer_busy(
    deps: Deps,
    pipeline: PipelineConfig,
    snapshot: SnapshotView,
    opening: Opening,
    busy: Busy,
    keep: Keep | None = None,
) -> None:
    """The target is busy: the trigger is refused (audited, the operator told); a snapshot trigger newer than what
    the active run restores is also deferred, and restored once the target is free. `keep` records the deferral
    (default: a conditional write of the pipeline's watch item; the check, which writes the item itself, passes
    its own)."""
    holder = deps.store.get_run(busy.holder_run_id) if busy.holder_run_id else None
    if not opening.deferrable:
        refuse_busy(deps, pipeline, opening, busy)
    elif not newer_than_run(snapshot, holder):
        refuse_busy(deps, pipeline, opening, busy, "it restores a snapshot at least as new")
    else:
        trigger = deferred_trigger(snapshot, opening, busy, deps.clock.now())
        deferred, why = keep(trigger) if keep else defer(deps, pipeline, trigger)
        if deferred:
            deps.metric("DeferredTriggers", 1)
        refuse_busy(deps, pipeline, opening, busy, why, deferred=deferred)


def deferred_trigger(snapshot: SnapshotView, opening: Opening, busy: Busy, now: datetime) -> DeferredTrigger:
    assert opening.kind != "restore-requested"
    return DeferredTrigger(
        kind=opening.kind,
        key=opening.key,
        trigger=opening.trigger,
        snapshot_id=snapshot.identifier,
        snapshot_arn=snapshot.arn,
        snapshot_created_at=snapshot.created_at or opening.at,
        blocked_by=busy.holder_run_id,
        deferred_at=now,
    )


def offer(waiting: DeferredTrigger | None, deferred: DeferredTrigger) -> tuple[bool, str]:
    """Whether `deferred` takes the place of the trigger `waiting` (the newest snapshot wins), and in words."""
    if waiting is not None and (
        waiting.snapshot_arn == deferred.snapshot_arn or waiting.snapshot_created_at >= deferred.snapshot_created_at
    ):
        return False, f"not deferred: {waiting.snapshot_id}, as new or newer, already waits for the target"
    replaced = f", replacing {waiting.snapshot_id}" if waiting else ""
    return True, (
        f"deferred: snapshot {deferred.snapshot_id} (created {iso(deferred.snapshot_created_at)}) is restored "
        f"once run {deferred.blocked_by} has ended{replaced}"
    )


def defer(deps: Deps, pipeline: PipelineConfig, deferred: DeferredTrigger) -> tuple[bool, str]:
    """Keep the trigger on the pipeline's watch item (conditional write, retried on a concurrent one)."""
    name = pipeline.name
    for _ in range(DEFER_ATTEMPTS):
        now = deps.clock.now()
        watch = deps.store.get_watch(name)
        accepted, words = offer(watch.deferred if watch else None, deferred)
        if not accepted:
            return accepted, words
        base = watch or PipelineWatch(pipeline=name, watching_since=now, updated_at=now)
        try:
            deps.store.put_watch(
                base.model_copy(update={"deferred": deferred, "updated_at": now}), watch.version if watch else None
            )
        except StaleWatchError:
            continue
        return accepted, words
    raise PipelineError(
        "WatchContention",
        f"could not record the deferred trigger of pipeline {name}: its watch item kept changing",
        transient=True,
    )
