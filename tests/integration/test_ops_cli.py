"""The operator commands against the tables a real (emulated) run wrote."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local_runtime.world import BUS_NAME
from ops.cli import StackNotFound, cmd_stalled, fill_names_from_stack, main
from ops.cli import _parser as parser
from shared.model import RunStatus

ARGS = ["--region", "us-west-2"]


@pytest.fixture(autouse=True)
def stack_names(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the functions get (they carry the environment and the stack id), as an operator would export them."""
    monkeypatch.setenv("STATE_TABLE_NAME", world.tables["StateTable"]["TableName"])
    monkeypatch.setenv("AUDIT_TABLE_NAME", world.tables["AuditTable"]["TableName"])
    monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main([*ARGS, *argv], out)
    return code, out.getvalue()


def test_status_show_and_stalled_follow_a_run(runtime: Any, world: Any) -> None:
    world.nightly_snapshot(runtime)
    runtime.run_until(lambda: any(r.status is RunStatus.COPYING for r in runtime.deps.store.recent_runs(None, 5)))
    code, text = run_cli("status")
    assert code == 0 and "COPYING" in text and "nightly" in text
    [run] = runtime.deps.store.recent_runs(None, 5)
    code, text = run_cli("show", run.run_id)
    assert code == 0 and "REQUESTED->COPYING" in text and "RDS-EVENT-0169" in text
    out = io.StringIO()
    args = parser().parse_args([*ARGS, "stalled"])
    fill_names_from_stack(args)
    assert cmd_stalled(args, out, now=run.next_check_at + timedelta(minutes=30)) == 1
    assert "check overdue" in out.getvalue()
    assert cmd_stalled(args, io.StringIO(), now=run.updated_at) == 0


def test_rerun_publishes_a_valid_restore_requested(world: Any) -> None:
    sqs = boto3.client("sqs", region_name="us-west-2")
    events = boto3.client("events", region_name="us-west-2")
    queue = sqs.create_queue(QueueName="capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="capture",
        EventBusName="aurora-restore-dev",
        EventPattern=json.dumps({"source": ["aurora-restore"], "detail-type": ["RestoreRequested"]}),
    )
    events.put_targets(Rule="capture", EventBusName="aurora-restore-dev", Targets=[{"Id": "q", "Arn": arn}])
    code, text = run_cli("rerun", "--pipeline", "nightly", "--snapshot", "rds:prod-aurora-2026-11-25-03-00")
    assert code == 0 and "published" in text
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    assert detail["pipeline"] == "nightly" and detail["snapshot_identifier"].startswith("rds:prod-aurora")
    assert detail["allow_older"] is False
    assert detail["allow_older"] is False


def test_names_come_from_the_stack_outputs_and_a_missing_stack_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STATE_TABLE_NAME", "AUDIT_TABLE_NAME", "EVENT_BUS_NAME"):
        monkeypatch.delenv(name)
    cloudformation = boto3.client("cloudformation", region_name="us-west-2")
    outputs = [
        {"OutputKey": "StateTableName", "OutputValue": "aurora-restore-prod-state-0badc0de"},
        {"OutputKey": "AuditTableName", "OutputValue": "aurora-restore-prod-audit-0badc0de"},
        {"OutputKey": "EventBusName", "OutputValue": "aurora-restore-prod"},
    ]
    stack = {
        "StackName": "aurora-restore-prod",
        "CreationTime": "2026-11-25T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
    }
    with Stubber(cloudformation) as stub:
        # Given the prod stack; when no name is given, then its outputs name the tables and the bus
        stub.add_response(
            "describe_stacks", {"Stacks": [{**stack, "Outputs": outputs}]}, {"StackName": "aurora-restore-prod"}
        )
        args = parser().parse_args([*ARGS, "--stack", "aurora-restore-prod", "status"])
        fill_names_from_stack(args, cloudformation)
        assert (args.state_table, args.audit_table, args.bus) == (
            "aurora-restore-prod-state-0badc0de",
            "aurora-restore-prod-audit-0badc0de",
            "aurora-restore-prod",
        )
        # When the named stack does not exist, then the error names it and nothing is read
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id aurora-restore-qa does not exist")
        args = parser().parse_args([*ARGS, "--stack", "aurora-restore-qa", "status"])
        with pytest.raises(StackNotFound, match="aurora-restore-qa does not exist"):
            fill_names_from_stack(args, cloudformation)


def test_rerun_may_roll_back_only_a_pinned_snapshot(world: Any) -> None:
    code, text = run_cli("rerun", "--pipeline", "nightly", "--allow-older")
    assert code == 2 and "--allow-older needs --snapshot" in text
