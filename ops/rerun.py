"""`rerun`: check a RestoreRequested before publishing it, publish it, and (with --wait) report what the pipeline
answered. The checks repeat what snapshot-check does (shared.steps.snapshot_check.on_restore_requested), so a rerun
that would be refused is refused here, with its reason, before anything reaches the bus."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError

from ops.config_commands import DocumentStore
from ops.errors import REFUSED, USAGE, CliError
from ops.session import Settings
from shared.aws.parameters import ParameterStore
from shared.aws.state_store import DynamoStateStore
from shared.config import PipelineConfig, config_problems, parse_config, pipeline_name_problem
from shared.config_document import document_parameter, seed_parameter
from shared.events import PIPELINE_SOURCE, RestoreRequestedDetail
from shared.naming import lock_key_for
from shared.outside_run import pipeline_subject
from shared.transitions import DetailType

# Replaced by tests to advance a simulated world instead of sleeping.
sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Answer:
    """What the pipeline did with the request: opened a run, or refused/ignored it (with its audit message)."""

    outcome: str  # opened | refused | rejected | ignored | no answer
    at: datetime
    run_id: str | None = None
    code: str | None = None
    message: str = ""


def document_names(settings: Settings) -> tuple[str, str]:
    """The operator's pipelines document and the stack's seed: by --environment/ENVIRONMENT, else the stack."""
    if settings.environment:
        return document_parameter(settings.environment), seed_parameter(settings.environment)
    return settings.name("config_parameter"), settings.name("seed_parameter")


def live_pipelines(settings: Settings, store: DocumentStore | None = None) -> list[PipelineConfig]:
    """The pipelines the functions read now (the operator's document, else the seed)."""
    store = store or ParameterStore(settings.client("ssm"))
    for name in document_names(settings):
        text = store.read(name)
        if text is None:
            continue
        problems = config_problems(text)
        if problems:
            raise CliError(
                f"the live pipelines document {name} is invalid: {'; '.join(problems)}",
                "fix it: `aurora-restore config validate`, then `config push FILE`",
            )
        return list(parse_config(text).pipelines)
    raise CliError(f"no pipelines document in {' nor '.join(document_names(settings))}", "`config push FILE`")


def configured_pipeline(settings: Settings, name: str) -> PipelineConfig:
    """The pipeline of that name in the live document; a CliError for an invalid or unknown name."""
    problem = pipeline_name_problem(name)
    if problem:
        raise CliError(f"invalid pipeline name {name!r}: {problem}", "", USAGE)
    pipelines = live_pipelines(settings)
    pipeline = next((p for p in pipelines if p.name == name), None)
    if pipeline is None:
        known = ", ".join(p.name for p in pipelines) or "none"
        raise CliError(f"unknown pipeline {name!r}", f"configured pipelines: {known}", USAGE)
    return pipeline


def check_request(settings: Settings, name: str, snapshot: str | None, allow_older: bool) -> PipelineConfig:
    """The pipeline to rerun; a CliError saying why the request would be refused."""
    if allow_older and not snapshot:
        raise CliError("--allow-older needs --snapshot: only a pinned snapshot may roll the target back", "", USAGE)
    pipeline = configured_pipeline(settings, name)
    if snapshot:
        _check_snapshot(settings, pipeline, snapshot)
    store = DynamoStateStore(settings.client("dynamodb"), settings.name("state_table"), settings.name("audit_table"))
    holder = store.lock_holder(lock_key_for(pipeline.target_region, pipeline.target_cluster_id))
    if holder:
        raise CliError(
            f"target {pipeline.target_cluster_id} already has an active run {holder}; a rerun would be refused",
            f"wait for it: `aurora-restore watch {holder}`",
            REFUSED,
        )
    return pipeline


def _check_snapshot(settings: Settings, pipeline: PipelineConfig, snapshot: str) -> None:
    """The pinned snapshot exists. An ARN names its own region; an id is looked up in the source region.
    DescribeDBClusterSnapshots takes an id or, for a shared snapshot, an ARN:
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusterSnapshots.html"""
    region = snapshot.split(":")[3] if snapshot.startswith("arn:") else pipeline.source_region
    rds = settings.client("rds", region)
    kwargs = {"DBClusterSnapshotIdentifier": snapshot}
    if snapshot.startswith("arn:"):
        kwargs["IncludeShared"] = True  # type: ignore[assignment]
    try:
        found = rds.describe_db_cluster_snapshots(**kwargs)["DBClusterSnapshots"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "DBClusterSnapshotNotFoundFault":
            raise
        found = []
    if not found:
        raise CliError(
            f"snapshot {snapshot} does not exist in {region}",
            f"list them: aws rds describe-db-cluster-snapshots --region {region} "
            f"--db-cluster-identifier {pipeline.source_cluster_id}",
            USAGE,
        )


def publish(settings: Settings, detail: RestoreRequestedDetail) -> None:
    response = settings.client("events").put_events(
        Entries=[
            {
                "Source": PIPELINE_SOURCE,
                "DetailType": DetailType.RESTORE_REQUESTED.value,
                "Detail": detail.model_dump_json(exclude_none=True),
                "EventBusName": settings.name("bus"),
            }
        ]
    )
    if response.get("FailedEntryCount"):
        failed = response["Entries"][0]
        raise CliError(
            f"EventBridge refused the event: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}",
            "check --stack / --bus and your events:PutEvents permission",
        )


def new_request(
    name: str, snapshot: str | None, allow_older: bool, reason: str | None, request_id: str | None
) -> RestoreRequestedDetail:
    """A fresh request_id each time unless pinned: snapshot-check keys its idempotency on it, so a repeated id is
    a duplicate the pipeline ignores (shared.inbound)."""
    return RestoreRequestedDetail(
        pipeline=name,
        snapshot_identifier=snapshot,
        allow_older=allow_older,
        request_id=request_id or f"ops-{uuid.uuid4().hex[:12]}",
        requested_by=os.environ.get("USER", "operator"),
        reason=reason,
    )


def answers(store: DynamoStateStore, pipeline: str, request_id: str) -> set[Answer]:
    """Every answer to this request so far: the run it opened, the audit records of refusals (subject
    `pipeline#<name>`, where snapshot-check records them) and of duplicates."""
    trigger = f"RestoreRequested {request_id}"
    found = {
        Answer("opened", run_id=run.run_id, at=run.created_at)
        for run in store.recent_runs(pipeline, 20)
        if run.trigger_detail == trigger or run.trigger_detail.startswith(trigger + " ")
    }
    for record in store.audit_trail(pipeline_subject(pipeline)):
        if record.trigger == trigger and record.kind in ("refused", "rejected", "ignored"):
            found.add(Answer(record.kind, code=record.code, message=record.message, at=record.at))
    return found


def refuse_repeat(store: DynamoStateStore, pipeline: str, request_id: str) -> None:
    """A request id the pipeline answered already: a repeat is swallowed as a duplicate (Powertools idempotency,
    24 h: shared.deps) and nothing would tell the operator, so it is refused here."""
    earlier = sorted(answers(store, pipeline, request_id), key=lambda a: a.at)
    if earlier:
        first = earlier[0]
        what = f"opened run {first.run_id}" if first.run_id else f"{first.outcome}: {first.message}"
        raise CliError(
            f"request id {request_id} was answered already ({what}); the pipeline ignores a repeated id for 24 h",
            "leave out --request-id: each rerun then gets a fresh one",
            USAGE,
        )


def wait_for_answer(store: DynamoStateStore, pipeline: str, request_id: str, timeout: float, interval: float) -> Answer:
    """The pipeline's first answer to the request: the run it opened, or its refusal."""
    deadline = time.monotonic() + timeout
    while True:
        found = sorted(answers(store, pipeline, request_id), key=lambda a: a.at)
        if found:
            return found[0]
        if time.monotonic() >= deadline:
            return Answer("no answer", message=f"no answer within {timeout:g} s", at=datetime.now(UTC))
        sleep(interval)
