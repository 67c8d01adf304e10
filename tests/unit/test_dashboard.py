"""The operations dashboard in the template: a valid DashboardBody that shows every function and every DLQ."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.functions import FUNCTIONS
from infra.render import logical_id
from local_runtime.template_rules import load_template

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


def body(template: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The dashboard body as CloudFormation would send it (each ${...} resolved), and what it substitutes."""
    text = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(PLACEHOLDER.findall(text))
    return json.loads(PLACEHOLDER.sub(lambda m: f"resolved-{m[1]}", text)), names


def metrics(dashboard: dict[str, Any], title: str) -> list[list[Any]]:
    [widget] = [w for w in dashboard["widgets"] if w["properties"]["title"] == title]
    return widget["properties"]["metrics"]


def test_the_dashboard_body_is_valid_json_naming_every_function_and_dead_letter_queue() -> None:
    template = load_template()
    dashboard, substituted = body(template)
    resources = template["Resources"]
    queues = {name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert queues and {f"{q}.QueueName" for q in queues} <= substituted
    functions = {f"{logical_id(fn.step)}Function" for fn in FUNCTIONS}
    assert functions <= substituted and functions <= set(resources)
    errors = metrics(dashboard, "Errors per function")
    assert sorted(m[3] for m in errors) == sorted(f"resolved-{f}" for f in functions)
    # Every substitution names a resource (or its attribute), a parameter or a pseudo parameter
    known = set(resources) | set(template["Parameters"])
    assert all(name.split(".")[0] in known or name.startswith("AWS::") for name in substituted), substituted


def test_the_dashboard_reads_the_metrics_the_functions_emit() -> None:
    dashboard, _ = body(load_template())
    outcome = {m[1] for m in metrics(dashboard, "Runs by outcome")}
    assert outcome == {"RunsSucceeded", "RunsFailed", "PreflightBlocked"}
    states = [m[7] for m in metrics(dashboard, "Time in each state (s)")]
    assert "COPYING" in states and "SUCCEEDED" not in states
    due = metrics(dashboard, "Due and overdue runs")
    assert {m[1] for m in due} == {"DueRuns", "OverdueRuns", "DeadlineExceeded"}
    assert all(m[2:6] == ["service", "aurora-restore", "environment", "resolved-Environment"] for m in due)
