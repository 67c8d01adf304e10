"""The run state machine as data: states, legal transitions and the event a run emits on entering a state.

Which step acts in which state, and what wakes it, is the routing table next to this one (`shared/routing.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.model import RunStatus


class Step(StrEnum):
    """Function names are `aurora-restore-<step>`; the local runtime and the template use the same names."""

    SNAPSHOT_CHECK = "snapshot-check"
    COPY_SNAPSHOT = "copy-snapshot"
    CHECK_COPY_STATUS = "check-copy-status"
    DELETE_RDS = "delete-rds"
    RESTORE_SNAPSHOT = "restore-snapshot"
    CHECK_RESTORE_STATUS = "check-restore-status"
    SETUP_DB_USERS = "setup-db-users"
    ARCHIVE_SNAPSHOT = "archive-snapshot"
    SNS_NOTIFICATION = "sns-notification"
    ORCHESTRATOR_CHECK = "orchestrator-check"


class DetailType(StrEnum):
    """`detail-type` of the pipeline's own events (source `aurora-restore`)."""

    RESTORE_REQUESTED = "RestoreRequested"
    RUN_REQUESTED = "RunRequested"
    SNAPSHOT_COPIED = "SnapshotCopied"
    TARGET_DELETED = "TargetDeleted"
    CLUSTER_AVAILABLE = "ClusterAvailable"
    DATABASE_READY = "DatabaseReady"
    RUN_SUCCEEDED = "RunSucceeded"
    RUN_FAILED = "RunFailed"
    RUN_CHECK_DUE = "RunCheckDue"


@dataclass(frozen=True)
class StateSpec:
    status: RunStatus
    next_states: tuple[RunStatus, ...]
    entered_event: DetailType | None  # emitted when a run enters this state
    description: str


STATES: dict[RunStatus, StateSpec] = {
    s.status: s
    for s in (
        StateSpec(
            RunStatus.REQUESTED,
            (RunStatus.COPYING,),
            DetailType.RUN_REQUESTED,
            "run opened, target locked; copy not yet requested",
        ),
        StateSpec(
            RunStatus.COPYING,
            (RunStatus.REPLACING_TARGET,),
            None,
            "copy requested; Aurora emits no event when it ends, so only the check looks",
        ),
        StateSpec(
            RunStatus.REPLACING_TARGET,
            (RunStatus.RESTORING,),
            DetailType.SNAPSHOT_COPIED,
            "copy available; deleting the previous target (instances, then cluster)",
        ),
        StateSpec(
            RunStatus.RESTORING,
            (RunStatus.CONFIGURING_DB,),
            None,
            "cluster restore requested; creating instances; waiting for all to be available",
        ),
        StateSpec(
            RunStatus.CONFIGURING_DB,
            (RunStatus.ARCHIVING,),
            DetailType.CLUSTER_AVAILABLE,
            "rotating the master password, running post-restore SQL, creating users",
        ),
        StateSpec(
            RunStatus.ARCHIVING,
            (RunStatus.SUCCEEDED,),
            DetailType.DATABASE_READY,
            "applying snapshot retention",
        ),
        StateSpec(RunStatus.SUCCEEDED, (), DetailType.RUN_SUCCEEDED, "done"),
        StateSpec(RunStatus.FAILED, (), DetailType.RUN_FAILED, "failed; see failure"),
    )
}

ACTIVE_STATUSES: tuple[RunStatus, ...] = tuple(s for s in RunStatus if not s.is_terminal)


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    if new is RunStatus.FAILED:
        return not current.is_terminal
    return new in STATES[current].next_states
