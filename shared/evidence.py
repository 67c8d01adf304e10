"""The evidence of one restore: what an auditor asks ("when did we last prove a restore works, how long did it take,
how old was the data, was it masked?"), built from the run as stored, as Markdown or JSON.

The masking hash is the SHA-256 of the pipeline's post_restore_sql statements (joined by NUL, as the post-restore
SQL's own fingerprint is: its first 16 hex digits are that fingerprint, so the two can be compared). It is the
hash of the statements the run executed only when the run's recorded fingerprint matches the configuration read
now; otherwise the evidence says the configuration changed since."""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import ConfigDict, Field

from shared.base_model import Model
from shared.clock import iso
from shared.config import PipelineConfig
from shared.model import CheckResult, Run, RunError, RunStatus
from shared.report import duration

FINGERPRINT_DIGITS = 16  # shared.steps.post_restore_sql.fingerprint keeps this many hex digits


class StepEvidence(Model):
    model_config = ConfigDict(frozen=True)

    state: str
    started_at: datetime
    ended_at: datetime | None
    seconds: int | None


class SwapEvidence(Model):
    model_config = ConfigDict(frozen=True)

    vacated_at: datetime | None
    filled_at: datetime | None
    seconds: int | None


class MaskingEvidence(Model):
    model_config = ConfigDict(frozen=True)

    decision: str | None  # the pipeline's masking decision: required | not-needed (None: pipeline not configured)
    sql_sha256: str | None  # of the configured statements
    statements: int = 0
    executed: str  # what the run records of them, in words


class Evidence(Model):
    model_config = ConfigDict(frozen=True)

    run_id: str
    pipeline: str
    outcome: str
    failure: RunError | None
    trigger: str
    trigger_detail: str
    target_cluster_id: str
    target_region: str
    source_snapshot_id: str
    snapshot_created_at: datetime | None
    started_at: datetime
    ended_at: datetime | None
    total_seconds: int | None
    data_age_seconds: int | None  # at the run's end: how old the restored data was when it became available
    steps: list[StepEvidence] = Field(default_factory=list)
    swap: SwapEvidence | None = None
    validation: list[CheckResult] = Field(default_factory=list)
    masking: MaskingEvidence


def masking_sql_sha256(statements: list[str]) -> str:
    return hashlib.sha256("\x00".join(statements).encode("utf-8")).hexdigest()


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    return None if start is None or end is None else int((end - start).total_seconds())


def _masking(run: Run, pipeline: PipelineConfig | None) -> MaskingEvidence:
    if pipeline is None:
        return MaskingEvidence(decision=None, sql_sha256=None, executed="the pipeline is no longer configured")
    statements = pipeline.database.post_restore_sql
    digest = masking_sql_sha256(statements) if statements else None
    progress = run.sql_progress
    if not statements:
        executed = "no post-restore SQL configured"
    elif progress is None:
        executed = "not run (the run ended before the post-restore SQL)"
    elif progress.fingerprint != (digest or "")[:FINGERPRINT_DIGITS]:
        executed = (
            f"the configuration changed since the run: the run executed statements with fingerprint "
            f"{progress.fingerprint}, not these"
        )
    else:
        executed = f"{progress.done} of {progress.total} statements executed"
    return MaskingEvidence(decision=pipeline.masking, sql_sha256=digest, statements=len(statements), executed=executed)


def build(run: Run, pipeline: PipelineConfig | None) -> Evidence:
    """The evidence of `run` (`pipeline`: its configuration now, for the masking statements)."""
    steps = [
        StepEvidence(state=status.value, started_at=t.started_at, ended_at=t.ended_at, seconds=t.seconds)
        for status in RunStatus
        if (t := run.timings.get(status.value)) is not None and not status.is_terminal
    ]
    steps.sort(key=lambda step: step.started_at)
    swap = run.swap
    return Evidence(
        run_id=run.run_id,
        pipeline=run.pipeline,
        outcome=run.status.value,
        failure=run.failure,
        trigger=run.trigger,
        trigger_detail=run.trigger_detail,
        target_cluster_id=run.target_cluster_id,
        target_region=run.target_region,
        source_snapshot_id=run.source_snapshot_id,
        snapshot_created_at=run.source_snapshot_created_at,
        started_at=run.created_at,
        ended_at=run.ended_at,
        total_seconds=_seconds(run.created_at, run.ended_at),
        data_age_seconds=_seconds(run.source_snapshot_created_at, run.ended_at),
        steps=steps,
        swap=SwapEvidence(vacated_at=swap.vacated_at, filled_at=swap.filled_at, seconds=swap.seconds) if swap else None,
        validation=list(run.validation),
        masking=_masking(run, pipeline),
    )


def _when(moment: datetime | None) -> str:
    return iso(moment) if moment else "-"


def markdown(evidence: Evidence) -> str:
    e = evidence
    lines = [
        f"# Restore evidence: run {e.run_id}",
        "",
        f"- Pipeline: {e.pipeline} -> {e.target_cluster_id} ({e.target_region})",
        f"- Outcome: **{e.outcome}**"
        + (f" ({e.failure.code} in {e.failure.step}: {e.failure.message})" if e.failure else ""),
        f"- Triggered by: {e.trigger} {e.trigger_detail}".rstrip(),
        f"- Snapshot: {e.source_snapshot_id}, taken {_when(e.snapshot_created_at)}",
        f"- Data age at the end of the run: {duration(e.data_age_seconds)}",
        f"- Started {_when(e.started_at)}, ended {_when(e.ended_at)}, total {duration(e.total_seconds)}",
        "",
        "## Step durations",
        "",
        "| state | started | duration |",
        "|---|---|---|",
        *(f"| {s.state} | {iso(s.started_at)} | {duration(s.seconds)} |" for s in e.steps),
        "",
        "## Cut-over",
        "",
        (
            f"Swap window: {duration(e.swap.seconds)} (target name vacated {_when(e.swap.vacated_at)}, "
            f"filled {_when(e.swap.filled_at)})"
            if e.swap
            else "No swap window (the target was replaced in place, or the run did not reach the cut-over)."
        ),
        "",
        "## Validation",
        "",
    ]
    if e.validation:
        lines += ["| check | kind | result | detail |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.kind} | {'passed' if c.passed else 'FAILED'} | {c.detail} |" for c in e.validation]
    else:
        lines.append("No validation check recorded for this run.")
    m = e.masking
    lines += [
        "",
        "## Masking",
        "",
        f"- Decision: {m.decision or '-'}",
        f"- Masking SQL SHA-256: {m.sql_sha256 or '-'} ({m.statements} statement(s))",
        f"- Executed: {m.executed}",
        "",
    ]
    return "\n".join(lines)


def object_key(run: Run) -> str:
    """Where the evidence is written in the evidence bucket."""
    return f"evidence/{run.pipeline}/{run.run_id}.json"
