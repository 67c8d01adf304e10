"""`template.yaml` and the README's flow table are rendered from the routing table (`make template`); a change to the
table that is not re-rendered fails here and in `make lint`."""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any

import pytest

from infra import render
from infra.functions import FUNCTIONS
from local_runtime.template_rules import functions, load_template
from shared.routing import RDS_CLUSTER, RDS_EVENTS, ROUTES, Route, rds, route_of
from shared.transitions import Step


def _committed(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _rendered(routes: tuple[Route, ...] = ROUTES) -> str:
    return render.render_template(_committed(render.SOURCE), routes)


def _replace_route(routes: tuple[Route, ...], new: Route) -> tuple[Route, ...]:
    return tuple(new if route.step is new.step else route for route in routes)


def _rules(text: str, tmp_path: Path) -> set[tuple[str, str, str, str]]:
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    return {
        (rule.function, rule.name, rule.bus, json.dumps(rule.pattern))
        for spec in functions(load_template(path))
        for rule in spec.rules
    }


def test_template_is_rendered_from_the_table() -> None:
    assert _rendered() == _committed(render.TEMPLATE), "template.yaml is stale: run `make template`"


def test_readme_flow_table_is_rendered_from_the_table() -> None:
    readme = _committed(render.README)
    assert render.render_readme(readme) == readme, "README.md's flow table is stale: run `make template`"
    assert "| `check-copy-status` | COPYING | `RunCheckDue` (COPYING) |" in readme


def test_check_passes_on_the_committed_files() -> None:
    assert render.main(["--check"]) == 0


def test_every_rds_event_id_of_the_table_is_explained() -> None:
    used = {event_id for route in ROUTES for wake in route.wakes for event_id in wake.event_ids}
    assert used <= set(RDS_EVENTS)


def test_changed_event_id_changes_exactly_that_pattern(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    # Given the table with delete-rds woken by another EventID than RDS-EVENT-0003
    route = route_of(Step.DELETE_RDS)
    wakes = tuple(
        dataclasses.replace(w, event_ids=("RDS-EVENT-0150",)) if w.name == "InstanceDeleted" else w for w in route.wakes
    )
    routes = _replace_route(ROUTES, dataclasses.replace(route, wakes=wakes))
    # When the template is rendered from it
    diff = [
        line
        for line in difflib.unified_diff(_committed(render.TEMPLATE).splitlines(), _rendered(routes).splitlines(), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    # Then exactly that rule's pattern differs
    old = {"source": ["aws.rds"], "detail-type": ["RDS DB Instance Event"], "detail": {"EventID": ["RDS-EVENT-0003"]}}
    new = {**old, "detail": {"EventID": ["RDS-EVENT-0150"]}}
    assert diff == [f"-            Pattern: {json.dumps(old)}", f"+            Pattern: {json.dumps(new)}"]
    # and the staleness check (make lint) fails until someone runs `make template`
    monkeypatch.setattr(render, "ROUTES", routes)
    monkeypatch.setitem(RDS_EVENTS, "RDS-EVENT-0150", "DB cluster stopped")
    assert render.main(["--check"]) == 1
    assert "template.yaml" in capsys.readouterr().err


def test_one_more_wake_adds_exactly_one_rule(tmp_path: Path) -> None:
    # Given one more Wake line in archive-snapshot's route
    route = route_of(Step.ARCHIVE_SNAPSHOT)
    extra = rds("ClusterStopped", (RDS_CLUSTER,), "RDS-EVENT-0150")
    routes = _replace_route(ROUTES, dataclasses.replace(route, wakes=(*route.wakes, extra)))
    # When the template is rendered from it
    committed, rendered = _committed(render.TEMPLATE), _rendered(routes)
    # Then the template gains exactly that rule, on the default bus, and loses nothing
    added = _rules(rendered, tmp_path) - _rules(committed, tmp_path)
    assert added == {("ArchiveSnapshotFunction", "ClusterStopped", "default", json.dumps(extra.pattern()))}
    assert _rules(committed, tmp_path) <= _rules(rendered, tmp_path)
    diff = list(difflib.ndiff(committed.splitlines(), rendered.splitlines()))
    assert not [line for line in diff if line.startswith("- ")]


def test_steps_without_infrastructure_are_refused() -> None:
    with pytest.raises(ValueError, match="orchestrator-check"):
        render.render_template(_committed(render.SOURCE), ROUTES, render.FUNCTIONS[:-1])


def test_more_functions_than_one_alarm_can_read_get_a_second_errors_alarm() -> None:
    """An alarm on a metric math expression reads at most 10 metrics (a hard limit), so the 11th function's errors
    go to `LambdaErrorsAlarm2`; no function is left unwatched."""
    many = [FUNCTIONS[i % len(FUNCTIONS)] for i in range(13)]
    rendered = render.error_alarms(many)
    assert rendered.count("Type: AWS::CloudWatch::Alarm") == 2
    assert "LambdaErrorsAlarm2:" in rendered and "lambda-errors-2" in rendered
    assert rendered.count("MetricName: Errors") == 13
    assert "SUM([m1, m2, m3])" in rendered
