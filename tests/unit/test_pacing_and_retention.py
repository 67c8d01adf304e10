"""Pure pacing and retention rules: when the copy check looks again, and which copies archive-snapshot deletes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.copy_pacing import SAMPLES_KEPT, crossings, next_look_seconds, predicted_end, record
from shared.errors import PipelineError
from shared.model import ProgressSample, Run, RunStatus
from shared.naming import TAG_PIPELINE, TAG_RUN
from shared.ports import SnapshotView
from shared.steps import archive_snapshot, check_copy_status
from shared.steps.archive_snapshot import to_delete
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, T0, Fakes, ids, make_config, make_run, owned_tags, pipeline_doc

S = RunStatus


# copy pacing (shared/copy_pacing.py) -------------------------------------------------------------------------------
def sample(seconds: float, percent: int) -> ProgressSample:
    return ProgressSample(at=T0 + timedelta(seconds=seconds), percent=percent)


def looks(*points: tuple[float, int]) -> list[ProgressSample]:
    samples: list[ProgressSample] = []
    for seconds, percent in points:
        samples = record(T0, samples, T0 + timedelta(seconds=seconds), percent)
    return samples


def test_a_value_is_reached_between_the_last_look_below_it_and_the_first_at_it() -> None:
    samples = looks((60, 0), (180, 0), (300, 10), (420, 10), (540, 25))
    assert crossings(T0, samples) == [(180.0, 300.0, 10), (420.0, 540.0, 25)]


def test_only_the_edges_of_each_value_are_kept_with_the_start() -> None:
    samples = looks(*[(60 * i, 0) for i in range(1, 5)], *[(300 + 60 * i, 40) for i in range(5)])
    assert [(s.at - T0).total_seconds() for s in samples] == [0, 240, 300, 540]  # the start is the first 0%
    many = looks(*[(10 * i, i) for i in range(1, 100)])
    assert len(many) == SAMPLES_KEPT and many[0] == sample(0, 0) and many[-1] == sample(990, 99)


def test_the_end_is_predicted_through_the_middles_of_the_brackets() -> None:
    # 1% every 36 s (a 60-minute copy), seen every 300 s
    end = predicted_end(T0, looks((300, 8), (600, 16), (900, 25), (1200, 33)))
    assert end is not None and end[0] == pytest.approx(3600, rel=0.05) and end[1] <= end[0]


@pytest.mark.parametrize(
    ("points", "expected"),
    [
        ([(20, 0)], 40),  # no progress yet: back off from the start (next look at 3x the elapsed time)
        ([(20, 0), (60, 0)], 120),
        # 10% somewhere in the first 1000 s: the end can be anywhere from 1000 to 10000 s, look after 1/4 of the rest
        ([(1000, 10)], 1125),
        # 5% seen by 500 s but not 6%, 10% by 1000 s but not 11%: the end lies in 8,417-10,000 s; a fresh sample
        # first, after 0.6 of the time to the middle
        ([(500, 5), (1000, 10)], pytest.approx(0.6 * (9_208 - 1000), abs=1)),
        # the end is known closely (9,898-10,000 s): straight to the earliest it can come
        ([(1000, 10), (8000, 80), (8100, 81), (9700, 97)], pytest.approx(198, abs=1)),
    ],
)
def test_the_next_look_converges_on_the_predicted_end(points: list[tuple[float, int]], expected: float) -> None:
    samples = looks(*points)
    assert next_look_seconds(T0, samples[-1].at, samples) == expected


def test_past_the_predicted_end_the_looks_start_close_and_spread_out() -> None:
    samples = looks((600, 50), (1190, 99))  # the end was due at ~900 s; the copy stalls at 99%
    delays = []
    for now in (1250, 1400, 1800, 3000):
        samples = record(T0, samples, T0 + timedelta(seconds=now), 99)
        delays.append(next_look_seconds(T0, T0 + timedelta(seconds=now), samples))
    assert delays == sorted(delays) and delays[-1] > 4 * delays[0]


@given(points=st.lists(st.tuples(st.floats(1, 30_000), st.integers(0, 100)), min_size=1, max_size=40))
def test_the_next_look_is_always_ahead(points: list[tuple[float, int]]) -> None:
    ordered = looks(*sorted(points))
    assert next_look_seconds(T0, ordered[-1].at, ordered) > 0


def linear_copy(duration: float, lag: float = 0.03) -> Callable[[float], int]:
    """1% steps, 0% for the first `lag` of the copy (how the benchmark's emulator reports a copy)."""
    return lambda t: max(0, min(99, int(((t / duration) - lag) / (1 - lag) * 100)))


@pytest.mark.parametrize("minutes", [10, 60, 180])
def test_a_steady_copy_is_noticed_within_seconds_in_few_looks(minutes: int) -> None:
    policy = make_config().pipelines[0].policy(S.COPYING)
    delays, counts = [], []
    for offset in range(0, 120, 13):  # copies of slightly different lengths
        duration = minutes * 60 + offset
        progress, samples, now, count = linear_copy(duration), [], float(policy.min_poll_seconds), 1
        while now < duration:
            samples = record(T0, samples, T0 + timedelta(seconds=now), progress(now))
            delay = next_look_seconds(T0, T0 + timedelta(seconds=now), samples)
            now += min(max(delay, policy.min_poll_seconds), policy.max_poll_seconds)
            count += 1
        delays.append(now - duration)
        counts.append(count)
    assert max(counts) <= 17
    assert sum(delays) / len(delays) <= 20 and max(delays) <= 45


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


def test_copy_check_keeps_a_sample_and_is_woken_at_its_next_look() -> None:
    fakes = Fakes()
    run = given_copying(fakes, "copying", percent=60)
    fakes.clock.set(T0 + timedelta(minutes=6))
    fakes.timer.new_invocation(45)  # too little time left to wait here for the next look
    check_copy(fakes, run)
    stored = fakes.store.run()
    assert stored.copy_percent == 60 and stored.checks == 1
    assert stored.copy_samples == [sample(0, 0), sample(360, 60)]
    # 60% by 6 min but not 61%: the end lies between 6 and 10 min; near, so look at the middle, 2 min from now
    assert stored.next_check_at == fakes.clock.now() + timedelta(seconds=120)
    # woken in the whole minute before (the scheduler fires within the minute asked), told when the look is due
    [wake_up] = fakes.wakeups.requested
    assert (wake_up.at, wake_up.detail["run_version"]) == (T0 + timedelta(minutes=7), stored.version)
    assert wake_up.detail["look_at"] == "2026-11-25T03:18:00Z" and stored.next_check_at == T0 + timedelta(minutes=8)


def test_a_copy_check_woken_early_waits_in_place_for_its_look_and_notices_the_end_within_its_steps() -> None:
    fakes = Fakes()
    run = given_copying(fakes, "copying", percent=99)
    run = fakes.store.seed(run.model_copy(update={"copy_samples": [sample(0, 0), sample(300, 50), sample(590, 98)]}))
    fakes.clock.set(T0 + timedelta(seconds=600))
    fakes.timer.new_invocation(300)
    look_at = T0 + timedelta(seconds=640)

    def finish_after_a_while() -> None:  # the copy ends 25 s after the look asked for
        if fakes.clock.now() >= look_at + timedelta(seconds=25):
            fakes.target.set_status(run.copy_snapshot_id, "available")

    fakes.clock.on_sleep = finish_after_a_while
    check_copy_status.act(StepTurn(fakes.deps, run, Step.CHECK_COPY_STATUS, "RunCheckDue", look_at=look_at))
    assert fakes.clock.slept[0] == 40  # the rest of the early wake-up, in place
    assert fakes.store.run().status is S.REPLACING_TARGET
    assert fakes.clock.now() - (look_at + timedelta(seconds=25)) <= timedelta(seconds=15)  # one short step late
    assert fakes.wakeups.requested == []  # no wake-up per step
    assert len(fakes.target.calls_to("find_cluster_snapshot")) == 1 + len(fakes.clock.slept) - 1


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
