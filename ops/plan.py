"""`plan PIPELINE`: the read-only preflight of one pipeline (shared.preflight, every check), from the operator's
side: the live pipelines document, the snapshot a run would use now (or a pinned one), the functions' roles (when
they can be read) for the KMS and IAM checks, and past runs for the duration estimate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from infra.render import function_name
from ops.errors import USAGE, CliError, explain
from ops.rerun import configured_pipeline
from ops.session import Settings
from shared import preflight
from shared.aws.preflight import AwsPreflightProbe, IamSimulator
from shared.aws.rds import Rds
from shared.aws.state_store import DynamoStateStore
from shared.config import PipelineConfig
from shared.errors import PipelineError
from shared.model import Run
from shared.naming import run_id_for
from shared.ports import SnapshotView
from shared.steps.opening import HISTORY, validate
from shared.transitions import Step


def make_plan(settings: Settings, name: str, snapshot_id: str | None) -> preflight.Plan:
    """The plan of a run for the snapshot as its RDS event (or the fallback) would open it: that run's id names
    the swap's staging and retired clusters (a rerun gets an id of its own, so names of its own)."""
    pipeline = configured_pipeline(settings, name)
    region = pipeline.target_region
    source = Rds(settings.client("rds", pipeline.source_region), pipeline.source_region)
    snapshot, problem = choose_snapshot(source, pipeline, snapshot_id)
    roles = function_roles(settings)
    past, history_problem = history(settings, pipeline.name)
    now = datetime.now(UTC)
    account = next((arn.split(":")[4] for arn in (roles or {}).values()), "")
    inputs = preflight.Inputs(
        snapshot=snapshot,
        snapshot_problem=problem,
        history=past,
        history_problem=history_problem,
        roles=roles,
        run_id=run_id_for(pipeline.name, f"snapshot:{snapshot.arn}", snapshot.created_at or now) if snapshot else None,
        account=account,
        now=now,
    )
    probe = AwsPreflightProbe(
        region, settings.client("rds", region), settings.client("kms", region), settings.client("ec2", region)
    )
    target = Rds(settings.client("rds", region), region)
    return preflight.plan(pipeline, inputs, target, probe, IamSimulator(settings.client("iam")))


def choose_snapshot(source: Rds, pipeline: PipelineConfig, pinned: str | None) -> tuple[SnapshotView | None, str]:
    """The snapshot a run would restore now: the pinned one, else the source's newest automated one."""
    if pinned:
        identifier = pinned.split(":", 6)[6] if pinned.startswith("arn:") and pinned.count(":") >= 6 else pinned
        snapshot = source.find_cluster_snapshot(identifier)
        if snapshot is None:
            raise CliError(
                f"snapshot {pinned} does not exist in {pipeline.source_region}",
                f"list them: aws rds describe-db-cluster-snapshots --region {pipeline.source_region} "
                f"--db-cluster-identifier {pipeline.source_cluster_id}",
                USAGE,
            )
    else:
        snapshot = source.newest_automated_snapshot(pipeline.source_cluster_id)
        if snapshot is None:
            return None, f"no available automated snapshot of {pipeline.source_cluster_id} in {pipeline.source_region}"
    problem = validate(pipeline, snapshot)
    return (None, problem) if problem else (snapshot, "")


def history(settings: Settings, pipeline: str) -> tuple[list[Run], str]:
    """The pipeline's recent runs (for the duration estimate), or why they cannot be read: the plan stands without."""
    try:
        tables = settings.name("state_table"), settings.name("audit_table")
        return DynamoStateStore(settings.client("dynamodb"), *tables).recent_runs(pipeline, HISTORY), ""
    except (CliError, ClientError, PipelineError) as exc:
        problem = explain(exc)
        return [], f"past runs unreadable: {problem.message if problem else exc}"


def function_roles(settings: Settings) -> dict[str, str] | None:
    """step -> the role ARN of that step's function (GetFunctionConfiguration, `Role`:
    https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html). The functions are named per
    environment (infra.render.function_name). None when none can be read: the KMS access and IAM checks then say
    they could not check."""
    client = settings.client("lambda")
    environment = settings.environment or "dev"
    roles = {}
    for step in Step:
        name = function_name(step).replace("${Environment}", environment)
        try:
            roles[step.value] = str(client.get_function_configuration(FunctionName=name)["Role"])
        except ClientError:
            continue  # not deployed here, or not readable by the caller
    return roles or None


def as_json(plan: preflight.Plan) -> dict[str, Any]:
    data = plan.model_dump(mode="json")
    data["blockers"] = len(plan.blockers)
    return data
