"""`python -m ops <command>`: what an on-call operator needs, reading the same tables the pipeline writes.

    python -m ops status [--pipeline nightly]      recent runs, newest first
    python -m ops show RUN_ID                       one run: summary and its audit trail (timeline)
    python -m ops stalled [--overdue-minutes 10]    active runs whose next check is overdue or deadline near
    python -m ops rerun --pipeline nightly [--snapshot rds:prod-... [--allow-older]] [--reason ...]
    python -m ops config validate [FILE]            every problem of FILE (or of the live document), with paths
    python -m ops config push FILE                  validate, then make FILE the live pipelines document

Tables and bus are read from the stack's outputs (--stack, default `aurora-restore`, the samconfig default; the
prod stack is `aurora-restore-prod`): their names carry the environment and the stack id. Override them with
--state-table/--audit-table/--bus or the environment variables the functions use (STATE_TABLE_NAME,
AUDIT_TABLE_NAME, EVENT_BUS_NAME); --region or TARGET_REGION selects the region.
`config` works on /aurora-restore/<--environment or ENVIRONMENT, default dev>/pipelines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError

from ops import config_commands
from shared import report
from shared.aws.parameters import ParameterStore
from shared.aws.state_store import DynamoStateStore
from shared.clock import iso
from shared.events import PIPELINE_SOURCE, RestoreRequestedDetail
from shared.transitions import ACTIVE_STATUSES, DetailType


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--region", default=os.environ.get("TARGET_REGION") or os.environ.get("AWS_REGION"))
    parser.add_argument("--stack", default=os.environ.get("AURORA_RESTORE_STACK", "aurora-restore"))
    parser.add_argument("--state-table", default=os.environ.get("STATE_TABLE_NAME"))
    parser.add_argument("--audit-table", default=os.environ.get("AUDIT_TABLE_NAME"))
    parser.add_argument("--bus", default=os.environ.get("EVENT_BUS_NAME"))
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="recent runs")
    status.add_argument("--pipeline")
    status.add_argument("--limit", type=int, default=20)
    show = commands.add_parser("show", help="one run with its audit trail")
    show.add_argument("run_id")
    stalled = commands.add_parser("stalled", help="active runs that need a look")
    stalled.add_argument("--overdue-minutes", type=int, default=10)
    rerun = commands.add_parser("rerun", help="publish RestoreRequested")
    rerun.add_argument("--pipeline", required=True)
    rerun.add_argument("--snapshot", help="snapshot id or ARN to pin; default: the newest automated one")
    rerun.add_argument(
        "--allow-older",
        action="store_true",
        help="with --snapshot: restore it even if it is older than the snapshot the target holds (a rollback)",
    )
    rerun.add_argument("--reason")
    config = commands.add_parser("config", help="check or push the pipelines document")
    config.add_argument("--environment", default=os.environ.get("ENVIRONMENT", "dev"))
    config_commands = config.add_subparsers(dest="config_command", required=True)
    validate = config_commands.add_parser("validate", help="list every problem; no FILE: the live document")
    validate.add_argument("file", nargs="?", help="a JSON file, or - for stdin")
    push = config_commands.add_parser("push", help="validate, then write where the functions read it")
    push.add_argument("file", help="a JSON file, or - for stdin")
    return parser


# Option -> the stack output that names it (infra/template.src.yaml, Outputs).
STACK_OUTPUTS = {"state_table": "StateTableName", "audit_table": "AuditTableName", "bus": "EventBusName"}


class StackNotFound(Exception):
    """The stack to read names from is missing or lacks an output."""


def fill_names_from_stack(args: argparse.Namespace, cloudformation: Any = None) -> None:
    """Every name not given on the command line or in the environment, from the stack's outputs."""
    missing = [option for option in STACK_OUTPUTS if not getattr(args, option)]
    if not missing:
        return
    cloudformation = cloudformation or boto3.client("cloudformation", region_name=args.region)
    try:
        (stack,) = cloudformation.describe_stacks(StackName=args.stack)["Stacks"]
    except ClientError as exc:
        raise StackNotFound(f"stack {args.stack!r}: {exc.response['Error'].get('Message', exc)}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for option in missing:
        if STACK_OUTPUTS[option] not in outputs:
            raise StackNotFound(f"stack {args.stack!r} has no output {STACK_OUTPUTS[option]}")
        setattr(args, option, outputs[STACK_OUTPUTS[option]])


def _store(args: argparse.Namespace) -> DynamoStateStore:
    return DynamoStateStore(boto3.client("dynamodb", region_name=args.region), args.state_table, args.audit_table)


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    runs = _store(args).recent_runs(args.pipeline, args.limit)
    out.write(f"{'RUN':<26} {'PIPELINE':<12} {'STATUS':<17} {'STARTED':<21} {'NEXT CHECK':<21} LAST ERROR\n")
    for run in runs:
        nxt = "-" if run.status.is_terminal and run.notified_at else iso(run.next_check_at)
        error = run.failure or run.last_error
        out.write(
            f"{run.run_id:<26} {run.pipeline:<12} {run.status.value:<17} {iso(run.created_at):<21} "
            f"{nxt:<21} {error.code + ': ' + error.message[:80] if error else ''}\n"
        )
    return 0


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    store = _store(args)
    run = store.get_run(args.run_id)
    if run is None:
        out.write(f"no run {args.run_id} in {args.state_table}\n")
        return 1
    out.write(report.summary(run) + "\n\nAudit trail:\n")
    for record in store.audit_trail(run.run_id):
        move = f" {record.from_status}->{record.to_status}" if record.kind == "transition" else ""
        out.write(
            f"  {iso(record.at)} {record.step:<21} {record.kind:<10}{move} [{record.trigger or ''}] {record.message}\n"
        )
    return 0


def cmd_stalled(args: argparse.Namespace, out: TextIO, now: datetime | None = None) -> int:
    """Overdue: the orchestrator check should have looked by now. Near deadline: less than 10% of time left."""
    store = _store(args)
    moment = now or datetime.now(UTC)
    overdue = moment - timedelta(minutes=args.overdue_minutes)
    found = 0
    for status in ACTIVE_STATUSES:
        for run in store.due_runs(status, moment + timedelta(days=365), 500):
            window = run.deadline_at - run.state_entered_at
            reasons = []
            if run.next_check_at <= overdue:
                reasons.append(f"check overdue since {iso(run.next_check_at)} (is the orchestrator running?)")
            if run.deadline_at - moment < window / 10:
                reasons.append(f"deadline {iso(run.deadline_at)}")
            if run.last_error and run.attempts:
                reasons.append(f"retrying after {run.last_error.code} (attempt {run.attempts})")
            elif run.last_error:  # a busy resource or a queued copy: waited for, no attempt spent
                reasons.append(f"waiting on {run.last_error.code} (no attempt spent)")
            if reasons:
                found += 1
                out.write(f"{run.run_id} {run.pipeline} {status.value}: {'; '.join(reasons)}\n")
    if not found:
        out.write("no stalled runs\n")
    return 1 if found else 0


def cmd_rerun(args: argparse.Namespace, out: TextIO) -> int:
    if args.allow_older and not args.snapshot:
        out.write("--allow-older needs --snapshot: only a pinned snapshot may roll the target back\n")
        return 2
    detail = RestoreRequestedDetail(
        pipeline=args.pipeline,
        snapshot_identifier=args.snapshot,
        allow_older=args.allow_older,
        request_id=f"ops-{uuid.uuid4().hex[:12]}",
        requested_by=os.environ.get("USER", "operator"),
        reason=args.reason,
    )
    events = boto3.client("events", region_name=args.region)
    response = events.put_events(
        Entries=[
            {
                "Source": PIPELINE_SOURCE,
                "DetailType": DetailType.RESTORE_REQUESTED.value,
                "Detail": detail.model_dump_json(exclude_none=True),
                "EventBusName": args.bus,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        out.write(f"rejected by EventBridge: {json.dumps(response['Entries'])}\n")
        return 1
    out.write(
        f"RestoreRequested {detail.request_id} published on {args.bus}; follow it with "
        f"`python -m ops status --pipeline {args.pipeline}`\n"
    )
    return 0


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def cmd_config(args: argparse.Namespace, out: TextIO) -> int:
    def store() -> ParameterStore:
        return ParameterStore(boto3.client("ssm", region_name=args.region))

    if args.config_command == "validate":
        if args.file:  # offline: no AWS credentials or region needed
            return config_commands.validate(_read(args.file), args.environment, None, out)
        return config_commands.validate(None, args.environment, store(), out)
    return config_commands.push(_read(args.file), args.environment, store(), out)


COMMANDS: dict[str, Any] = {
    "status": cmd_status,
    "show": cmd_show,
    "stalled": cmd_stalled,
    "rerun": cmd_rerun,
    "config": cmd_config,
}


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command != "config":  # the pipelines document is found by environment, not through the stack
            fill_names_from_stack(args)
    except StackNotFound as exc:
        out.write(f"{exc}; name it with --stack, or give --state-table, --audit-table and --bus\n")
        return 2
    return int(COMMANDS[args.command](args, out))
