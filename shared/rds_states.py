"""What an Aurora cluster or instance status means for a run: ready, busy (wait), stopped, or failed for good.

The one place the documented statuses are classified; every step that looks at a cluster or an instance asks here.
Source: Aurora User Guide, "Viewing DB cluster status" (Aurora.Status) and "Viewing DB instance status in an Aurora
cluster" (Overview.DBInstance.Status), https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html
(the guide's table shows instance statuses capitalised; the API returns them lowercase).

- busy: RDS is doing something (a backup, maintenance, a modification, a start); calls that change the resource
  are refused meanwhile (`InvalidDBClusterStateFault` / `InvalidDBInstanceState`). A run waits, spends no retry
  attempt, and fails only at its state's deadline.
- failed: the documented states RDS does not leave by itself; a run fails at once with the state as the cause.
- stopped: a stopped cluster must be started before its instances can be deleted
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-cluster-stop-start.html).
A status not listed (AWS adds some over time) counts as busy: the run waits for its deadline, never fails on a guess.
"""

from __future__ import annotations

from enum import StrEnum

AVAILABLE = "available"
STOPPED = "stopped"

BUSY: frozenset[str] = frozenset(
    {
        # cluster and instance statuses
        "backing-up",
        "backtracking",
        "creating",
        "deleting",
        "maintenance",
        "modifying",
        "renaming",
        "resetting-master-credentials",
        "starting",
        "stopping",
        "storage-optimization",
        "upgrading",
        # cluster only
        "failing-over",
        "migrating",
        "promoting",
        "update-iam-db-auth",
        # instance only
        "configuring-enhanced-monitoring",
        "configuring-iam-database-auth",
        "configuring-log-exports",
        "converting-to-vpc",
        "moving-to-vpc",
        "rebooting",
    }
)

# Terminal failure states, with the guide's meaning (shown to the operator in the failure message).
FAILED: dict[str, str] = {
    "failed": "RDS can't recover it",
    "cloning-failed": "cloning the DB cluster failed",
    "migration-failed": "a migration (snapshot restore) failed",
    "restore-error": "an error occurred restoring from a snapshot",
    "inaccessible-encryption-credentials": "the KMS key can't be accessed or recovered",
    "inaccessible-encryption-credentials-recoverable": (
        "the KMS key can't be accessed (restarting can recover it once the key is active again)"
    ),
    "incompatible-network": "the VPC prevents RDS from acting (e.g. no free IP address in a subnet)",
    "incompatible-option-group": "an option group change can't be applied or rolled back",
    "incompatible-parameters": "the parameter group is not compatible with the DB instance",
    "incompatible-restore": "RDS can't do the restore",
    "insufficient-capacity": "no capacity for this instance class in the Availability Zone",
    "storage-full": "the storage allocation is exhausted",
}


class Condition(StrEnum):
    READY = "ready"
    BUSY = "busy"
    STOPPED = "stopped"
    FAILED = "failed"


def condition(status: str) -> Condition:
    """What `status` (of a cluster or an instance) means for a run."""
    status = status.lower()
    if status == AVAILABLE:
        return Condition.READY
    if status == STOPPED:
        return Condition.STOPPED
    if status in FAILED:
        return Condition.FAILED
    return Condition.BUSY  # documented busy states, and any status this table does not know yet


def is_failed(status: str) -> bool:
    return condition(status) is Condition.FAILED


def failure_cause(kind: str, identifier: str, status: str) -> str:
    """`cluster x is 'inaccessible-encryption-credentials': the KMS key can't be accessed or recovered`."""
    meaning = FAILED.get(status.lower(), "a terminal state")
    return f"{kind} {identifier} is {status!r}: {meaning}"
