"""Fuzzes every Lambda entry point with arbitrary JSON and with broken versions of the real samples in `events/`.

A handler must never raise on bad input (Lambda would retry it twice, then dead-letter it), must answer with a
known outcome, and must change nothing: the RDS estate in both regions and the run items of the state table stay
as they were. The one legitimate change is snapshot-check opening a run for an input that is a valid trigger
(a mutation can leave a RestoreRequested valid); that is checked to be a parseable event and then undone.

Handlers run with the real `Deps` of the local runtime (moto, idempotency on), built once for the module.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
os.environ["POWERTOOLS_LOG_LEVEL"] = "ERROR"

import boto3  # noqa: E402
import hypothesis  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.rds.models import rds_backends  # noqa: E402

from local_runtime.runtime import FakeLambdaContext, LocalRuntime  # noqa: E402
from local_runtime.template_rules import functions  # noqa: E402
from local_runtime.world import SOURCE_REGION, TARGET_REGION, World, default_config  # noqa: E402
from shared.inbound import Rejected, parse_event  # noqa: E402
from shared.transitions import Step  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (REPO / "services").iterdir() if (p / "app.py").exists())
SAMPLES = [
    json.loads(p.read_text()) for p in sorted((REPO / "events").glob("*.json")) if not p.name.endswith(".entries.json")
]
OUTCOMES = {"rejected", "ignored", "none", "refused", "checked", "opened", "error", "advanced"}
MAX_EXAMPLES = 150

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

EVENT_IDS = [
    "RDS-EVENT-0169",
    "RDS-EVENT-0075",
    "RDS-EVENT-0003",
    "RDS-EVENT-0005",
    "RDS-EVENT-0016",
    "RDS-EVENT-0170",
    "RDS-EVENT-0171",
    "RDS-EVENT-9999",
    "RDS-EVENT-016",
    "RDS-EVENT-01690",
    "rds-event-0169",
    "",
]
ARNS = [
    "arn:aws:rds:us-west-2:123456789012:cluster:staging-aurora",
    "arn:aws:rds:us-west-2:123456789012:db:staging-aurora-1",
    "arn:aws:rds:us-west-2:123456789012:db:staging-aurora-7",
    "arn:aws:rds:us-west-2:123456789012:db:unrelated-db",
    "arn:aws:rds:us-east-1:123456789012:cluster:prod-aurora",
    "arn:aws:rds:us-east-1:123456789012:db:prod-aurora-1",
    "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-aurora-2026-11-25-03-10",
    "arn:aws:rds:us-west-2:123456789012:cluster-snapshot:ar-nightly-old-0",
    "arn:aws:rds:us-west-2:123456789012:cluster-snapshot:nightly-manual-keep-me",
    "arn:aws:rds:eu-west-1:123456789012:cluster:staging-aurora",
    "arn:aws:rds:us-west-2:999999999999:cluster:staging-aurora",
    "arn:aws:rds:us-west-2:123456789012:cluster:",
    "arn:aws:rds:us-west-2:123456789012",
    "arn:aws:s3:::bucket",
]
# plausible-but-wrong values for detail fields (besides arbitrary JSON)
DETAIL_VALUES = [
    "nightly",
    "Nightly",
    "other-pipeline",
    "20261125t0310-3f9a1c2b7d",
    "rds:prod-aurora-2026-11-25-03-10",
    "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:prod-aurora-2026-11-25-03-10",
    "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:rds:prod-aurora-2026-11-25-03-10",
    "arn:aws:rds:us-east-1:123456789012:cluster:prod-aurora",
    "ar-nightly-old-0",
    "nightly-manual-keep-me",
    "COPYING",
    "SUCCEEDED",
    "RESTORING",
    "2",
    -1,
    2**70,
    "2026-13-45T99:99:99Z",
    "",
    "x" * 600,
]
SOURCES = ["aws.rds", "aurora-restore", "aws.scheduler", "aws.events", "aws.ec2", ""]
DETAIL_TYPES = [
    "RDS DB Cluster Snapshot Event",
    "RDS DB Cluster Event",
    "RDS DB Instance Event",
    "Scheduled Event",
    "RestoreRequested",
    "RunRequested",
    "SnapshotCopied",
    "TargetDeleted",
    "ClusterAvailable",
    "DatabaseReady",
    "RunSucceeded",
    "RunFailed",
    "RunCheckDue",
    "RunCheckdue",
]

# Arbitrary JSON ---------------------------------------------------------------------------------------------------
json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)
# Envelope-shaped dicts with arbitrary parts: gets past the first `isinstance(raw, dict)` and into each branch.
envelope_like = st.fixed_dictionaries(
    {
        "source": st.sampled_from(SOURCES) | json_values,
        "detail-type": st.sampled_from(DETAIL_TYPES) | json_values,
        "detail": json_values,
    },
    optional={
        "version": st.just("0") | json_values,
        "id": st.uuids().map(str) | json_values,
        "time": st.sampled_from(["2026-11-25T03:14:07Z", "not a time", ""]) | json_values,
        "account": st.just("123456789012") | json_values,
        "region": st.sampled_from([TARGET_REGION, SOURCE_REGION, "eu-west-1"]) | json_values,
        "resources": st.lists(st.text(max_size=20), max_size=2) | json_values,
        "schedule": json_values,
    },
)


def _pick_key(draw: st.DrawFn, mapping: dict[str, Any]) -> str | None:
    keys = sorted(mapping)
    return draw(st.sampled_from(keys)) if keys else None


# Envelope-level breaks are rejected early; detail-level ones get deep into the steps, so they are drawn more often.
ENVELOPE_OPS = ["drop", "retype", "garbage_detail", "source", "detail_type"]
DETAIL_OPS = ["detail_drop", "detail_retype", "detail_add", "event_id", "arn"]
MUTATIONS = ENVELOPE_OPS + DETAIL_OPS * 3


def _mutate(draw: st.DrawFn, event: dict[str, Any], op: str) -> None:
    detail = event.get("detail")
    if op == "drop" and (key := _pick_key(draw, event)):
        del event[key]
    elif op == "retype" and (key := _pick_key(draw, event)):
        event[key] = draw(json_values)
    elif op == "garbage_detail":
        event["detail"] = draw(json_values)
    elif op == "source":
        event["source"] = draw(st.sampled_from(SOURCES) | json_values)
    elif op == "detail_type":
        event["detail-type"] = draw(st.sampled_from(DETAIL_TYPES) | json_values)
    elif not isinstance(detail, dict):
        return
    elif op == "detail_drop" and (key := _pick_key(draw, detail)):
        del detail[key]
    elif op == "detail_retype" and (key := _pick_key(draw, detail)):
        detail[key] = draw(json_values | st.sampled_from(DETAIL_VALUES))
    elif op == "detail_add":
        detail[draw(st.text(max_size=12))] = draw(json_values)
    elif op == "event_id":
        detail["EventID"] = draw(st.sampled_from(EVENT_IDS) | st.text(max_size=20))
    elif op == "arn":
        detail["SourceArn"] = draw(st.sampled_from(ARNS) | st.text(max_size=40))


@st.composite
def mutated_samples(draw: st.DrawFn, pool: list[dict[str, Any]]) -> dict[str, Any]:
    """A real sample with zero to three things broken: keys dropped, values of the wrong type, wrong EventIDs,
    ARNs of other resources/regions/accounts, garbage detail, the wrong source or detail-type."""
    event: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        _mutate(draw, event, draw(st.sampled_from(MUTATIONS)))
    return event


def samples_for(step: Step) -> list[dict[str, Any]]:
    """The samples the template routes to `step` (the scheduled one for the orchestrator check)."""
    if step is Step.ORCHESTRATOR_CHECK:
        return [s for s in SAMPLES if s["source"] == "aws.scheduler"]
    rules = [rule for spec in functions() if spec.step is step for rule in spec.rules]
    bus = {"aws.rds": "default"}
    return [s for s in SAMPLES if any(r.bus == bus.get(s["source"], "pipeline") and r.matches(s) for r in rules)]


def any_event(step: Step) -> st.SearchStrategy[Any]:
    return st.one_of(json_values, envelope_like, mutated_samples(SAMPLES), mutated_samples(samples_for(step)))


# The world ----------------------------------------------------------------------------------------------------------
class Env:
    def __init__(self, world: World, runtime: LocalRuntime) -> None:
        self.world = world
        self.runtime = runtime
        self.state_table = world.tables["StateTable"]["TableName"]
        self.ddb = boto3.client("dynamodb", region_name=TARGET_REGION)

    def rds_state(self) -> dict[str, Any]:
        state = {}
        for region in (SOURCE_REGION, TARGET_REGION):
            backend = rds_backends[DEFAULT_ACCOUNT_ID][region]
            state[region] = {
                "snapshots": sorted(backend.cluster_snapshots),
                "snapshot_count": len(backend.cluster_snapshots) + len(backend.database_snapshots),
                "clusters": sorted(backend.clusters),
                "instances": sorted(backend.databases),
            }
        return state

    def state_items(self, kind: str) -> dict[str, dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.state_table,
            "FilterExpression": "kind = :k",
            "ExpressionAttributeValues": {":k": {"S": kind}},
            "ConsistentRead": True,
        }
        while True:
            response = self.ddb.scan(**kwargs)
            for item in response.get("Items", []):
                items[item["pk"]["S"]] = item
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def undo_open(self, run_pks: set[str], lock_pks: set[str]) -> None:
        for pk in run_pks | lock_pks:
            self.ddb.delete_item(TableName=self.state_table, Key={"pk": {"S": pk}})


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with mock_aws():
        world = World(default_config()).build()
        runtime = LocalRuntime(world.settings())
        # the snapshots the samples name exist, so valid triggers reach the run-opening path
        world.nightly_snapshot(runtime, at=datetime(2026, 11, 25, 3, 10, tzinfo=UTC))
        world.client("rds", SOURCE_REGION).create_db_cluster_snapshot(
            DBClusterIdentifier="prod-aurora", DBClusterSnapshotIdentifier="prod-aurora-before-release-2026-11-25"
        )
        yield Env(world, runtime)


def _parses(event: Any) -> bool:
    try:
        parse_event(event)
    except Rejected:
        return False
    return True


def check_one(env: Env, step: Step, handler: Any, event: Any) -> dict[str, Any]:
    rds_before = env.rds_state()
    runs_before = env.state_items("run")
    locks_before = env.state_items("lock")
    original = copy.deepcopy(event)

    result = handler(event, FakeLambdaContext(f"aurora-restore-{step.value}"), deps=env.runtime.deps)

    assert isinstance(result, dict), f"{step}: handler returned {type(result).__name__}"
    assert result.get("result") in OUTCOMES, f"{step}: unexpected outcome {result!r}"
    assert result.get("step") == step.value
    assert env.rds_state() == rds_before, f"{step}: RDS changed for {original!r}"
    runs_after = env.state_items("run")
    locks_after = env.state_items("lock")
    new_runs = set(runs_after) - set(runs_before)
    new_locks = set(locks_after) - set(locks_before)
    if step is Step.SNAPSHOT_CHECK and result["result"] == "opened":
        # legitimate only for an input that is a valid trigger; undo it so the next example starts clean
        assert _parses(original), f"run opened for an event parse_event rejects: {original!r}"
        opened = set((result.get("run_id") or "").split(","))
        assert {pk.removeprefix("RUN#") for pk in new_runs} <= opened
        env.undo_open(new_runs, new_locks)
        runs_after, locks_after = env.state_items("run"), env.state_items("lock")
    assert runs_after == runs_before, f"{step}: run items changed for {original!r}"
    assert locks_after == locks_before, f"{step}: locks changed for {original!r}"
    return result


@pytest.mark.parametrize("service", SERVICES)
def test_handler_survives_arbitrary_input(service: str, env: Env) -> None:
    handler = importlib.import_module(f"services.{service}.app").handler
    step = Step(service.replace("_", "-"))

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(event=any_event(step))
    def fuzz(event: Any) -> None:
        result = check_one(env, step, handler, event)
        hypothesis.event(f"outcome={result['result']}")

    fuzz()


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: f"{s['source']}:{s['detail-type']}")
def test_every_real_sample_is_handled(service: str, sample: dict[str, Any], env: Env) -> None:
    """The unmutated samples too: each handler answers each of them (most with `ignored`/`rejected`)."""
    handler = importlib.import_module(f"services.{service}.app").handler
    check_one(env, Step(service.replace("_", "-")), handler, copy.deepcopy(sample))


def test_services_cover_every_step() -> None:
    assert {Step(s.replace("_", "-")) for s in SERVICES} == set(Step)
    assert all(samples_for(step) for step in Step), "every step needs a sample routed to it"
