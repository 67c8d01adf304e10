"""The per-pipeline "no successful run" alarm: RunsSucceeded is counted with a `pipeline` dimension, and the alarm
reads it with missing data as breaching, so a pipeline that stops running (or never ran) is noticed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local_runtime.template_rules import load_template
from shared import dispatch, observability
from shared.model import RunStatus
from shared.transitions import Step
from tests.unit.fakes import T0, Fakes, make_run, run_event


@pytest.mark.parametrize(
    ("status", "metric"), [(RunStatus.SUCCEEDED, "RunsSucceeded"), (RunStatus.FAILED, "RunsFailed")]
)
def test_a_notified_run_is_counted_for_its_pipeline(status: RunStatus, metric: str) -> None:
    fakes = Fakes()
    run = fakes.store.seed(make_run(status, now=T0))
    dispatch.handle(Step.SNS_NOTIFICATION, run_event(f"Run{status.value.title()}", run), fakes.deps)
    assert fakes.recorder.pipeline_metrics == [(metric, "nightly", 1)]
    assert fakes.recorder.total(metric) == 1, "the stack-wide count is still emitted"


def test_pipeline_count_is_an_emf_record_with_service_and_pipeline_dimensions(capsys: Any) -> None:
    observability.count_for_pipeline("RunsSucceeded", "nightly")
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AuroraRestore" and directive["Dimensions"] == [
        ["service", "environment", "pipeline"]
    ]
    assert (record["service"], record["pipeline"], record["RunsSucceeded"]) == ("aurora-restore", "nightly", [1.0])
    assert record["environment"] == observability.ENVIRONMENT


def test_the_alarm_reads_that_metric_with_missing_data_as_breaching() -> None:
    alarm = load_template()["Resources"]["NoSuccessfulRunAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AuroraRestore", "RunsSucceeded", "Sum")
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions == {
        "service": "aurora-restore",
        "environment": {"Ref": "Environment"},
        "pipeline": {"Ref": "PipelineName"},
    }
    assert alarm["TreatMissingData"] == "breaching"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"], "every period of the range without a success"
    # PutMetricAlarm: at most 7 days, and at most 1 day for periods under an hour
    assert alarm["Period"] >= 3600 and alarm["Period"] * alarm["EvaluationPeriods"] <= 7 * 24 * 3600
    assert alarm["Period"] * alarm["EvaluationPeriods"] > 24 * 3600, "a nightly pipeline must have a chance to succeed"
    assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
