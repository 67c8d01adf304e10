"""The runtime's agenda on the simulated clock: event deliveries and the RDS emulator's actions, taken in time
order and, at equal times, in the order they were scheduled (so a run is reproducible)."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EVENT = "event"  # payload: (bus, envelope, only this step or None, attempt, concurrent)
ACTION = "action"  # payload: a callable


@dataclass(order=True)
class Item:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    payload: Any = field(compare=False)


class EventQueue:
    def __init__(self) -> None:
        self._heap: list[Item] = []
        self._seq = itertools.count()

    def push(self, at: datetime, kind: str, payload: Any) -> None:
        heapq.heappush(self._heap, Item(at, next(self._seq), kind, payload))

    def next_at(self) -> datetime | None:
        return self._heap[0].at if self._heap else None

    def pop(self) -> Item:
        return heapq.heappop(self._heap)

    def pending_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Events not yet delivered, as (bus, envelope), in delivery order."""
        return [(item.payload[0], item.payload[1]) for item in sorted(self._heap) if item.kind == EVENT]

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Take the undelivered events off the queue; scheduled actions stay."""
        events = self.pending_events()
        self._heap = [item for item in self._heap if item.kind != EVENT]
        heapq.heapify(self._heap)
        return events
