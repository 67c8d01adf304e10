"""When the copy check looks again: predict the copy's end from its progress samples, look at the predicted time,
then tighten the looks around it. Pure: no clock, no AWS.

What AWS reports: `PercentProgress` of a DB cluster snapshot is "the percentage of the estimated data that has been
transferred" (DBClusterSnapshot, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBClusterSnapshot.html),
an integer; Aurora emits no event when a cluster-snapshot copy ends (Aurora UG, event categories), and how evenly
the value moves is not documented (UNVERIFIED: it may sit at 0 for a while, move in coarse jumps or stall). So:

- Each look keeps a sample (time, percent) on the run. A value was reached between the last look that saw less
  and the first look that saw it (a bracket); with 1% steps, the value after the one seen was not reached yet.
- A steady copy reaches p% at `a + b*p` seconds. The lines that satisfy every bracket and every "not yet" bound
  end between an earliest and a latest time; the predicted end is the middle. Two looks far apart already pin it
  within a few percent of the copy's length. When no line fits (coarse or uneven steps), the "not yet" bounds are
  dropped; when still none fits, the line through the middles of the oldest and newest brackets is used.
- Far from the end, the next look is at a fraction of the time left (a fresh sample narrows the window), or
  straight at the earliest possible end once the window is narrow; near it, at the predicted end, in steps of at
  least OVERDUE_STEP_SECONDS; past it (a stalled or slower copy), the looks start close and spread out again with
  the time overdue, so a stalled copy costs few looks.
- Before any progress, the looks back off geometrically from the copy's start.

check-copy-status waits the short ones in place (StepTurn.wait_here) and asks for a wake-up, early, for the rest.
The state's `min_poll_seconds` / `max_poll_seconds` still bound every delay (StepTurn.wait).
"""

from __future__ import annotations

import math
from datetime import datetime

from shared.model import ProgressSample

SAMPLES_KEPT = 32  # about 2 KB on the run item
APPROACH_SECONDS = 240.0  # closer than this to the predicted end: look at it, not before it
REFINE_FRACTION = 0.6  # farther: look after this fraction of the time left ...
MIN_FRACTION = 0.25  # ... or sooner, down to this fraction, while the end is uncertain
OVERDUE_STEP_SECONDS = 15.0  # past the predicted end and not done: first look again this soon ...
OVERDUE_GROWTH = 0.5  # ... then after this fraction of the time overdue
LINE_FIT_POINTS = 10  # the newest brackets a line is fitted through (a few corners to try, not hundreds)


def record(start: datetime, samples: list[ProgressSample], at: datetime, percent: int) -> list[ProgressSample]:
    """The samples with this look added. Only the edges matter (the first and the last look at each value: they
    bracket when a value was reached), so the looks in between are dropped; the copy's start (0%) is the first
    sample, and at most SAMPLES_KEPT are kept (the start and the newest)."""
    updated = [*(samples or [ProgressSample(at=start, percent=0)]), ProgressSample(at=at, percent=percent)]
    last = len(updated) - 1
    edges = [
        s
        for i, s in enumerate(updated)
        if i in (0, last) or s.percent != updated[i - 1].percent or s.percent != updated[i + 1].percent
    ]
    return [edges[0], *edges[1:][-(SAMPLES_KEPT - 1) :]]


def crossings(start: datetime, samples: list[ProgressSample]) -> list[tuple[float, float, int]]:
    """(low, high, percent): each newly seen value was reached between `low` (the last look that saw less) and
    `high` (the first look that saw it), in seconds since the start. A value that went down is ignored until
    passed again."""
    points: list[tuple[float, float, int]] = []
    previous_at, highest = start, 0
    for sample in samples:
        if 0 < sample.percent < 100 and sample.percent > highest:
            points.append(((previous_at - start).total_seconds(), (sample.at - start).total_seconds(), sample.percent))
        highest = max(highest, sample.percent)
        previous_at = sample.at
    return points


def predicted_end(start: datetime, samples: list[ProgressSample]) -> tuple[float, float] | None:
    """(likely, earliest) seconds after `start` at which the copy reaches 100%, or None before any progress.

    A steady copy reaches p% at `a + b*p` seconds (`a >= 0`: nothing before the start). Each look bounds that line:
    the value it saw was reached by then and after the last look that saw less, and, when the value moves in 1%
    steps, the next value was not reached yet. The lines that fit every bound end between `earliest` and `latest`,
    and the likely end is the middle. If no line fits (coarse or uneven steps), the next value's bound is dropped;
    if still none fits, the line through the middles of the oldest and newest brackets is used."""
    points = crossings(start, samples)
    if not points:
        return None
    recent = points[-LINE_FIT_POINTS:]
    looked = [((s.at - start).total_seconds(), s.percent) for s in samples[-LINE_FIT_POINTS:] if s.percent < 100]
    not_yet = [(percent + 1, at, math.inf) for at, percent in looked]  # the value after the one seen: not reached
    brackets = [(percent, low, high) for low, high, percent in recent]
    unfinished = [(100, looked[-1][0], math.inf)] if looked else []
    for bounds in (brackets + not_yet, brackets + unfinished) if len(points) + len(looked) > 2 else ():
        window = _ends_of_fitting_lines(bounds)
        if window is not None:
            earliest, latest = window
            return (earliest + latest) / 2, earliest
    newest = points[-1]
    oldest = points[0] if len(points) > 1 else (0.0, 0.0, 0)
    rise = newest[2] - oldest[2]
    run = (newest[0] + newest[1]) / 2 - (oldest[0] + oldest[1]) / 2
    if run <= 0:
        return None
    likely = (newest[0] + newest[1]) / 2 + (100 - newest[2]) * run / rise
    steep_run = newest[0] - oldest[1]
    earliest = newest[0] + (100 - newest[2]) * steep_run / rise if steep_run > 0 else newest[0]
    return likely, min(earliest, likely)


Bound = tuple[int, float, float]  # (percent, low, high): the line reaches `percent` between `low` and `high` seconds


def _ends_of_fitting_lines(bounds: list[Bound]) -> tuple[float, float] | None:
    """(earliest, latest) `a + 100*b` over the lines `t = a + b*p` with `a >= 0`, `b >= 0` and every bound; None
    when none fits. A bracket's finite end bounds the polygon; the extremes of a linear objective over it are at
    its corners, where two bounds' lines cross (a few dozen bounds: a few hundred pairs)."""
    bounds = [(0, 0.0, math.inf), *bounds]
    lines = [(p, edge) for p, low, high in bounds for edge in (low, high) if math.isfinite(edge)]

    def fits(a: float, b: float) -> bool:
        slack = 1e-6 * max(1.0, abs(a) + abs(b) * 100)
        return b >= 0 and all(low - slack <= a + b * p <= high + slack for p, low, high in bounds)

    corners = [(c, 0.0) for _, c in lines]  # where a line meets b = 0 (a copy that jumps to its end)
    for i, (p1, c1) in enumerate(lines):
        for p2, c2 in lines[i + 1 :]:
            if p1 != p2:
                b = (c1 - c2) / (p1 - p2)
                corners.append((c1 - p1 * b, b))
    ends = [a + 100 * b for a, b in corners if fits(a, b)]
    if not ends:
        return None
    return min(ends), max(ends)


def next_look_seconds(start: datetime, now: datetime, samples: list[ProgressSample]) -> float:
    """Seconds from `now` to the next look at a copy started at `start`, given its samples (this look included)."""
    elapsed = max((now - start).total_seconds(), 0.0)
    end = predicted_end(start, samples)
    if end is None:  # no progress seen yet: back off from the start (each look at 3x the time of the previous)
        return max(2 * elapsed, 1.0)
    likely, earliest = end
    left = likely - elapsed
    if left > APPROACH_SECONDS and likely - earliest <= APPROACH_SECONDS / 2:
        return earliest - elapsed  # far, but the end is known closely: straight to the earliest it can come
    if left > APPROACH_SECONDS:  # far: a fresh sample first, never past the earliest the copy can end
        return max(min(left * REFINE_FRACTION, earliest - elapsed), left * MIN_FRACTION)
    if left >= 1:  # near: at the likely end, but in steps no shorter than the overdue step
        return max(left, OVERDUE_STEP_SECONDS)
    return max(OVERDUE_STEP_SECONDS, -left * OVERDUE_GROWTH)
