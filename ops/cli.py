"""`aurora-restore` (also `python -m ops`): the operator's one CLI, reading the tables the pipeline writes.

Global options (--stack, --region, --endpoint-url, -o/--output, --environment and the name overrides) are accepted
before or after the command: GlobalOptionsGroup moves them in front before parsing. Every AWS error becomes one
line with a hint and a non-zero exit code (ops.errors.explain), never a traceback."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperGroup

from ops import config_commands, redrive, render, rerun
from ops import plan as planning
from ops import rollback as rollback_ops
from ops.errors import BLOCKED, REFUSED, USAGE, CliError, explain
from ops.hints import hint_for
from ops.session import Settings
from shared import evidence as restore_evidence
from shared.aws.parameters import ParameterStore
from shared.aws.state_store import DynamoStateStore
from shared.clock import iso
from shared.model import Run
from shared.outside_run import REJECTED, UNMATCHED, pipeline_subject
from shared.report import duration, summary

# Global options: name -> takes a value. Moved before the command wherever they are written.
GLOBAL_OPTIONS = {
    "--stack": True,
    "--region": True,
    "--endpoint-url": True,
    "-o": True,
    "--output": True,
    "--environment": True,
    "--state-table": True,
    "--audit-table": True,
    "--bus": True,
}


def hoist_global_options(args: list[str]) -> list[str]:
    """`status --region x` -> `--region x status`: global options first, the rest in order (`--` stops it)."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        name = arg.split("=", 1)[0]
        if name in GLOBAL_OPTIONS:
            if "=" in arg or not GLOBAL_OPTIONS[name]:
                front.append(arg)
            else:
                front += args[index : index + 2]
                index += 1
        else:
            rest.append(arg)
        index += 1
    return front + rest


class GlobalOptionsGroup(TyperGroup):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's click Context
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:  # typer's own exits and usage errors are not AWS errors: explain() passes them
            error = explain(exc)
            if error is None:
                raise
            fail(error)


def fail(error: CliError) -> None:
    console = render.console(stderr=True)
    console.print(f"[bold red]error:[/bold red] {error.message}", markup=True, soft_wrap=True)
    if error.hint:
        console.print(f"hint: {error.hint}", soft_wrap=True)
    raise typer.Exit(error.exit_code)


app = typer.Typer(
    cls=GlobalOptionsGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Operate aurora-restore: runs, reruns, audit, failed invocations, the pipelines document. "
    "There is no `rollback` command yet (it needs the restore-beside-and-swap cut-over); roll back with "
    "`rerun --snapshot ID --allow-older`.",
)
config_app = typer.Typer(no_args_is_help=True, help="Check, show or push the pipelines document.")
app.add_typer(config_app, name="config")

Output = Annotated[str, typer.Option("--output", "-o", help="table or json")]


@app.callback()
def main_options(
    ctx: typer.Context,
    stack: Annotated[
        str, typer.Option(envvar="AURORA_RESTORE_STACK", help="stack whose outputs name tables, bus, queues")
    ] = "aurora-restore",
    region: Annotated[str | None, typer.Option(envvar="TARGET_REGION", help="AWS region of the stack")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="AWS endpoint (moto server, local)")] = None,
    output: Output = "table",
    environment: Annotated[
        str | None, typer.Option(envvar="ENVIRONMENT", help="dev|prod: names the pipelines document")
    ] = None,
    state_table: Annotated[str | None, typer.Option(envvar="STATE_TABLE_NAME")] = None,
    audit_table: Annotated[str | None, typer.Option(envvar="AUDIT_TABLE_NAME")] = None,
    bus: Annotated[str | None, typer.Option(envvar="EVENT_BUS_NAME")] = None,
) -> None:
    if output not in ("table", "json"):
        raise typer.BadParameter("table or json", param_hint="--output")
    ctx.obj = Settings(
        stack=stack,
        region=region,
        endpoint_url=endpoint_url,
        output=output,
        environment=environment,
        state_table=state_table,
        audit_table=audit_table,
        bus=bus,
    )


def settings_of(ctx: typer.Context) -> Settings:
    settings = ctx.find_object(Settings)
    assert settings is not None
    return settings


def store_of(settings: Settings) -> DynamoStateStore:
    return DynamoStateStore(settings.client("dynamodb"), settings.name("state_table"), settings.name("audit_table"))


# ---- Runs --------------------------------------------------------------------------------------------------------
@app.command()
def status(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option(help="only this pipeline")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
) -> None:
    """Recent runs, newest first."""
    settings = settings_of(ctx)
    rows = [render.run_row(run) for run in store_of(settings).recent_runs(pipeline, limit)]
    if settings.json:
        render.print_json(rows)
        return
    columns = ["RUN", "PIPELINE", "STATUS", "STARTED", "NEXT CHECK", "LAST ERROR"]
    render.table(None, columns, ([r[k] for k in r] for r in rows))
    if not rows:
        render.console().print("no runs" + (f" of pipeline {pipeline}" if pipeline else ""))


def _get_run(settings: Settings, run_id: str) -> tuple[DynamoStateStore, Run]:
    store = store_of(settings)
    run = store.get_run(run_id)
    if run is None:
        raise CliError(f"no run {run_id} in {settings.name('state_table')}", "list runs: `aurora-restore status`")
    return store, run


@app.command()
def show(
    ctx: typer.Context,
    run_id: str,
    evidence: Annotated[
        bool, typer.Option("--evidence", help="the restore's evidence (Markdown; JSON with -o json)")
    ] = False,
) -> None:
    """One run: summary, a timeline chart, its failure with the operator's hint, and its audit trail."""
    settings = settings_of(ctx)
    store, run = _get_run(settings, run_id)
    if evidence:
        show_evidence(settings, run)
        return
    stages = render.timeline(run, datetime.now(UTC))
    trail = [render.audit_row(record) for record in store.audit_trail(run.run_id)]
    failure = run.failure
    if settings.json:
        data = run.model_dump(mode="json")
        data.update(timeline=stages, audit=trail, hint=hint_for(failure.code) if failure else None)
        render.print_json(data)
        return
    console = render.console()
    console.print(summary(run).split("\n\nStep timings")[0], soft_wrap=True, markup=False)
    if failure:
        console.print(f"hint: {hint_for(failure.code)}", soft_wrap=True, markup=False)
    console.print()
    render.timeline_chart(stages)
    columns = ["AT", "STEP", "KIND", "MOVE", "TRIGGER", "MESSAGE"]
    render.table(
        "Audit trail", columns, ([r["at"], r["step"], r["kind"], r["move"], r["trigger"], r["message"]] for r in trail)
    )


def show_evidence(settings: Settings, run: Run) -> None:
    pipeline = None
    with contextlib.suppress(CliError):  # without a readable document, the evidence says so for the masking SQL
        pipeline = next((p for p in rerun.live_pipelines(settings) if p.name == run.pipeline), None)
    record = restore_evidence.build(run, pipeline)
    if settings.json:
        render.print_json(record.model_dump(mode="json"))
    else:
        render.console().print(restore_evidence.markdown(record), soft_wrap=True, markup=False)


@app.command()
def watch(
    ctx: typer.Context,
    run_id: str,
    interval: Annotated[float, typer.Option(min=0.0, help="seconds between polls")] = 15.0,
    timeout: Annotated[float, typer.Option(min=0.0, help="give up after this many seconds (0: never)")] = 0.0,
) -> None:
    """Follow a run live: a line per change of state, until it ends (exit 0 SUCCEEDED, 1 otherwise)."""
    settings = settings_of(ctx)
    store, run = _get_run(settings, run_id)
    console = render.console()
    started = time.monotonic()
    last = ""
    while True:
        line = f"{run.status.value}" + (f" ({run.last_error.code}: {run.last_error.message})" if run.last_error else "")
        if line != last:
            if settings.json:
                # one JSON object per line (JSON Lines): a script reads each change as it comes
                console.print(
                    json.dumps({"at": iso(datetime.now(UTC)), **render.run_row(run)}), soft_wrap=True, markup=False
                )
            else:
                console.print(f"{iso(datetime.now(UTC))} {run.run_id} {line}", soft_wrap=True, markup=False)
            last = line
        if run.status.is_terminal:
            break
        if timeout and time.monotonic() - started >= timeout:
            raise CliError(f"run {run_id} still {run.status.value} after {timeout:g} s", "watch it again", 1)
        rerun.sleep(interval)
        fresh = store.get_run(run_id)
        run = fresh or run
    if not settings.json:
        console.print(summary(run), soft_wrap=True, markup=False)
    raise typer.Exit(0 if run.status.value == "SUCCEEDED" else 1)


def stalled_runs(store: DynamoStateStore, moment: datetime, overdue_minutes: int) -> list[dict[str, Any]]:
    """Overdue: the orchestrator check should have looked by now. Near deadline: less than 10% of time left."""
    overdue = moment - timedelta(minutes=overdue_minutes)
    found = []
    for run in store.due_runs(moment + timedelta(days=365), 500):
        if run.status.is_terminal:
            continue
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
            found.append(
                {"run_id": run.run_id, "pipeline": run.pipeline, "status": run.status.value, "reasons": reasons}
            )
    return found


@app.command()
def stalled(
    ctx: typer.Context,
    overdue_minutes: Annotated[int, typer.Option(min=1)] = 35,
) -> None:
    """Active runs whose check is overdue, whose deadline is near, or that are retrying (exit 1 if any)."""
    settings = settings_of(ctx)
    found = stalled_runs(store_of(settings), datetime.now(UTC), overdue_minutes)
    if settings.json:
        render.print_json(found)
    elif found:
        render.table(None, ["RUN", "PIPELINE", "STATUS", "WHY"], ([f[k] for k in f] for f in found))
    else:
        render.console().print("no stalled runs")
    raise typer.Exit(1 if found else 0)


# ---- Reruns ------------------------------------------------------------------------------------------------------
@app.command("rerun")
def rerun_command(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Option(help="the pipeline to run now")],
    snapshot: Annotated[str | None, typer.Option(help="snapshot id or ARN to pin; default the newest")] = None,
    allow_older: Annotated[bool, typer.Option(help="with --snapshot: may roll the target back")] = False,
    reason: Annotated[str | None, typer.Option(help="why (audited)")] = None,
    request_id: Annotated[str | None, typer.Option(help="pin the request id (default: a fresh one)")] = None,
    wait: Annotated[bool, typer.Option(help="wait for the pipeline's answer")] = False,
    timeout: Annotated[float, typer.Option(min=0.0, help="with --wait: seconds")] = 120.0,
    interval: Annotated[float, typer.Option(min=0.0, help="with --wait: seconds between polls")] = 3.0,
) -> None:
    """Validate, then publish RestoreRequested; with --wait, report the run it opened or why it was refused."""
    settings = settings_of(ctx)
    rerun.check_request(settings, pipeline, snapshot, allow_older)
    detail = rerun.new_request(pipeline, snapshot, allow_older, reason, request_id)
    request = str(detail.request_id)
    store = store_of(settings)
    if request_id:
        rerun.refuse_repeat(store, pipeline, request_id)
    rerun.publish(settings, detail)
    answer = rerun.wait_for_answer(store, pipeline, request, timeout, interval) if wait else None
    if settings.json:
        data: dict[str, Any] = {"request_id": request, "pipeline": pipeline, "bus": settings.name("bus")}
        if answer:
            data.update(outcome=answer.outcome, run_id=answer.run_id, code=answer.code, message=answer.message)
        render.print_json(data)
    else:
        console = render.console()
        console.print(f"RestoreRequested {request} published on {settings.name('bus')}", markup=False)
        if answer is None:
            console.print(f"follow it: aurora-restore status --pipeline {pipeline}", markup=False)
        elif answer.outcome == "opened":
            console.print(f"opened run {answer.run_id}; follow it: aurora-restore watch {answer.run_id}", markup=False)
        else:
            code = f" [{answer.code}]" if answer.code else ""
            console.print(f"{answer.outcome}{code}: {answer.message}", soft_wrap=True, markup=False)
    if answer and answer.outcome != "opened":
        raise typer.Exit(REFUSED)


# ---- Rollback ---------------------------------------------------------------------------------------------------
@app.command()
def rollback(
    ctx: typer.Context,
    pipeline: str,
    timeout: Annotated[float, typer.Option(min=0.0, help="seconds to keep going (it can be resumed)")] = 1800.0,
    interval: Annotated[float, typer.Option(min=1.0, help="seconds between looks")] = 20.0,
) -> None:
    """Put the retired target back under the target name (after a `swap`, while it is kept); audited, notified."""
    settings = settings_of(ctx)
    deps = rollback_ops.deps_of(settings)
    console = render.console()
    progress = rollback_ops.roll_back(
        deps, pipeline, lambda line: console.print(line, soft_wrap=True, markup=False), timeout, interval
    )
    if settings.json:
        render.print_json({"pipeline": pipeline, "done": progress.done, "message": progress.message})
    if not progress.done:
        console.print(f"not finished yet: run `aurora-restore rollback {pipeline}` again to go on", markup=False)
        raise typer.Exit(REFUSED)


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    pipeline: Annotated[str, typer.Argument(help="the pipeline to check")],
    snapshot: Annotated[
        str | None, typer.Option(help="snapshot id or ARN a rerun would pin; default the newest")
    ] = None,
) -> None:
    """What a run would do now and whether AWS would let it (read-only). Exit 4 on a blocker."""
    settings = settings_of(ctx)
    found = planning.make_plan(settings, pipeline, snapshot)
    if settings.json:
        render.print_json(planning.as_json(found))
    else:
        console = render.console()
        estimate = duration(found.estimate_seconds) if found.estimate_seconds is not None else "unknown"
        console.print(
            f"Plan for pipeline {found.pipeline}: snapshot {found.snapshot_id or '-'}, strategy {found.strategy}, "
            f"cutover {found.cutover}, estimated duration {estimate}",
            soft_wrap=True,
            markup=False,
        )
        render.table(None, ["CHECK", "RESULT", "DETAIL"], ([f.check, f.level, f.detail] for f in found.findings))
        blockers = len(found.blockers)
        console.print(f"{blockers} blocker(s)" if blockers else "no blocker", markup=False)
    raise typer.Exit(BLOCKED if found.blockers else 0)


# ---- Audit and failed invocations --------------------------------------------------------------------------------
@app.command()
def audit(
    ctx: typer.Context,
    rejected: Annotated[bool, typer.Option(help="only rejected, refused and ignored records")] = False,
    subject: Annotated[str | None, typer.Option(help="a run id or pipeline#<name>")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
) -> None:
    """Recent audit records outside runs: rejected events, refused and ignored triggers (newest first)."""
    settings = settings_of(ctx)
    store = store_of(settings)
    if subject:
        subjects = [subject]
    else:
        pipelines = {run.pipeline for run in store.recent_runs(None, 100)}
        with contextlib.suppress(CliError):  # without a readable document, the pipelines of recent runs
            pipelines |= {p.name for p in rerun.live_pipelines(settings)}
        subjects = [REJECTED, UNMATCHED, *sorted(pipeline_subject(p) for p in pipelines)]
    records = [record for s in subjects for record in store.audit_trail(s)]
    if rejected:
        records = [r for r in records if r.kind in ("rejected", "refused", "ignored")]
    rows = [render.audit_row(r) for r in sorted(records, key=lambda r: r.at, reverse=True)[:limit]]
    if settings.json:
        render.print_json(rows)
        return
    columns = ["AT", "SUBJECT", "KIND", "CODE", "TRIGGER", "MESSAGE"]
    render.table(
        None, columns, ([r["at"], r["subject"], r["kind"], r["code"], r["trigger"], r["message"]] for r in rows)
    )
    if not rows:
        render.console().print("no records")


@app.command("redrive")
def redrive_command(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option(help="list what would be re-published; change nothing")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Re-publish the original events of FailedInvocationsQueue's messages on the bus (deleting each one sent)."""
    settings = settings_of(ctx)
    done = redrive.redrive(settings, dry_run, limit)
    if settings.json:
        render.print_json([vars(d) for d in done])
    else:
        render.table(
            None,
            ["MESSAGE", "SOURCE", "DETAIL TYPE", "FUNCTION", "OUTCOME"],
            ([d.message_id, d.source, d.detail_type, d.function, d.outcome] for d in done),
        )
        if not done:
            render.console().print("the queue is empty")
    raise typer.Exit(1 if any(d.outcome.startswith("kept") for d in done) else 0)


# ---- The pipelines document --------------------------------------------------------------------------------------
def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", "", USAGE) from None


def _environment(settings: Settings) -> str:
    return settings.environment or "dev"


@config_app.command("validate")
def config_validate(
    ctx: typer.Context, file: Annotated[str | None, typer.Argument(help="a JSON file, - for stdin")] = None
) -> None:
    """Every problem of FILE, or (no FILE) of the live document."""
    settings = settings_of(ctx)
    out = sys.stdout
    if file:  # offline: no AWS credentials or region needed
        code = config_commands.validate(_read(file), _environment(settings), None, out)
    else:
        code = config_commands.validate(None, _environment(settings), ParameterStore(settings.client("ssm")), out)
    raise typer.Exit(code)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """The live pipelines document (yours, else the stack's seed) and where it is read from."""
    settings = settings_of(ctx)
    live = config_commands.live_document(ParameterStore(settings.client("ssm")), _environment(settings))
    if live is None:
        raise CliError(f"no pipelines document for environment {_environment(settings)}", "`config push FILE`")
    name, text = live
    if settings.json:
        render.console().print_json(text)
    else:
        render.console().print(f"{name}:", markup=False)
        render.console().print_json(text)


@config_app.command("push")
def config_push(ctx: typer.Context, file: Annotated[str, typer.Argument(help="a JSON file, - for stdin")]) -> None:
    """Validate FILE, then make it the live pipelines document (nothing is written on a problem)."""
    settings = settings_of(ctx)
    store = ParameterStore(settings.client("ssm"))
    raise typer.Exit(config_commands.push(_read(file), _environment(settings), store, sys.stdout))


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Console script entry point (`aurora-restore`) and `python -m ops`; `out` captures what it prints."""
    with contextlib.redirect_stdout(out) if out is not None else contextlib.nullcontext():
        try:
            app(args=argv, prog_name="aurora-restore", standalone_mode=True)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (1 if exc.code else 0)
    return 0
