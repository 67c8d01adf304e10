"""Audit for what belongs to no run: a rejected event, an event that matches no active run, a refused or
ignored trigger. One helper, so every such record has the same shape and the same log line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shared.errors import PipelineError
from shared.model import AuditKind, AuditRecord
from shared.ports import StateStore

# Subjects of audit records without a run (a pipeline's own decisions use `pipeline#<name>`).
REJECTED = "rejected"
UNMATCHED = "unmatched"


def pipeline_subject(pipeline: str) -> str:
    return f"pipeline#{pipeline}"


def record_outside_run(
    store: StateStore,
    log: Any,
    at: datetime,
    *,
    step: str,
    kind: AuditKind,
    message: str,
    subject: str = UNMATCHED,
    trigger: str | None = None,
    pipeline: str | None = None,
    code: str | None = None,
) -> None:
    """Log and audit. Auditing is best effort for rejections: bad input must not turn into a retry storm."""
    level = log.warning if kind in ("refused", "rejected") else log.info
    level(message, extra={"decision": kind, "step": step, "pipeline": pipeline, "trigger": trigger, "code": code})
    record = AuditRecord(
        subject=subject,
        at=at,
        kind=kind,
        step=step,
        message=message[:1000],
        pipeline=pipeline,
        trigger=trigger,
        code=code,
    )
    try:
        store.audit(record)
    except PipelineError as exc:
        if kind != "rejected":
            raise
        log.error("could not audit a rejected event", extra={"code": exc.code})
