"""The evidence of a restore (shared.evidence): data age, step durations, swap window, validation, masking hash;
written by the notification step when the stack names an evidence bucket."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from shared import dispatch, evidence
from shared.model import CheckResult, Run, RunStatus, SqlProgress, StepTiming, SwapWindow
from shared.steps.post_restore_sql import fingerprint
from shared.transitions import Step
from tests.unit.fakes import T0, FakeEvidenceStore, Fakes, make_config, make_run, pipeline_doc, run_event

SQL = pipeline_doc()["database"]["post_restore_sql"]


def finished_run(**overrides: Any) -> Run:
    timings = {
        "REQUESTED": StepTiming(started_at=T0, ended_at=T0 + timedelta(minutes=1)),
        "COPYING": StepTiming(started_at=T0 + timedelta(minutes=1), ended_at=T0 + timedelta(minutes=41)),
        "RESTORING": StepTiming(started_at=T0 + timedelta(minutes=41), ended_at=T0 + timedelta(minutes=71)),
        "SUCCEEDED": StepTiming(started_at=T0 + timedelta(minutes=71)),
    }
    fields: dict[str, Any] = {
        "created_at": T0,
        "ended_at": T0 + timedelta(minutes=71),
        "source_snapshot_created_at": T0 - timedelta(minutes=20),
        "timings": timings,
        "sql_progress": SqlProgress(fingerprint=fingerprint(SQL), total=len(SQL), done=len(SQL)),
        "validation": [
            CheckResult(name="no-real-emails", kind="no-rows", passed=True, detail="0 rows"),
            CheckResult(name="orders-fresh", kind="freshness", passed=False, detail="newest order 3 days old"),
        ],
        "swap": SwapWindow(vacated_at=T0 + timedelta(minutes=70), filled_at=T0 + timedelta(minutes=70, seconds=12)),
    }
    fields.update(overrides)
    return make_run(RunStatus.SUCCEEDED, now=T0 + timedelta(minutes=71), **fields)


def test_evidence_has_data_age_step_durations_swap_validation_and_masking_hash() -> None:
    run = finished_run()
    record = evidence.build(run, make_config().pipelines[0])
    assert record.data_age_seconds == 91 * 60 and record.total_seconds == 71 * 60
    assert [(s.state, s.seconds) for s in record.steps] == [("REQUESTED", 60), ("COPYING", 2400), ("RESTORING", 1800)]
    assert record.swap is not None and record.swap.seconds == 12
    expected = hashlib.sha256("\x00".join(SQL).encode()).hexdigest()
    assert record.masking.sql_sha256 == expected and expected.startswith(fingerprint(SQL))
    assert record.masking.executed == "1 of 1 statements executed"
    text = evidence.markdown(record)
    for words in ("Data age at the end of the run: 1h31m00s", "| COPYING |", "40m00s", "Swap window: 0m12s",
                  "| orders-fresh | freshness | FAILED | newest order 3 days old |", expected):  # fmt: skip
        assert words in text, words
    assert json.loads(record.model_dump_json())["masking"]["sql_sha256"] == expected


def test_evidence_says_what_it_cannot_vouch_for() -> None:
    changed = make_config(pipeline_doc(database={**pipeline_doc()["database"], "post_restore_sql": ["SELECT 2"]}))
    record = evidence.build(finished_run(swap=None, validation=[]), changed.pipelines[0])
    assert "configuration changed since the run" in record.masking.executed
    text = evidence.markdown(record)
    assert "No swap window" in text and "No validation check recorded" in text
    not_run = evidence.build(finished_run(sql_progress=None), make_config().pipelines[0])
    assert not_run.masking.executed.startswith("not run")
    assert evidence.build(finished_run(), None).masking.sql_sha256 is None


def notify(fakes: Fakes) -> Run:
    run = fakes.store.seed(finished_run())
    dispatch.handle(Step.SNS_NOTIFICATION, run_event("RunSucceeded", run), fakes.deps)
    return run


def test_the_notification_step_writes_the_evidence_when_a_bucket_is_configured() -> None:
    fakes = Fakes()
    fakes.deps.evidence = FakeEvidenceStore()
    run = notify(fakes)
    [(key, body)] = fakes.deps.evidence.objects.items()
    assert key == f"evidence/nightly/{run.run_id}.json"
    assert json.loads(body)["outcome"] == "SUCCEEDED" and len(fakes.notifier.sent) == 1


def test_a_failed_evidence_write_is_audited_and_never_blocks_the_notification() -> None:
    fakes = Fakes()
    store = FakeEvidenceStore()
    store.fail("AccessDenied")
    fakes.deps.evidence = store
    run = notify(fakes)
    assert len(fakes.notifier.sent) == 1 and store.objects == {}
    stored = fakes.store.get_run(run.run_id)
    assert stored is not None and stored.notified_at is not None
    assert any("evidence not written" in r.message for r in fakes.store.audit_trail(run.run_id))
