"""The run state machine as data: states, legal transitions and the event a run emits on entering a state.

Which step acts in which state, and what wakes it, is the routing table next to this one (`shared/routing.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.model import RunStatus


class Step(StrEnum):
    """Function names are `aurora-restore-<environment>-<step>`; the local runtime and the template use the same."""

    SNAPSHOT_CHECK = "snapshot-check"
    COPY_SNAPSHOT = "copy-snapshot"
    CHECK_COPY_STATUS = "check-copy-status"
    DELETE_RDS = "delete-rds"
    RESTORE_SNAPSHOT = "restore-snapshot"
    CHECK_RESTORE_STATUS = "check-restore-status"
    SETUP_DB_USERS = "setup-db-users"
    SWAP_CLUSTERS = "swap-clusters"
    ARCHIVE_SNAPSHOT = "archive-snapshot"
    SNS_NOTIFICATION = "sns-notification"
    ORCHESTRATOR_CHECK = "orchestrator-check"


class DetailType(StrEnum):
    """`detail-type` of the pipeline's own events (source `aurora-restore`)."""

    RESTORE_REQUESTED = "RestoreRequested"
    RUN_REQUESTED = "RunRequested"
    SNAPSHOT_COPIED = "SnapshotCopied"
    TARGET_DELETED = "TargetDeleted"
    TARGET_READ = "TargetRead"  # `swap`: the target's settings are on the run; it stays in place until the swap
    CLUSTER_AVAILABLE = "ClusterAvailable"
    DATABASE_READY = "DatabaseReady"
    STAGING_READY = "StagingReady"
    RUN_SUCCEEDED = "RunSucceeded"
    RUN_FAILED = "RunFailed"
    RUN_CHECK_DUE = "RunCheckDue"


@dataclass(frozen=True)
class StateSpec:
    status: RunStatus
    next_states: tuple[RunStatus, ...]
    entered_event: DetailType | None  # emitted when a run enters this state
    description: str


S, E = RunStatus, DetailType
STATES: dict[RunStatus, StateSpec] = {spec.status: spec for spec in (
    #         state             next states             event on entry         what is happening
    # REQUESTED -> REPLACING_TARGET: a clone or point-in-time restore makes no copy (shared/steps/restore_source.py)
    StateSpec(S.REQUESTED,        (S.COPYING, S.REPLACING_TARGET), E.RUN_REQUESTED, "run opened, target locked"),
    StateSpec(S.COPYING,          (S.REPLACING_TARGET,), None,                "copying (no event ends it)"),
    StateSpec(S.REPLACING_TARGET, (S.RESTORING,),        E.SNAPSHOT_COPIED,   "delete (replace) / read (swap) target"),
    StateSpec(S.RESTORING,        (S.CONFIGURING_DB,),   None,                "restoring cluster and instances"),
    StateSpec(S.CONFIGURING_DB,   (S.VALIDATING,),       E.CLUSTER_AVAILABLE, "master password, SQL, users"),
    # No event on entry: setup-db-users goes on validating in the invocation that configured the database.
    StateSpec(S.VALIDATING,       (S.ARCHIVING, S.SWAPPING), None,            "validation checks"),
    StateSpec(S.SWAPPING,         (S.ARCHIVING,),        E.STAGING_READY,     "swap: old target out, new one in"),
    StateSpec(S.ARCHIVING,        (S.SUCCEEDED,),        E.DATABASE_READY,    "snapshot retention"),
    StateSpec(S.SUCCEEDED,        (),                    E.RUN_SUCCEEDED,     "done"),
    StateSpec(S.FAILED,           (),                    E.RUN_FAILED,        "failed: see `failure`"),
)}  # fmt: skip

ACTIVE_STATUSES: tuple[RunStatus, ...] = tuple(s for s in RunStatus if not s.is_terminal)


def can_transition(current: RunStatus, new: RunStatus) -> bool:
    if new is RunStatus.FAILED:
        return not current.is_terminal
    return new in STATES[current].next_states
