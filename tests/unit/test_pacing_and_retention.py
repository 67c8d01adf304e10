"""Pure pacing and retention rules: when the copy check looks again, and which copies archive-snapshot deletes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import PipelineError
from shared.model import Run, RunStatus
from shared.naming import TAG_PIPELINE, TAG_RUN
from shared.ports import SnapshotView
from shared.steps import archive_snapshot, check_copy_status
from shared.steps.archive_snapshot import to_delete
from shared.steps.check_copy_status import next_look_seconds
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, ids, make_config, make_run, owned_tags, pipeline_doc

S = RunStatus


# next_look_seconds --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("elapsed", "percent", "checks", "expected"),
    [
        (600, 25, 0, 1800),  # 25% in 10 min: 30 min to go
        (600, 50, 3, 600),
        (600, 99, 0, 60),  # 6 s to go, but never sooner than min_poll
        (0, 50, 0, 60),  # no time elapsed: no rate yet, back off
        (600, 0, 0, 60),  # no progress yet: back off from min_poll ...
        (600, 0, 1, 120),
        (600, 0, 3, 480),
        (600, 0, 6, 3840),
        (600, 0, 20, 3840),  # ... doubling at most six times
        (600, 100, 2, 240),  # 100% but still `copying`: back off
    ],
)
def test_next_look_follows_the_observed_copy_rate(elapsed: float, percent: int, checks: int, expected: float) -> None:
    assert next_look_seconds(elapsed, percent, 60, checks) == expected


@given(
    elapsed=st.floats(min_value=-3_600, max_value=7 * 86_400, allow_nan=False),
    percent=st.integers(0, 100),
    min_poll=st.integers(5, 3_600),
    checks=st.integers(0, 1_000),
)
def test_next_look_is_never_below_min_poll(elapsed: float, percent: int, min_poll: int, checks: int) -> None:
    delay = next_look_seconds(elapsed, percent, min_poll, checks)
    assert delay >= min_poll
    if not (0 < percent < 100 and elapsed > 0):
        assert delay <= min_poll * 64, "the backoff before any progress is bounded"


def given_copying(fakes: Fakes, status: str, percent: int = 0, **run: Any) -> Run:
    stored = fakes.store.seed(make_run(S.COPYING, now=T0, **run))
    fakes.target.add_snapshot(
        stored.copy_snapshot_id,
        "prod-aurora",
        status=status,
        snapshot_type="manual",
        percent_progress=percent,
        tags=owned_tags(**{TAG_RUN: RUN_ID}),
    )
    return stored


def check_copy(fakes: Fakes, run: Run) -> None:
    check_copy_status.act(StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "RunCheckDue"))


def test_copy_check_looks_again_when_the_rate_says_the_copy_is_done() -> None:
    fakes = Fakes()
    run = given_copying(fakes, "copying", percent=60)
    fakes.clock.set(T0 + timedelta(minutes=6))
    check_copy(fakes, run)
    stored = fakes.store.run()
    assert stored.next_check_at == fakes.clock.now() + timedelta(minutes=4)
    assert stored.copy_percent == 60 and stored.checks == 1


def test_copy_check_looks_again_no_later_than_max_poll() -> None:
    fakes = Fakes()
    run = given_copying(fakes, "copying", percent=1)
    fakes.clock.set(T0 + timedelta(minutes=10))  # 1% in 10 min: 990 min to go
    check_copy(fakes, run)
    assert fakes.store.run().next_check_at == fakes.clock.now() + timedelta(seconds=900)


def test_available_copy_moves_the_run_on_and_announces_it() -> None:
    fakes = Fakes()
    run = given_copying(fakes, "available", percent=100)
    check_copy(fakes, run)
    assert fakes.store.run().status is S.REPLACING_TARGET and fakes.store.run().copy_percent == 100
    assert fakes.bus.detail_types() == ["SnapshotCopied"]


def test_failed_copy_is_deleted_and_retried() -> None:
    fakes = Fakes()
    run = given_copying(fakes, "failed")
    with pytest.raises(PipelineError) as error:
        check_copy(fakes, run)
    assert (error.value.code, error.value.transient) == ("CopyFailed", True)
    assert [c.args for c in fakes.target.deletes()] == [{"identifier": run.copy_snapshot_id}]


def test_missing_copy_is_requested_again() -> None:
    fakes = Fakes()
    run = fakes.store.seed(make_run(S.COPYING, now=T0))
    fakes.source.add_snapshot(run.source_snapshot_id, "prod-aurora")
    with pytest.raises(PipelineError) as error:
        check_copy(fakes, run)
    assert (error.value.code, error.value.transient) == ("CopyMissing", True)
    [copy] = fakes.target.calls_to("copy_snapshot")
    assert copy.args["target_id"] == run.copy_snapshot_id and copy.args["source_region"] == "us-east-1"
    assert copy.args["tags"][TAG_RUN] == RUN_ID


# to_delete ----------------------------------------------------------------------------------------------------------
CURRENT = f"ar-nightly-{RUN_ID}"


def copy(identifier: str, age_days: float | None, status: str = "available") -> SnapshotView:
    return SnapshotView(
        identifier=identifier,
        arn=f"arn:aws:rds:us-west-2:123456789012:cluster-snapshot:{identifier}",
        cluster_id="prod-aurora",
        status=status,
        snapshot_type="manual",
        engine="aurora-mysql",
        created_at=None if age_days is None else T0 - timedelta(days=age_days),
        tags=owned_tags(),
    )


def test_to_delete_keeps_the_current_copy_and_the_newest_others() -> None:
    copies = [copy("old-3", 3), copy(CURRENT, 0.01), copy("old-1", 1), copy("old-2", 2)]
    assert ids(to_delete(copies, CURRENT, 2, T0)) == ["old-2", "old-3"]


def test_to_delete_counts_the_current_copy_first_whatever_its_timestamp() -> None:
    # Given a current copy whose creation time reads older than the others (clock skew, or a re-used copy)
    copies = [copy(CURRENT, 30), copy("old-1", 1), copy("old-2", 2)]
    assert ids(to_delete(copies, CURRENT, 1, T0)) == ["old-1", "old-2"]


def test_to_delete_treats_a_copy_without_timestamp_as_new() -> None:
    copies = [copy(CURRENT, 0), copy("pending", None), copy("old-1", 1)]
    assert ids(to_delete(copies, CURRENT, 2, T0)) == ["old-1"]


def test_to_delete_never_deletes_a_copy_that_is_not_available() -> None:
    copies = [copy(CURRENT, 0), copy("old-1", 1, "copying"), copy("old-2", 2, "deleting"), copy("old-3", 3)]
    assert ids(to_delete(copies, CURRENT, 1, T0)) == ["old-3"]


def test_to_delete_with_keep_last_zero_deletes_the_current_copy_too() -> None:
    # keep_last is "copies kept after a run": 0 keeps none, this run's copy included (the cluster is restored)
    copies = [copy(CURRENT, 0), copy("old-1", 1)]
    assert ids(to_delete(copies, CURRENT, 0, T0)) == [CURRENT, "old-1"]


@st.composite
def copy_sets(draw: st.DrawFn) -> tuple[list[SnapshotView], str]:
    count = draw(st.integers(0, 12))
    ages = draw(st.lists(st.integers(0, 60 * 24 * 30) | st.none(), min_size=count, max_size=count))
    statuses = draw(st.lists(st.sampled_from(["available", "copying", "deleting"]), min_size=count, max_size=count))
    copies = [
        copy(f"ar-nightly-{i}", None if age is None else age / 1440, status)
        for i, (age, status) in enumerate(zip(ages, statuses, strict=True))
    ]
    current = draw(st.sampled_from([c.identifier for c in copies] + ["not-listed-yet"]))
    return draw(st.permutations(copies)), current


@given(case=copy_sets(), keep_last=st.integers(1, 50))
def test_to_delete_never_deletes_the_current_copy_nor_anything_unavailable(
    case: tuple[list[SnapshotView], str], keep_last: int
) -> None:
    copies, current = case
    doomed = ids(to_delete(copies, current, keep_last, T0))
    assert current not in doomed
    assert len(doomed) == len(set(doomed)) and set(doomed) <= set(ids(copies))
    assert all(c.status == "available" for c in copies if c.identifier in doomed)
    assert len(copies) - len(doomed) >= min(keep_last, len(copies))


@given(case=copy_sets(), keep_last=st.integers(0, 50))
def test_to_delete_keeps_exactly_keep_last_available_copies_the_newest_ones(
    case: tuple[list[SnapshotView], str], keep_last: int
) -> None:
    copies, current = [c.model_copy(update={"status": "available"}) for c in case[0]], case[1]
    doomed = to_delete(copies, current, keep_last, T0)
    kept = [c for c in copies if c.identifier not in ids(doomed)]
    assert len(kept) == min(keep_last, len(copies))
    if kept and doomed:
        assert min(_age_key(c, current) for c in kept) >= max(_age_key(c, current) for c in doomed)


def _age_key(snapshot: SnapshotView, current: str) -> tuple[bool, datetime]:
    return snapshot.identifier == current, snapshot.created_at or T0


# archive-snapshot ---------------------------------------------------------------------------------------------------
def test_archive_deletes_only_this_pipelines_old_copies_and_succeeds() -> None:
    fakes = Fakes(config=make_config(pipeline_doc(retention={"keep_last": 2})))
    run = fakes.store.seed(make_run(S.ARCHIVING, now=T0))
    target = fakes.target

    def manual(identifier: str, age_days: int, tags: dict[str, str]) -> None:
        target.add_snapshot(
            identifier, "prod-aurora", snapshot_type="manual", created_at=T0 - timedelta(days=age_days), tags=tags
        )

    manual(run.copy_snapshot_id, 0, owned_tags())
    for days in (1, 2, 3):
        manual(f"ar-nightly-old-{days}", days, owned_tags())
    manual("nightly-manual-keep-me", 9, {"owner": "dba-team"})  # someone else's, older than all
    manual("ar-weekly-old", 9, owned_tags("weekly"))  # another pipeline's copy
    manual("hand-tagged", 9, {TAG_PIPELINE: "nightly"})  # tagged by hand, not managed by aurora-restore

    archive_snapshot.act(StepTurn(fakes.deps, run, Step.ARCHIVE_SNAPSHOT, "DatabaseReady"))

    assert [c.args["identifier"] for c in target.deletes()] == ["ar-nightly-old-2", "ar-nightly-old-3"]
    done = fakes.store.run()
    assert done.status is S.SUCCEEDED and fakes.bus.detail_types() == ["RunSucceeded"]
    assert fakes.store.audit_trail(RUN_ID)[-1].message == (
        "retention keep_last=2: kept 2, deleted ar-nightly-old-2, ar-nightly-old-3"
    )
