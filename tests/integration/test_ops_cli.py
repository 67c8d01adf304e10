"""The operator CLI (`aurora-restore`, ops.cli) against the tables and bus of an emulated stack (moto + the local
runtime): every command, its JSON output, and a one-line error with an exit code for everything that goes wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from local_runtime.world import BUS_NAME
from ops import rerun
from ops.cli import app
from ops.errors import REFUSED, USAGE
from ops.session import Settings, StackNotFound, fill_names_from_stack
from shared.model import AuditRecord, RunStatus

REGION = ["--region", "us-west-2"]
RUNNER = CliRunner(env={"COLUMNS": "250"})  # wide enough that no cell wraps
README_SAMPLE = Path(__file__).parents[2] / "events" / "restore-requested.entries.json"


@pytest.fixture(autouse=True)
def stack_names(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the functions get (they carry the environment and the stack id), as an operator would export them."""
    monkeypatch.setenv("STATE_TABLE_NAME", world.tables["StateTable"]["TableName"])
    monkeypatch.setenv("AUDIT_TABLE_NAME", world.tables["AuditTable"]["TableName"])
    monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)
    monkeypatch.setenv("ENVIRONMENT", "dev")


def cli(*argv: str) -> tuple[int, str]:
    result = RUNNER.invoke(app, [*argv, *REGION])  # global options after the command, as operators type them
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def capture_restore_requests() -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name="us-west-2")
    events = boto3.client("events", region_name="us-west-2")
    queue = sqs.create_queue(QueueName="capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["aurora-restore"], "detail-type": ["RestoreRequested"]}
    events.put_rule(Name="capture", EventBusName=BUS_NAME, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="capture", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
    return sqs, queue


def forward_to_runtime(runtime: Any, sqs: Any, queue: str) -> Any:
    """A `sleep` that delivers what the CLI published to the local runtime and lets the pipeline answer."""

    def sleep(_: float) -> None:
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            envelope = json.loads(message["Body"])
            runtime.put_pipeline_event(envelope["detail-type"], envelope["detail"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        runtime.run_until(lambda: False, max_seconds=120)

    return sleep


def test_status_show_and_stalled_follow_a_run(runtime: Any, world: Any) -> None:
    # Given a run copying its snapshot
    world.nightly_snapshot(runtime)
    runtime.run_until(lambda: any(r.status is RunStatus.COPYING for r in runtime.deps.store.recent_runs(None, 5)))
    [run] = runtime.deps.store.recent_runs(None, 5)
    # When the operator lists runs, then it shows with its status as a word
    code, text = cli("status")
    assert code == 0 and "COPYING" in text and "nightly" in text
    code, text = cli("status", "--pipeline", "nightly", "-o", "json")
    assert code == 0 and json.loads(text)[0]["status"] == "COPYING"
    # When they show it, then its transitions read `-> REQUESTED`, never `None->REQUESTED`, and the timeline is drawn
    code, text = cli("show", run.run_id)
    assert code == 0 and "REQUESTED -> COPYING" in text and "RDS-EVENT-0169" in text
    assert "None" not in text and "-> REQUESTED" in text and "Timeline" in text and "█" in text
    shown = json.loads(cli("show", run.run_id, "-o", "json")[1])
    assert shown["run_id"] == run.run_id and [s["state"] for s in shown["timeline"]] == ["REQUESTED", "COPYING"]
    # stalled: exit 1 and a reason when a run needs a look, JSON that parses either way
    code, text = cli("stalled", "-o", "json")
    assert code in (0, 1) and isinstance(json.loads(text), list)
    code, text = cli("show", "no-such-run")
    assert code == 1 and "no run no-such-run" in text


def test_rerun_validates_publishes_and_reports_the_opened_run(
    runtime: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs, queue = capture_restore_requests()
    monkeypatch.setattr(rerun, "sleep", forward_to_runtime(runtime, sqs, queue))
    world.nightly_snapshot(runtime, deliver=False)
    # When the operator reruns and waits, then the pipeline's answer is the run it opened
    code, text = cli("rerun", "--pipeline", "nightly", "--wait", "--interval", "0")
    assert code == 0 and "opened run" in text, text
    [run] = runtime.deps.store.recent_runs("nightly", 5)
    assert run.run_id in text and run.trigger == "restore-requested"
    # When they rerun again while it is active, then it is refused before publishing, saying which run holds it
    code, text = cli("rerun", "--pipeline", "nightly", "-o", "json")
    assert code == REFUSED and run.run_id in text and "active run" in text
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None


def test_readme_rerun_sample_published_twice_opens_two_requests(world: Any) -> None:
    # The README's first sample carries no fixed request_id: each put-events is a new request (event id keys it)
    (entry,) = json.loads(README_SAMPLE.read_text())
    assert "request_id" not in json.loads(entry["Detail"])
    sqs, queue = capture_restore_requests()
    for _ in range(2):
        assert cli("rerun", "--pipeline", "nightly")[0] == 0
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    ids = {body["detail"]["request_id"] for body in bodies}
    assert len(bodies) == 2 and len(ids) == 2  # a fresh request_id each time


@pytest.mark.parametrize(
    ("argv", "exit_code", "words"),
    [
        (["--pipeline", "nope"], USAGE, "unknown pipeline 'nope'"),
        (["--pipeline", "Bad_Name"], USAGE, "invalid pipeline name 'Bad_Name'"),
        (["--pipeline", "nightly", "--snapshot", "rds:prod-aurora-1999-01-01-00-00"], USAGE, "does not exist"),
        (["--pipeline", "nightly", "--allow-older"], USAGE, "--allow-older needs --snapshot"),
    ],
)
def test_rerun_refuses_what_the_pipeline_would_refuse(world: Any, argv: list[str], exit_code: int, words: str) -> None:
    sqs, queue = capture_restore_requests()
    code, text = cli("rerun", *argv)
    assert code == exit_code and words in " ".join(text.split()), text
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None  # nothing published


def test_rerun_with_a_pinned_request_id_refuses_a_repeat(
    runtime: Any, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqs, queue = capture_restore_requests()
    monkeypatch.setattr(rerun, "sleep", forward_to_runtime(runtime, sqs, queue))
    world.nightly_snapshot(runtime, deliver=False)
    assert cli("rerun", "--pipeline", "nightly", "--request-id", "r-1", "--wait", "--interval", "0")[0] == 0
    [run] = runtime.deps.store.recent_runs("nightly", 5)
    runtime.run_until(lambda: runtime.deps.store.get_run(run.run_id).status.is_terminal)
    # When the same request id is given again, then the operator is told it was answered already; nothing is published
    code, text = cli("rerun", "--pipeline", "nightly", "--request-id", "r-1", "--wait", "--interval", "0")
    assert code == USAGE and "r-1 was answered already" in text and run.run_id in text, text
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None


def test_watch_follows_a_run_until_it_ends(runtime: Any, world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world.nightly_snapshot(runtime)
    runtime.run_until(lambda: bool(runtime.deps.store.recent_runs(None, 5)))
    [run] = runtime.deps.store.recent_runs(None, 5)
    monkeypatch.setattr(rerun, "sleep", lambda _: runtime.run_until(lambda: False, max_seconds=600))
    code, text = cli("watch", run.run_id, "--interval", "0")
    # This world has no MySQL server: the run fails in CONFIGURING_DB, and watch ends with it (exit 1, not SUCCEEDED)
    assert code == 1, text
    assert text.index("REQUESTED") < text.index("COPYING") < text.index("CONFIGURING_DB") < text.index("FAILED")
    assert "Cause [InternalError]" in text
    # -o json: one object per change of state, each line parses
    monkeypatch.setattr(rerun, "sleep", lambda _: None)
    code, text = cli("watch", run.run_id, "-o", "json")
    assert code == 1 and [json.loads(line)["status"] for line in text.splitlines()] == ["FAILED"]


def test_audit_rejected_lists_refusals(runtime: Any, world: Any) -> None:
    at = runtime.clock.now()
    refusal = AuditRecord(
        subject="pipeline#nightly",
        at=at,
        kind="refused",
        step="snapshot-check",
        message="target [busy]",
        pipeline="nightly",
        code="TargetBusy",
        trigger="RestoreRequested x",
    )
    runtime.deps.store.audit(refusal)
    code, text = cli("audit", "--rejected")
    assert code == 0 and "TargetBusy" in text and "target [busy]" in text  # brackets are text, not markup
    [row] = json.loads(cli("audit", "--rejected", "-o", "json")[1])
    assert row["code"] == "TargetBusy" and row["subject"] == "pipeline#nightly"


def test_redrive_republishes_the_original_events(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = boto3.client("sqs", region_name="us-west-2")
    failed = sqs.create_queue(QueueName="failed-invocations")["QueueUrl"]
    monkeypatch.setenv("FAILED_INVOCATIONS_QUEUE_URL", failed)
    capture, queue = capture_restore_requests()
    original = {
        "version": "0",
        "id": "e-1",
        "detail-type": "RestoreRequested",
        "source": "aurora-restore",
        "account": "123456789012",
        "time": "2026-11-25T03:00:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": {"version": "1", "pipeline": "nightly", "request_id": "lost-1"},
    }
    record = {  # Lambda's OnFailure destination record: the event is `requestPayload`
        "version": "1.0",
        "requestContext": {
            "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:snapshot-check:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": original,
        "responsePayload": {"errorMessage": "boom"},
    }
    rds_event = {**record, "requestPayload": {**original, "source": "aws.rds", "detail-type": "RDS DB Cluster Event"}}
    sqs.send_message(QueueUrl=failed, MessageBody=json.dumps(record))
    sqs.send_message(QueueUrl=failed, MessageBody=json.dumps(rds_event))
    code, text = cli("redrive", "--dry-run", "-o", "json")
    assert sorted(r["outcome"].split(":")[0] for r in json.loads(text)) == ["kept", "would republish"]
    assert capture.receive_message(QueueUrl=queue).get("Messages") is None
    code, text = cli("redrive")
    assert code == 1 and "republished" in text  # 1: the RDS event was kept for a hand invocation
    [message] = capture.receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"])["detail"]["request_id"] == "lost-1"


def test_config_show_and_validate(world: Any, tmp_path: Path) -> None:
    code, text = cli("config", "show", "-o", "json")
    assert code == 0 and json.loads(text)["pipelines"][0]["name"] == "nightly"
    code, text = cli("config", "validate")
    assert code == 0 and "valid" in text
    bad = tmp_path / "bad.json"
    bad.write_text('{"pipelines": [{"name": "X"}]}')
    code, text = cli("config", "push", str(bad))
    assert code == 1 and "nothing pushed" in text
    assert cli("config", "validate", str(tmp_path / "missing.json"))[0] == USAGE


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["status", "--state-table", "no-such-table"], "not found"),
        (["rerun", "--pipeline", "nightly", "--bus", "no-such-bus"], "no-such-bus"),
    ],
)
def test_an_aws_error_is_one_line_and_an_exit_code(world: Any, argv: list[str], words: str) -> None:
    code, text = cli(*argv)
    assert code != 0 and words in text and "error:" in text and "hint:" in text


def test_no_region_is_said_not_raised(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("TARGET_REGION", raising=False)
    result = RUNNER.invoke(app, ["status"])
    assert result.exit_code == USAGE and "no AWS region" in result.output and "Traceback" not in result.output


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
        settings = Settings(stack="aurora-restore-prod", region="us-west-2")
        fill_names_from_stack(settings, cloudformation)
        assert (settings.state_table, settings.audit_table, settings.bus) == (
            "aurora-restore-prod-state-0badc0de",
            "aurora-restore-prod-audit-0badc0de",
            "aurora-restore-prod",
        )
        # When the named stack does not exist, then the error names it and nothing is read
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id aurora-restore-qa does not exist")
        with pytest.raises(StackNotFound, match="aurora-restore-qa does not exist"):
            fill_names_from_stack(Settings(stack="aurora-restore-qa", region="us-west-2"), cloudformation)
