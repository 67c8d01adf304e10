"""Deterministic names, the adaptive schedule and the retention choice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.naming import copy_snapshot_id, run_id_for, strip_automated_prefix
from shared.ports import SnapshotView
from shared.steps.archive_snapshot import to_delete

RDS_ID = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,62}(?<!-)$")
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def test_run_id_is_deterministic_per_trigger() -> None:
    assert run_id_for("nightly", "snapshot:arn", NOW) == run_id_for("nightly", "snapshot:arn", NOW)
    assert run_id_for("nightly", "snapshot:arn", NOW) != run_id_for("nightly", "snapshot:other", NOW)


@given(st.from_regex(r"[a-z][a-z0-9]{0,15}(-[a-z0-9]{1,8}){0,3}", fullmatch=True))
def test_copy_ids_are_valid_rds_identifiers(pipeline: str) -> None:
    name = copy_snapshot_id(pipeline, run_id_for(pipeline, "k", NOW))
    assert RDS_ID.match(name) and len(name) <= 63


def test_automated_prefix_is_stripped() -> None:
    assert strip_automated_prefix("rds:prod-2026-11-25-03-10") == "prod-2026-11-25-03-10"


def snapshot(name: str, age_days: int, status: str = "available") -> SnapshotView:
    return SnapshotView(
        identifier=name,
        arn=name,
        cluster_id="c",
        status=status,
        snapshot_type="manual",
        engine="aurora-mysql",
        created_at=NOW - timedelta(days=age_days),
    )


def test_retention_keeps_current_and_newest() -> None:
    copies = [snapshot("old-3", 3), snapshot("current", 0), snapshot("old-1", 1), snapshot("old-2", 2)]
    assert [s.identifier for s in to_delete(copies, "current", 2, NOW)] == ["old-2", "old-3"]


def test_retention_never_deletes_a_copy_in_progress() -> None:
    copies = [snapshot("current", 0), snapshot("copying", 5, status="copying")]
    assert to_delete(copies, "current", 1, NOW) == []


def test_retention_zero_deletes_even_the_current_copy() -> None:
    assert [s.identifier for s in to_delete([snapshot("current", 0)], "current", 0, NOW)] == ["current"]
