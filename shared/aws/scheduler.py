"""Exact wake-ups through EventBridge Scheduler: one one-time schedule per wake-up, in the stack's schedule group,
whose templated EventBridge target puts the run's RunCheckDue on the pipeline bus, then deletes itself.

- `at(yyyy-mm-ddThh:mm:ss)` one-time schedule, `ScheduleExpressionTimezone` UTC, `FlexibleTimeWindow` OFF
  (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). "All schedule types on EventBridge
  Scheduler invoke their targets with 60 second precision" (same page): a wake-up may come up to a minute after
  the time asked; whether a seconds value moves it within that minute is UNVERIFIED.
- `ActionAfterCompletion: DELETE`: "For one-time schedules, this occurs after the schedule has invoked its target
  once" (https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-delete.html), so schedules do
  not pile up towards the account's quota.
- Target: the bus ARN with `EventBridgeParameters` {DetailType, Source} (the templated PutEvents target) and the
  detail as `Input`; `RoleArn` is a role the scheduler assumes that may `events:PutEvents` on the bus
  (https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html). Source must not start with `aws.`.
- A name that exists answers `ConflictException` (the schedule is already there: a retried invocation).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from shared.aws.errors import translate
from shared.events import PIPELINE_SOURCE, PipelineDetail
from shared.transitions import DetailType
from shared.wakeups import at_expression


class SchedulerWakeUps:
    """Satisfies `shared.ports.WakeUpScheduler`."""

    def __init__(self, client: Callable[[], Any], group: str, bus_arn: str, role_arn: str) -> None:
        self._client = client  # a boto3 `scheduler` client, on demand
        self._group = group
        self._bus_arn = bus_arn
        self._role_arn = role_arn

    def request(self, name: str, at: datetime, detail: PipelineDetail) -> dict[str, Any]:
        return {
            "Name": name,
            "GroupName": self._group,
            "ScheduleExpression": at_expression(at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": {
                "Arn": self._bus_arn,
                "RoleArn": self._role_arn,
                "EventBridgeParameters": {"DetailType": DetailType.RUN_CHECK_DUE.value, "Source": PIPELINE_SOURCE},
                "Input": detail.model_dump_json(),
                # A wake-up that cannot be delivered soon is worthless: the periodic check covers it.
                "RetryPolicy": {"MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 10},
            },
            "Description": f"aurora-restore wake-up of run {detail.run_id}",
        }

    def wake_at(self, name: str, at: datetime, detail: PipelineDetail) -> bool:
        try:
            self._client().create_schedule(**self.request(name, at, detail))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConflictException":
                return False
            raise translate(exc, "CreateSchedule") from None
        return True
