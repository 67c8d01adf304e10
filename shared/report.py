"""Human-readable run summaries: used by the notification, the status command and the demo."""

from __future__ import annotations

from shared.clock import iso
from shared.model import Run, RunStatus


def duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def timeline_lines(run: Run) -> list[str]:
    lines = []
    for status in RunStatus:
        timing = run.timings.get(status.value)
        if timing is None:
            continue
        lines.append(f"  {status.value:<17} {iso(timing.started_at)}  {duration(timing.seconds):>10}")
    return lines


# SNS Publish: the subject must be "less than 100 characters long"
# (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html); a longer one is refused, not shortened.
SUBJECT_MAX = 99
ELLIPSIS = "..."


def subject(run: Run) -> str:
    """`aurora-restore [<pipeline>] <STATUS>: <target>`, under SUBJECT_MAX whatever the names: a long target id is
    cut in its middle, so its start and its end stay readable. The run id is in the body and a message attribute."""
    head = f"aurora-restore [{run.pipeline}] {run.status.value}: "
    return head + shorten(run.target_cluster_id, SUBJECT_MAX - len(head))


def shorten(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and end joined by an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    keep = limit - len(ELLIPSIS)
    return text[: keep - keep // 2] + ELLIPSIS + text[len(text) - keep // 2 :]


def copy_line(run: Run) -> str:
    """The run's snapshot copy, or where its new cluster came from instead (a clone or point-in-time restore)."""
    if run.restore_from in (None, "snapshot-copy"):
        return f"Copy: {run.copy_snapshot_id}"
    return f"Copy: none ({run.restore_from} of the source cluster at its latest restorable time)"


def evidence_lines(run: Run) -> list[str]:
    """The data's age and the swap window: what the copy is and how it was put in place."""
    lines = []
    if run.source_snapshot_created_at is not None:
        age = int(((run.ended_at or run.updated_at) - run.source_snapshot_created_at).total_seconds())
        lines.append(
            f"Data as of: {iso(run.source_snapshot_created_at)} (snapshot time; {duration(age)} old at the end)"
        )
    if run.staging_cluster_id is not None:
        lines.append(f"Cut-over: swap (restored as {run.staging_cluster_id}, quarantined until the swap)")
        window = run.swap
        if window is not None and window.filled_at is not None:
            vacated = "" if window.vacated_at is None else f" from {iso(window.vacated_at)}"
            lines.append(f"Swap window: the target name pointed at nothing for {duration(window.seconds or 0)}"
                         f"{vacated} to {iso(window.filled_at)}")  # fmt: skip
        elif window is not None and window.vacated_at is not None:
            lines.append(f"Swap window: open since {iso(window.vacated_at)} (the target name points at nothing)")
        else:
            lines.append("Swap window: none (the target was not touched)")
        if run.retired_cluster_id:
            lines.append(f"Previous target: {run.retired_cluster_id}")
    elif run.previous_target is not None or run.previous_target_settings is not None:
        lines.append("Cut-over: replace (the target was deleted before the restore)")
    return lines  # the validation results follow the failure, if any (validation_lines)


def summary(run: Run) -> str:
    total = int((run.ended_at - run.created_at).total_seconds()) if run.ended_at else None
    lines = [
        f"Run {run.run_id} of pipeline {run.pipeline}: {run.status.value}",
        f"Target: {run.target_cluster_id} ({run.target_region})",
        f"Source snapshot: {run.source_snapshot_id} ({run.source_region})",
        copy_line(run),
        f"Trigger: {run.trigger} {run.trigger_detail}".rstrip(),
        f"Started: {iso(run.created_at)}  Total: {duration(total)}",
    ]
    lines += evidence_lines(run)
    if run.failure is not None:
        lines += [
            "",
            f"FAILED in step {run.failure.step} (state {run.failure.status.value})",
            f"Cause [{run.failure.code}]: {run.failure.message}",
        ]
    lines += validation_lines(run)
    lines += ["", "Step timings (state, started, duration):", *timeline_lines(run)]
    return "\n".join(lines)


def validation_lines(run: Run) -> list[str]:
    """The validation checks' results, passed and failed (none: nothing, the run never got that far)."""
    if not run.validation:
        return []
    failed = sum(not r.passed for r in run.validation)
    head = f"Validation: {len(run.validation) - failed} passed, {failed} failed"
    return ["", head, *(f"  {'PASS' if r.passed else 'FAIL'} {r.name} ({r.kind}): {r.detail}" for r in run.validation)]
