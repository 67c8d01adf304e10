"""Exact wake-ups on moto: the EventBridge Scheduler adapter (shared/aws/scheduler.py) and the local runtime's firing
of one-time schedules (local_runtime/wakeup_firing.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from local_runtime.runtime import LocalRuntime
from local_runtime.world import World
from shared.aws.scheduler import SchedulerWakeUps
from shared.events import RunCheckDueDetail
from shared.model import RunStatus

AT = datetime(2026, 11, 25, 3, 20, 30, 250_000, tzinfo=UTC)


def detail(version: int = 4) -> RunCheckDueDetail:
    return RunCheckDueDetail(
        run_id="20261125t0300-abc",
        pipeline="nightly",
        correlation_id="20261125t0300-abc",
        occurred_at=AT,
        run_version=version,
        status=RunStatus.COPYING,
    )


def adapter(world: World) -> tuple[SchedulerWakeUps, Any]:
    client = world.client("scheduler")
    role = f"arn:aws:iam::{world.account}:role/aurora-restore-dev-wakeups"
    return SchedulerWakeUps(lambda: client, world.wakeup_group, world.bus_arn, role), client


def test_a_wake_up_is_a_one_time_schedule_that_puts_run_check_due_on_the_bus(world: World) -> None:
    wakeups, client = adapter(world)
    assert wakeups.wake_at("20261125t0300-abc-v4", AT, detail()) is True
    schedule = client.get_schedule(GroupName=world.wakeup_group, Name="20261125t0300-abc-v4")
    assert schedule["ScheduleExpression"] == "at(2026-11-25T03:20:31)", "rounded up: never before the time asked"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    target = schedule["Target"]
    assert target["Arn"] == world.bus_arn
    assert target["EventBridgeParameters"] == {"DetailType": "RunCheckDue", "Source": "aurora-restore"}
    assert RunCheckDueDetail.model_validate_json(target["Input"]) == detail()


def test_asking_again_for_the_same_wake_up_is_no_error(world: World) -> None:
    wakeups, client = adapter(world)
    assert wakeups.wake_at("20261125t0300-abc-v4", AT, detail()) is True
    assert wakeups.wake_at("20261125t0300-abc-v4", AT, detail()) is False
    assert len(client.list_schedules(GroupName=world.wakeup_group)["Schedules"]) == 1


def test_the_local_runtime_fires_a_wake_up_at_its_time_through_the_router_then_deletes_it(
    world: World,
) -> None:
    runtime = LocalRuntime(world.settings(), wakeup_precision="second")
    wakeups, client = adapter(world)
    at = runtime.clock.now() + timedelta(minutes=5)
    runtime.after_create_schedule(world.target_region, wakeups.request("w-1", at, detail(version=9)))
    client.create_schedule(**wakeups.request("w-1", at, detail(version=9)))
    runtime.run_until(lambda: bool(runtime.wakeups.fired), max_seconds=600)
    [(fired_at, name, late)] = runtime.wakeups.fired
    assert (fired_at, name, late) == (at.replace(microsecond=0), "w-1", 0.0)
    assert client.list_schedules(GroupName=world.wakeup_group)["Schedules"] == [], "ActionAfterCompletion: DELETE"
    [(bus, envelope)] = runtime.pending_events()
    assert (bus, envelope["detail-type"], envelope["source"]) == ("pipeline", "RunCheckDue", "aurora-restore")
    assert envelope["detail"]["run_version"] == 9


def test_a_deleted_wake_up_never_fires_and_a_late_one_fires_within_the_minute(world: World) -> None:
    runtime = LocalRuntime(world.settings())  # minute precision: up to 59 s late, never early
    wakeups, client = adapter(world)
    at = runtime.clock.now() + timedelta(minutes=5)
    for name in ("gone", "kept"):
        request = wakeups.request(name, at, detail())
        client.create_schedule(**request)
        runtime.after_create_schedule(world.target_region, request)
    client.delete_schedule(GroupName=world.wakeup_group, Name="gone")
    runtime.run_until(lambda: runtime.clock.now() >= at + timedelta(minutes=2), max_seconds=900)
    [(_, name, late)] = runtime.wakeups.fired
    assert name == "kept" and 0 <= late < 60
