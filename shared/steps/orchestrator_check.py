"""orchestrator-check: the safety net. Finds every run due for GRACE or more with one query of the sparse due index
(whatever its status) and re-drives each through its owning step. Steps wake themselves at the exact time they
chose (one-time schedules, shared/wakeups.py) and RDS events wake the steps that wait for them, so the check only
makes up for a lost event or wake-up; it runs every `SafetyNetRate` (15 minutes by default).

It knows no step: for each due run it takes a short lease (so the next tick does not re-emit while the step
works), then emits RunCheckDue carrying the run's state; the template's rules route that to the step owning the
state. Runs past their state's deadline are failed here, so no run stays active beyond its deadline.

Then it runs the trigger watch (shared.steps.trigger_watch): a deferred trigger is opened once its target is free,
and a night whose RDS-EVENT-0169 never came gets its run from the newest automated snapshot. Last, retired targets past
their `keep_previous_hours` are deleted (shared.steps.retired_clusters).
"""

from __future__ import annotations

from datetime import timedelta

from shared.base_model import Model
from shared.errors import PipelineError
from shared.events import OutgoingEvent
from shared.inbound import PipelineTrigger, RdsTrigger, ScheduleTick
from shared.model import PipelineWatch
from shared.outcome import Outcome
from shared.steps.context import Deps
from shared.steps.retired_clusters import sweep_retired
from shared.steps.trigger_watch import watch_triggers
from shared.steps.turn import StepTurn, event_detail
from shared.transitions import DetailType, Step

STEP = Step.ORCHESTRATOR_CHECK.value
LEASE = timedelta(minutes=2)
# A run due less than this long ago is probably being looked at already: its wake-up fires up to a minute late
# (EventBridge Scheduler's 60-second precision) and a step may be waiting in place past its due time
# (StepTurn.wait_here). Re-driving it now would only start a twin invocation; the next tick catches a lost one.
GRACE = timedelta(minutes=3)
# Due for longer than two sweeps at the default 15-minute rate: the check is not keeping up (or not running).
OVERDUE = timedelta(minutes=35)
PAGE = 100
MAX_PAGES = 10  # a leased run leaves the due index, so each page is new runs; bounded all the same


class CheckSummary(Model):
    due: int = 0
    redriven: int = 0
    failed_deadline: int = 0
    overdue: int = 0
    lost_lease: int = 0
    # the trigger watch (after the re-drives, so a failing watch never holds them up)
    fallback_runs: int = 0
    deferred_opened: int = 0
    watch_errors: int = 0
    retired_deleted: int = 0  # retired targets past keep_previous_hours (shared.steps.retired_clusters)


def handle(deps: Deps, event: RdsTrigger | PipelineTrigger | ScheduleTick) -> Outcome:
    """Only the schedule invokes it, whatever payload the scheduler sends: every invocation is a tick."""
    summary = tick(deps)
    watches = _every_watch(deps)  # one batch read for the trigger watch and the retired sweep: not one per pipeline
    watched = watch_triggers(deps, watches)
    summary.fallback_runs, summary.deferred_opened = watched.fallback_runs, watched.deferred_opened
    summary.watch_errors = watched.errors
    summary.retired_deleted = sweep_retired(deps, watches)
    return Outcome(step=STEP, result="checked", detail=summary.model_dump_json())


def _every_watch(deps: Deps) -> dict[str, PipelineWatch] | None:
    """None when the read failed: the trigger watch and the sweep then each try their own (and count the error)."""
    try:
        return deps.store.get_watches([p.name for p in deps.config.pipelines])
    except PipelineError as exc:
        deps.log.warning("pipeline watches not read", extra={"code": exc.code})
        return None


def tick(deps: Deps) -> CheckSummary:
    now = deps.clock.now()
    summary = CheckSummary()
    outgoing: list[OutgoingEvent] = []
    for _ in range(MAX_PAGES):
        page = deps.store.due_runs(now - GRACE, PAGE)
        for run in page:
            summary.due += 1
            if now - run.next_check_at > OVERDUE:
                summary.overdue += 1
            if not run.status.is_terminal and now >= run.deadline_at:
                expired = StepTurn(deps, run, STEP, "deadline")
                if expired.fail(expired.deadline_exceeded()) is not None:
                    summary.failed_deadline += 1
                continue
            turn = StepTurn(deps, run, STEP, "schedule")
            leased = turn.claim(f"check due in {run.status.value}", next_check_at=now + LEASE)
            if leased is None:
                summary.lost_lease += 1
                continue
            detail = event_detail(leased, DetailType.RUN_CHECK_DUE)
            outgoing.append(OutgoingEvent(detail_type=DetailType.RUN_CHECK_DUE, detail=detail))
        if len(page) < PAGE:
            break
    if outgoing:
        deps.bus.publish(outgoing)
    summary.redriven = len(outgoing)
    deps.metric("DueRuns", summary.due)
    deps.metric("DeadlineExceeded", summary.failed_deadline)
    deps.metric("OverdueRuns", summary.overdue)
    return summary
