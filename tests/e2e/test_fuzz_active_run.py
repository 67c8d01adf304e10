"""Property: with a run in flight (copy at 10 %, nothing else may happen yet), no event of any shape, aimed at
that very run or its target, makes a handler raise, changes the RDS estate, or moves the run out of COPYING.

This reaches past parsing: events carry the real run id, the real target's ARNs and plausible versions, so the
state checks, the stale-check guard and the steps' observe-then-act logic are what is being exercised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local_runtime.runtime import FakeLambdaContext, LocalRuntime, rds_lifecycle
from local_runtime.world import World, default_config
from shared.model import Run, RunStatus
from shared.transitions import DetailType, Step

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

ACCOUNT = "123456789012"
TARGET_ARNS = [
    f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster:staging-aurora",
    f"arn:aws:rds:us-west-2:{ACCOUNT}:db:staging-aurora-1",
    f"arn:aws:rds:us-west-2:{ACCOUNT}:db:staging-aurora-9",
    f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:prod-aurora",
    f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster-snapshot:ar-nightly-old-0",
]
EVENT_IDS = [
    "RDS-EVENT-0003",
    "RDS-EVENT-0005",
    "RDS-EVENT-0016",
    "RDS-EVENT-0170",
    "RDS-EVENT-0171",
    "RDS-EVENT-0169",
    "RDS-EVENT-0075",
]
DETAIL_TYPES = ["RDS DB Cluster Event", "RDS DB Instance Event", "RDS DB Cluster Snapshot Event"]


@pytest.fixture(scope="module")
def in_flight(mariadb: Any) -> Iterator[tuple[LocalRuntime, Run]]:
    with mock_aws(), rds_lifecycle():
        world = World(default_config()).build()
        runtime = LocalRuntime(world.settings(), copy_stuck_at=10, default_database=mariadb)
        world.nightly_snapshot(runtime)
        runtime.run_until(lambda: any(r.status is RunStatus.COPYING for r in runtime.deps.store.recent_runs(None, 5)))
        runtime.drain_events()
        [run] = runtime.deps.store.recent_runs(None, 5)
        yield runtime, run


def estate(runtime: LocalRuntime) -> tuple[Any, ...]:
    backend = runtime.rds_backend("us-west-2")
    return (
        sorted((k, c.status) for k, c in backend.clusters.items()),
        sorted((k, i.status) for k, i in backend.databases.items()),
        sorted(backend.cluster_snapshots),
        sorted(runtime.rds_backend("us-east-1").cluster_snapshots),
    )


def pipeline_events(run_id: str, version: int) -> st.SearchStrategy[dict[str, Any]]:
    detail = st.fixed_dictionaries(
        {
            "version": st.sampled_from(["1", "2", 1]),
            "run_id": st.sampled_from([run_id, run_id.upper(), "nope", ""]),
            "pipeline": st.sampled_from(["nightly", "other"]),
            "correlation_id": st.text(max_size=5),
            "occurred_at": st.sampled_from(["2026-11-25T03:00:00Z", "yesterday"]),
            "run_version": st.integers(min_value=-1, max_value=version + 2),
        },
        optional={
            "status": st.sampled_from([s.value for s in RunStatus] + ["copying", ""]),
            "snapshot_identifier": st.sampled_from(["rds:prod-aurora-nope", "arn:aws:rds:x", ""]),
        },
    )
    return st.fixed_dictionaries(
        {
            "version": st.just("0"),
            "id": st.uuids().map(str),
            "source": st.sampled_from(["aurora-restore", "aurora-restore ", "aws.events"]),
            "detail-type": st.sampled_from([d.value for d in DetailType] + ["runcheckdue"]),
            "account": st.just(ACCOUNT),
            "time": st.just("2026-11-25T03:10:00Z"),
            "region": st.just("us-west-2"),
            "resources": st.just([]),
            "detail": detail,
        }
    )


def rds_events() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "version": st.just("0"),
            "id": st.uuids().map(str),
            "source": st.just("aws.rds"),
            "detail-type": st.sampled_from(DETAIL_TYPES),
            "account": st.just(ACCOUNT),
            "time": st.just("2026-11-25T03:10:00Z"),
            "region": st.sampled_from(["us-west-2", "us-east-1"]),
            "resources": st.just([]),
            "detail": st.fixed_dictionaries(
                {"EventID": st.sampled_from(EVENT_IDS), "SourceArn": st.sampled_from(TARGET_ARNS)},
                optional={"Date": st.text(max_size=8), "SourceIdentifier": st.text(max_size=8)},
            ),
        }
    )


STEPS = [s for s in Step if s not in (Step.ORCHESTRATOR_CHECK, Step.SNAPSHOT_CHECK)]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_event_can_push_an_unfinished_copy_forward(in_flight: tuple[LocalRuntime, Run], data: Any) -> None:
    runtime, run = in_flight
    current = runtime.deps.store.get_run(run.run_id)
    assert current is not None
    event = data.draw(st.one_of(pipeline_events(run.run_id, current.version), rds_events()))
    step = data.draw(st.sampled_from(STEPS))
    handler = runtime._handlers[step]
    before = estate(runtime)
    result = handler(event, FakeLambdaContext(f"aurora-restore-{step.value}"), deps=runtime.deps)
    hypothesis.event(f"{step.value}: {result['result']}")
    assert result["result"] in {"rejected", "ignored", "advanced", "error", "none", "refused"}
    assert estate(runtime) == before
    after = runtime.deps.store.get_run(run.run_id)
    assert after is not None and after.status is RunStatus.COPYING, (step, event, after.last_error)
    runtime.drain_events()
