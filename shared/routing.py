"""Which step wakes on what: the one routing table.

For every step: the run statuses it acts in (the dispatcher's guard), and its wake-ups: the pipeline events,
the `RunCheckDue` statuses and the RDS events (by EventID) that invoke it, each with the name of its EventBridge
rule. The dispatcher's step registry, the rules rendered into `template.yaml`, the README's flow table and the
contract tests all derive from this table.

Adding a route is one `Wake` line here plus one sample in `events/`; then `make template` re-renders the template
and the README table (`make test` fails while they are stale).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from shared.events import PIPELINE_SOURCE, RDS_SOURCE
from shared.model import RunStatus
from shared.transitions import DetailType, Step

# `detail-type` of RDS events on EventBridge, by the resource they describe.
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-cloud-watch-events.sample.html
RDS_CLUSTER = "RDS DB Cluster Event"
RDS_INSTANCE = "RDS DB Instance Event"
RDS_CLUSTER_SNAPSHOT = "RDS DB Cluster Snapshot Event"

# What the RDS EventIDs of this table mean (for the README's flow table; a test checks each has an entry).
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Events.Messages.html
RDS_EVENTS: dict[str, str] = {
    "RDS-EVENT-0169": "automated cluster snapshot created",
    "RDS-EVENT-0075": "manual cluster snapshot created",
    "RDS-EVENT-0003": "DB instance deleted",
    "RDS-EVENT-0171": "DB cluster deleted",
    "RDS-EVENT-0170": "DB cluster created",
    "RDS-EVENT-0005": "DB instance created",
    "RDS-EVENT-0016": "master credentials reset",
    "RDS-EVENT-0172": "DB cluster renamed",
    "RDS-EVENT-0151": "DB cluster started",
}

Bus = Literal["default", "pipeline"]


@dataclass(frozen=True)
class Wake:
    """One EventBridge rule (or the schedule) that invokes a step."""

    name: str  # the rule's event name in template.yaml
    kind: Literal["pipeline", "check-due", "rds", "schedule"]
    detail_types: tuple[str, ...] = ()
    statuses: tuple[RunStatus, ...] = ()  # RunCheckDue only
    event_ids: tuple[str, ...] = ()  # RDS only

    @property
    def bus(self) -> Bus:
        """RDS events arrive on the default bus; the pipeline's own events on its bus."""
        return "default" if self.kind == "rds" else "pipeline"

    def pattern(self) -> dict[str, Any] | None:
        """The EventBridge event pattern of this wake-up (None for the schedule, which invokes directly)."""
        if self.kind == "rds":
            return {
                "source": [RDS_SOURCE],
                "detail-type": list(self.detail_types),
                "detail": {"EventID": list(self.event_ids)},
            }
        if self.kind == "check-due":
            return {
                "source": [PIPELINE_SOURCE],
                "detail-type": [DetailType.RUN_CHECK_DUE.value],
                "detail": {"status": [s.value for s in self.statuses]},
            }
        if self.kind == "pipeline":
            return {"source": [PIPELINE_SOURCE], "detail-type": list(self.detail_types)}
        return None

    def matches(self, bus: Bus, envelope: dict[str, Any]) -> bool:
        """Exact-match semantics of the pattern above (all this table uses), for tests and tools."""
        pattern = self.pattern()
        if pattern is None or bus != self.bus:
            return False
        raw_detail = envelope.get("detail")
        detail: dict[str, Any] = raw_detail if isinstance(raw_detail, dict) else {}
        if envelope.get("source") not in pattern["source"] or envelope.get("detail-type") not in pattern["detail-type"]:
            return False
        return all(detail.get(key) in allowed for key, allowed in pattern.get("detail", {}).items())

    def describe(self) -> str:
        if self.kind == "rds":
            return " / ".join(self.event_ids)
        if self.kind == "check-due":
            return "RunCheckDue (" + ", ".join(s.value for s in self.statuses) + ")"
        if self.kind == "pipeline":
            return " / ".join(self.detail_types)
        return "schedule"


def on(*detail_types: DetailType, name: str | None = None) -> Wake:
    """A pipeline event (source `aurora-restore`) on the pipeline bus."""
    return Wake(name or detail_types[0].value, "pipeline", detail_types=tuple(d.value for d in detail_types))


def check_due(*statuses: RunStatus, name: str) -> Wake:
    """The orchestrator's (or a wake-up's) RunCheckDue for a run in one of `statuses`."""
    return Wake(name, "check-due", statuses=statuses)


def rds(name: str, detail_types: tuple[str, ...], *event_ids: str) -> Wake:
    """An RDS event on the default bus. Match on EventID, never on Message (texts vary)."""
    return Wake(name, "rds", detail_types=detail_types, event_ids=event_ids)


def schedule(name: str) -> Wake:
    return Wake(name, "schedule")


@dataclass(frozen=True)
class Route:
    step: Step
    acts_in: tuple[RunStatus, ...]  # statuses the step acts in; () for the steps that need no run
    wakes: tuple[Wake, ...]


S = RunStatus
ROUTES: tuple[Route, ...] = (
    Route(Step.SNAPSHOT_CHECK, (), (
        # RDS-EVENT-0169: automated cluster snapshot created; RDS-EVENT-0075: manual one (if a pipeline opts in).
        rds("SnapshotCreated", (RDS_CLUSTER_SNAPSHOT,), "RDS-EVENT-0169", "RDS-EVENT-0075"),
        on(DetailType.RESTORE_REQUESTED),
    )),
    Route(Step.COPY_SNAPSHOT, (S.REQUESTED,), (
        on(DetailType.RUN_REQUESTED),
        check_due(S.REQUESTED, name="CheckDueRequested"),
    )),
    Route(Step.CHECK_COPY_STATUS, (S.COPYING,), (
        check_due(S.COPYING, name="CheckDueCopying"),  # Aurora emits no event when a cluster-snapshot copy ends
    )),
    Route(Step.DELETE_RDS, (S.REPLACING_TARGET,), (
        on(DetailType.SNAPSHOT_COPIED),
        check_due(S.REPLACING_TARGET, name="CheckDueReplacingTarget"),
        rds("InstanceDeleted", (RDS_INSTANCE,), "RDS-EVENT-0003"),
    )),
    Route(Step.RESTORE_SNAPSHOT, (S.REPLACING_TARGET,), (
        on(DetailType.TARGET_DELETED),
        on(DetailType.TARGET_READ),  # `swap`: restore beside the target
        rds("ClusterDeleted", (RDS_CLUSTER,), "RDS-EVENT-0171"),
    )),
    Route(Step.CHECK_RESTORE_STATUS, (S.RESTORING,), (
        check_due(S.RESTORING, name="CheckDueRestoring"),
        rds("ClusterCreated", (RDS_CLUSTER,), "RDS-EVENT-0170"),
        rds("InstanceCreated", (RDS_INSTANCE,), "RDS-EVENT-0005"),
    )),
    Route(Step.SETUP_DB_USERS, (S.CONFIGURING_DB, S.VALIDATING), (
        on(DetailType.CLUSTER_AVAILABLE),
        check_due(S.CONFIGURING_DB, name="CheckDueConfiguringDb"),
        check_due(S.VALIDATING, name="CheckDueValidating"),  # checks left for a fresh invocation
        rds("DbAvailable", (RDS_CLUSTER, RDS_INSTANCE), "RDS-EVENT-0016"),  # master credentials reset
    )),
    Route(Step.SWAP_CLUSTERS, (S.SWAPPING,), (
        on(DetailType.STAGING_READY),
        check_due(S.SWAPPING, name="CheckDueSwapping"),
        # "Renamed DB cluster from [old] to [new]" and "DB cluster started" (a stopped target started for its rename)
        rds("ClusterRenamed", (RDS_CLUSTER,), "RDS-EVENT-0172", "RDS-EVENT-0151"),
    )),
    Route(Step.ARCHIVE_SNAPSHOT, (S.ARCHIVING,), (
        on(DetailType.DATABASE_READY),
        check_due(S.ARCHIVING, name="CheckDueArchiving"),
    )),
    Route(Step.SNS_NOTIFICATION, (S.SUCCEEDED, S.FAILED), (
        on(DetailType.RUN_SUCCEEDED, DetailType.RUN_FAILED, name="RunEnded"),
        check_due(S.SUCCEEDED, S.FAILED, name="CheckDueTerminal"),
    )),
    Route(Step.ORCHESTRATOR_CHECK, (), (
        schedule("Every"),
    )),
)  # fmt: skip

ROUTE_OF: dict[Step, Route] = {route.step: route for route in ROUTES}


def route_of(step: Step) -> Route:
    return ROUTE_OF[step]


def wakes() -> Iterator[tuple[Step, Wake]]:
    for route in ROUTES:
        for wake in route.wakes:
            yield route.step, wake


def owner_of(status: RunStatus) -> Step | None:
    """The step a `RunCheckDue` for a run in `status` wakes (exactly one per status, checked by a test)."""
    owners = [step for step, wake in wakes() if wake.kind == "check-due" and status in wake.statuses]
    return owners[0] if owners else None


def steps_woken_by(bus: Bus, envelope: dict[str, Any]) -> set[Step]:
    return {step for step, wake in wakes() if wake.matches(bus, envelope)}
