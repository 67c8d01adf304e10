"""What each step's function needs besides its routes: a description, its capability policies and any property
that differs from `Globals.Function`. The policies are the `AWS::IAM::ManagedPolicy` resources of
`infra/template.src.yaml`; every function also gets `FunctionBasePolicy`."""

from __future__ import annotations

from dataclasses import dataclass

from shared.transitions import Step


@dataclass(frozen=True)
class FunctionInfra:
    step: Step
    description: str
    policies: tuple[str, ...] = ()  # logical ids of managed policies, after FunctionBasePolicy
    extra: str = ""  # YAML properties, verbatim, between CodeUri and LoggingConfig


FUNCTIONS: tuple[FunctionInfra, ...] = (
    FunctionInfra(
        Step.SNAPSHOT_CHECK,
        "Opens a run when production's newest snapshot appears (RDS event) or on RestoreRequested.",
        ("FindSourceSnapshotsPolicy", "NotifyPolicy", "PreflightReadPolicy"),
    ),
    FunctionInfra(
        Step.COPY_SNAPSHOT,
        "Copies the source snapshot into the target region, re-encrypted with the pipeline key.",
        ("CopySnapshotsPolicy",),
    ),
    FunctionInfra(
        Step.CHECK_COPY_STATUS,
        "Polls the copy (Aurora emits no copy-finished event).",
        ("CopySnapshotsPolicy", "DiscardFailedCopiesPolicy"),
        # Its wake-ups come up to two minutes early (EventBridge Scheduler fires within the minute asked) and it
        # waits the rest, then looks in short steps, inside the invocation (StepTurn.wait_here): 300 s covers it.
        extra="Timeout: 300\n",
    ),
    FunctionInfra(
        Step.DELETE_RDS,
        "Deletes the old target cluster and its instances (tag-guarded).",
        ("DeleteTargetPolicy",),
    ),
    FunctionInfra(
        Step.RESTORE_SNAPSHOT,
        "Restores the target cluster from the copied snapshot.",
        ("RestoreClustersPolicy",),
    ),
    FunctionInfra(
        Step.CHECK_RESTORE_STATUS,
        "Creates the instances and waits for the restored cluster to become available.",
        ("RestoreClustersPolicy",),
    ),
    FunctionInfra(
        Step.SETUP_DB_USERS,
        "Resets the master password and applies SQL users/grants (runs in the VPC).",
        ("ConfigureDatabasePolicy",),
        # The only function that talks to the database, so the only one in the VPC.
        # Its timeout is a parameter: masking SQL on a real database can take minutes (Lambda allows up to 900 s,
        # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
        extra="""\
Timeout: !Ref DbUserFunctionTimeout
VpcConfig:
  SubnetIds: !Ref SubnetIds
  SecurityGroupIds: !Ref SecurityGroupIds
""",
    ),
    FunctionInfra(
        Step.SWAP_CLUSTERS,
        "Swap cut-over: renames the old target away and the proven staging cluster into its place (tag-guarded).",
        # ConfigureDatabasePolicy: the master secret's host follows the cluster to the target name.
        ("SwapClustersPolicy", "ConfigureDatabasePolicy"),
    ),
    FunctionInfra(
        Step.ARCHIVE_SNAPSHOT,
        "Tags and prunes the pipeline's snapshot copies (keep_last).",
        ("PruneSnapshotCopiesPolicy",),
    ),
    FunctionInfra(
        Step.SNS_NOTIFICATION,
        "Publishes the run outcome; first cancels a failed run's in-flight snapshot copy.",
        # and, for a `swap` run that failed before its swap, deletes the staging cluster's instances; it writes the
        # run's evidence when the stack names a bucket.
        ("NotifyPolicy", "DiscardFailedCopiesPolicy", "DeleteTargetPolicy", "WriteEvidencePolicy"),
    ),
    FunctionInfra(
        Step.ORCHESTRATOR_CHECK,
        "Scheduled sweeper: re-drives due runs; opens deferred and fallback runs (trigger watch).",
        # The trigger watch describes the source (backup window, newest snapshot) and tells of refused fallbacks;
        # the runs it opens pass the preflight. It also deletes retired targets past keep_previous_hours
        # (tag-guarded, as delete-rds).
        ("FindSourceSnapshotsPolicy", "NotifyPolicy", "PreflightReadPolicy", "DeleteTargetPolicy"),
    ),
)
