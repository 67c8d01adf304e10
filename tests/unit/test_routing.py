"""The routing table is coherent: every step has one route and a module the dispatcher can call, every active
status has exactly one owner for RunCheckDue, and the owner acts in that status."""

from __future__ import annotations

import pytest

from shared.dispatch import step_module
from shared.model import RunStatus
from shared.routing import ROUTES, owner_of, route_of, steps_woken_by, wakes
from shared.transitions import ACTIVE_STATUSES, Step


def test_every_step_has_exactly_one_route() -> None:
    assert sorted(r.step for r in ROUTES) == sorted(Step)


@pytest.mark.parametrize("step", list(Step))
def test_every_step_module_has_the_entry_point_its_route_needs(step: Step) -> None:
    module = step_module(step)
    entry = "act" if route_of(step).acts_in else "handle"
    assert callable(getattr(module, entry, None)), f"shared.steps.{module.__name__} lacks {entry}()"


@pytest.mark.parametrize("status", [*ACTIVE_STATUSES, RunStatus.SUCCEEDED, RunStatus.FAILED])
def test_each_status_has_exactly_one_check_owner(status: RunStatus) -> None:
    owners = [step for step, wake in wakes() if wake.kind == "check-due" and status in wake.statuses]
    assert len(owners) == 1, owners
    assert status in route_of(owners[0]).acts_in
    assert owner_of(status) == owners[0]


def test_rule_names_are_unique_per_step() -> None:
    for route in ROUTES:
        names = [w.name for w in route.wakes]
        assert len(names) == len(set(names)), route.step


def test_matching_is_by_bus_source_detail_type_and_detail() -> None:
    due = {"source": "aurora-restore", "detail-type": "RunCheckDue", "detail": {"status": "COPYING"}}
    assert steps_woken_by("pipeline", due) == {Step.CHECK_COPY_STATUS}
    assert steps_woken_by("default", due) == set()  # pipeline events never come on the default bus
    rds = {"source": "aws.rds", "detail-type": "RDS DB Cluster Event", "detail": {"EventID": "RDS-EVENT-0171"}}
    assert steps_woken_by("default", rds) == {Step.RESTORE_SNAPSHOT}
    assert steps_woken_by("default", {**rds, "detail-type": "RDS DB Instance Event"}) == set()
    assert steps_woken_by("default", {**rds, "detail": {"EventID": "RDS-EVENT-0170"}}) == {Step.CHECK_RESTORE_STATUS}
