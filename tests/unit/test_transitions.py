"""The transition table is data; these tests keep it coherent with the steps and the events."""

from __future__ import annotations

import pytest

from shared.events import DETAIL_MODELS
from shared.model import RunStatus
from shared.routing import owner_of, route_of
from shared.transitions import ACTIVE_STATUSES, STATES, DetailType, Step, can_transition


def test_every_status_has_a_spec() -> None:
    assert set(STATES) == set(RunStatus)


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_active_state_has_owner_that_acts_on_it(status: RunStatus) -> None:
    owner = owner_of(status)
    assert owner is not None
    owned = route_of(owner).acts_in
    assert status in owned


@pytest.mark.parametrize("status", ACTIVE_STATUSES)
def test_any_active_state_can_fail(status: RunStatus) -> None:
    assert can_transition(status, RunStatus.FAILED)


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED])
def test_terminal_states_go_nowhere(status: RunStatus) -> None:
    assert all(not can_transition(status, other) for other in RunStatus)


def test_happy_path_is_a_single_chain_but_for_the_swap() -> None:
    """`replace` takes the first next state everywhere; `swap` turns into SWAPPING after VALIDATING."""
    path = [RunStatus.REQUESTED]
    while STATES[path[-1]].next_states:
        nxt, *others = STATES[path[-1]].next_states  # the first next state: the snapshot-copy, replace path
        branches = {RunStatus.REQUESTED: [RunStatus.REPLACING_TARGET], RunStatus.VALIDATING: [RunStatus.SWAPPING]}
        assert others == branches.get(path[-1], [])
        path.append(nxt)
    assert STATES[RunStatus.SWAPPING].next_states == (RunStatus.ARCHIVING,)
    assert path == [
        RunStatus.REQUESTED,
        RunStatus.COPYING,
        RunStatus.REPLACING_TARGET,
        RunStatus.RESTORING,
        RunStatus.CONFIGURING_DB,
        RunStatus.VALIDATING,
        RunStatus.ARCHIVING,
        RunStatus.SUCCEEDED,
    ]


def test_only_a_run_that_makes_no_copy_skips_copying() -> None:
    # A clone or a point-in-time restore goes from REQUESTED straight to replacing the target; besides that, only a
    # proven `swap` run branches (VALIDATING -> SWAPPING).
    assert STATES[RunStatus.REQUESTED].next_states == (RunStatus.COPYING, RunStatus.REPLACING_TARGET)
    branching = {RunStatus.REQUESTED, RunStatus.VALIDATING}
    assert all(len(spec.next_states) <= 1 for status, spec in STATES.items() if status not in branching)


def test_skipping_a_state_is_illegal() -> None:
    assert not can_transition(RunStatus.REQUESTED, RunStatus.RESTORING)
    assert not can_transition(RunStatus.COPYING, RunStatus.SUCCEEDED)


def test_every_emitted_event_has_a_contract() -> None:
    for spec in STATES.values():
        if spec.entered_event is not None:
            assert spec.entered_event in DETAIL_MODELS
    assert set(DETAIL_MODELS) == set(DetailType)


def test_function_names_follow_the_seed_convention() -> None:
    assert {f"aurora-restore-{s.value}" for s in Step} >= {
        "aurora-restore-snapshot-check",
        "aurora-restore-copy-snapshot",
        "aurora-restore-check-copy-status",
        "aurora-restore-delete-rds",
        "aurora-restore-restore-snapshot",
        "aurora-restore-check-restore-status",
        "aurora-restore-setup-db-users",
        "aurora-restore-archive-snapshot",
        "aurora-restore-sns-notification",
    }
