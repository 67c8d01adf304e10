"""When a night's trigger is expected and overdue: the backup window (PreferredBackupWindow, `hh24:mi-hh24:mi` UTC,
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBCluster.html) plus the grace period."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ConfigError
from shared.expected_trigger import MIN_NIGHT_GAP, Night, Window, night_after, night_from, parse_window

GRACE = timedelta(minutes=120)
DAY = datetime(2026, 11, 25, tzinfo=UTC)


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return DAY + timedelta(days=days, hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("text", "start", "end", "length"),
    [
        ("01:37-02:07", time(1, 37), time(2, 7), timedelta(minutes=30)),
        ("23:45-00:15", time(23, 45), time(0, 15), timedelta(minutes=30)),  # across midnight
        ("04:00", time(4), time(4), timedelta(0)),  # a configured point in time
        (" 00:00-23:59 ", time(0), time(23, 59), timedelta(hours=23, minutes=59)),
    ],
)
def test_window_parses_the_backup_window_format(text: str, start: time, end: time, length: timedelta) -> None:
    window = parse_window(text)
    assert (window.start, window.end, window.length) == (start, end, length)


@pytest.mark.parametrize("text", ["", "4:00", "04:00-", "24:00-00:30", "04:60", "0400-0430", "04:00:00", "nightly"])
def test_window_in_another_format_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigError, match="is not 'hh24:mi-hh24:mi'"):
        parse_window(text)


def test_night_is_expected_from_the_window_start_and_due_after_its_end_plus_grace() -> None:
    # Given the window 01:37-02:07, when watching starts at midnight
    night = night_from(parse_window("01:37-02:07"), GRACE, at(0))
    # Then tonight's trigger is expected from 01:37 and overdue at 04:07
    assert night == Night(at(1, 37), at(4, 7))


def test_night_that_already_began_is_not_awaited() -> None:
    """Watching that starts during (or after) tonight's window awaits tomorrow's: a deployment starts no run."""
    window = parse_window("01:37-02:07")
    assert night_from(window, GRACE, at(1, 38)) == Night(at(1, 37, days=1), at(4, 7, days=1))
    assert night_from(window, GRACE, at(1, 37)).start == at(1, 37), "a night starting exactly now is awaited"


def test_night_across_midnight_is_due_on_the_next_day() -> None:
    night = night_from(parse_window("23:45-00:15"), GRACE, at(12))
    assert night == Night(at(23, 45), at(2, 15, days=1))


def test_next_night_follows_the_examined_one() -> None:
    window = parse_window("01:37-02:07")
    assert night_after(window, GRACE, at(1, 37), now=at(4, 8)) == Night(at(1, 37, days=1), at(4, 7, days=1))


def test_next_night_is_never_the_examined_night_again_when_the_window_moves_later() -> None:
    # Given the night of 01:37 was examined, and the source's window moved to 03:00 the same day
    following = night_after(parse_window("03:00-03:30"), GRACE, at(1, 37), now=at(4, 8))
    # Then the next night awaited is tomorrow's, not today's 03:00
    assert following.start == at(3, 0, days=1)


def test_nights_missed_while_nothing_looked_are_skipped_to_one_not_yet_due() -> None:
    following = night_after(parse_window("01:37-02:07"), GRACE, at(1, 37), now=at(12, days=3))
    assert following == Night(at(1, 37, days=4), at(4, 7, days=4))


@given(
    start=st.times(),
    length=st.integers(min_value=0, max_value=23 * 60),
    grace=st.integers(min_value=10, max_value=20 * 60),
    examined=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    lag=st.integers(min_value=0, max_value=10 * 24 * 60),
)
def test_next_night_is_after_the_examined_one_and_not_yet_due(
    start: time, length: int, grace: int, examined: datetime, lag: int
) -> None:
    begin = start.replace(second=0, microsecond=0)
    end = (datetime.combine(DAY, begin) + timedelta(minutes=length)).time()
    window = Window(begin, end)
    now = examined + timedelta(minutes=lag)
    following = night_after(window, timedelta(minutes=grace), examined, now)
    assert following.start >= examined + MIN_NIGHT_GAP
    assert following.due > now
    assert following.due == following.start + window.length + timedelta(minutes=grace)
    assert (following.start.hour, following.start.minute) == (begin.hour, begin.minute)
