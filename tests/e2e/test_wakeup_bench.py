"""The wake-up benchmark's nights, as counts on the simulated clock (the figures themselves: `make bench`).

A standard night with a 10-minute copy (fast to simulate) under the pipeline and under the 60 s polling loop, and
the same night with every RDS event after the trigger lost."""

from __future__ import annotations

from typing import Any

from bench.nights import Night, run_pipeline_night
from bench.polling_loop import run_loop_night
from local_runtime.rds_emulator import Durations

EVENT_LATENCY = Durations().rds_event_latency
SAFETY_NET = 15 * 60


def test_the_pipeline_is_cheaper_than_polling_and_acts_within_one_event_delivery(aws: None, mariadb: Any) -> None:
    ours = run_pipeline_night(Night(copy=10), 1, mariadb)

    assert (ours.runs, ours.succeeded) == (1, 1)
    assert ours.invocations <= 40
    assert ours.moved == 9, "open, copy, delete, restore, configure, validate, archive, succeed, notify"
    assert sum(ours.calls.values()) <= 200 and ours.calls["scheduler"] >= 1
    assert max(ours.copy_looks) <= 15
    for wait in ("instances deleted", "cluster deleted", "restore", "master password"):
        assert max(ours.delays[wait]) <= EVENT_LATENCY + 1, f"{wait}: acted on at the event's delivery"
    assert max(ours.delays["copy"]) <= 60 + 45, "within the scheduler's minute of the predicted end"


def test_with_every_rds_event_lost_the_run_succeeds_each_wait_noticed_within_the_safety_net(
    aws: None, mariadb: Any
) -> None:
    ours = run_pipeline_night(Night(copy=10, events_lost=True), 1, mariadb)
    assert ours.succeeded == 1
    for wait, delays in ours.delays.items():
        assert max(delays) <= SAFETY_NET, wait


def test_the_polling_loop_does_the_same_work_looking_every_poll(aws: None) -> None:
    loop = run_loop_night(Night(copy=10), 60)
    assert loop.moved == 8, "copy, delete instances, delete cluster, restore, password, users, archive, notify"
    # every wait is polled until seen: the night's waits add up to about 55 minutes of 60 s polls
    assert 50 <= loop.looked <= 60
    assert all(0 <= max(delays) < 60 for delays in loop.delays.values())
