"""The preflight a run passes when it opens (shared.preflight, the cheap checks): a blocker fails the run at once,
with every reason in its failure (and so in the notification), before anything is copied, deleted or renamed.

Cheap means no IAM policy simulation and no key-policy reading: those need the functions' role ARNs and IAM read
access the functions are not given; `aurora-restore plan` runs them. Warnings are audited on the run."""

from __future__ import annotations

from shared import preflight
from shared.config import PipelineConfig
from shared.errors import PipelineError
from shared.model import Run
from shared.ports import SnapshotView
from shared.steps.turn import StepTurn


def check_opened_run(turn: StepTurn, pipeline: PipelineConfig, snapshot: SnapshotView) -> Run | None:
    """The preflight of a just-opened run. Returns the failed run, or None when it may proceed."""
    deps = turn.deps
    inputs = preflight.Inputs(snapshot=snapshot, run_id=turn.run.run_id, now=deps.clock.now())
    probe = deps.probe_for(pipeline.target_region) if deps.probe_for else None
    plan = preflight.plan(pipeline, inputs, deps.rds_for(pipeline.target_region), probe, full=False)
    warnings = [f for f in plan.findings if f.level == "warning"]
    if warnings:
        turn.remark("decision", "preflight warnings: " + "; ".join(f"[{f.check}] {f.detail}" for f in warnings))
    if not plan.blockers:
        return None
    deps.metric("PreflightBlocked", 1)
    code = plan.blockers[0].code or "PreflightBlocked"
    return turn.fail(PipelineError(code, plan.failure_message())) or turn.run
