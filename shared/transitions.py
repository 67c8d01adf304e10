"""The run state machine as data. Handlers, the orchestrator check, the docs and the tests all read this table."""

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
    owner: Step | None  # the step the orchestrator's RunCheckDue wakes for a run in this state
    next_states: tuple[RunStatus, ...]
    entered_event: DetailType | None  # emitted when a run enters this state
    description: str


STATES: dict[RunStatus, StateSpec] = {
    s.status: s
    for s in (
        StateSpec(
            RunStatus.REQUESTED,
            Step.COPY_SNAPSHOT,
            (RunStatus.COPYING,),
            DetailType.RUN_REQUESTED,
            "run opened, target locked; copy not yet requested",
        ),
        StateSpec(
            RunStatus.COPYING,
            Step.CHECK_COPY_STATUS,
            (RunStatus.REPLACING_TARGET,),
            None,
            "copy requested; Aurora emits no event when it ends, so only the check looks",
        ),
        StateSpec(
            RunStatus.REPLACING_TARGET,
            Step.DELETE_RDS,
            (RunStatus.RESTORING,),
            DetailType.SNAPSHOT_COPIED,
            "copy available; deleting the previous target (instances, then cluster)",
        ),
        StateSpec(
            RunStatus.RESTORING,
            Step.CHECK_RESTORE_STATUS,
            (RunStatus.CONFIGURING_DB,),
            None,
            "cluster restore requested; creating instances; waiting for all to be available",
        ),
        StateSpec(
            RunStatus.CONFIGURING_DB,
            Step.SETUP_DB_USERS,
            (RunStatus.ARCHIVING,),
            DetailType.CLUSTER_AVAILABLE,
            "rotating the master password, running post-restore SQL, creating users",
        ),
        StateSpec(
            RunStatus.ARCHIVING,
            Step.ARCHIVE_SNAPSHOT,
            (RunStatus.SUCCEEDED,),
            DetailType.DATABASE_READY,
            "applying snapshot retention",
        ),
        StateSpec(RunStatus.SUCCEEDED, Step.SNS_NOTIFICATION, (), DetailType.RUN_SUCCEEDED, "done"),
        StateSpec(RunStatus.FAILED, Step.SNS_NOTIFICATION, (), DetailType.RUN_FAILED, "failed; see failure"),
    )
}

ACTIVE_STATUSES: tuple[RunStatus, ...] = tuple(s for s in RunStatus if not s.is_terminal)


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    if new is RunStatus.FAILED:
        return not current.is_terminal
    return new in STATES[current].next_states


def owner_of(status: RunStatus) -> Step | None:
    return STATES[status].owner
