"""What an operator does about a run's failure code (the README's Troubleshooting table, in one line each)."""

from __future__ import annotations

HINTS = {
    "TargetNotOwned": "tag the target `aurora-restore:pipeline=<name>` if it is this pipeline's; nothing was deleted",
    "InstanceNotOwned": "tag the instance `aurora-restore:pipeline=<name>` if it really is this pipeline's",
    "TargetDeletionProtected": "turn deletion protection off if the target may be replaced, then rerun",
    "TargetIsSourceCluster": "the target is a configured source: fix the pipelines document",
    "TargetBusy": "another run holds the target: wait for it (`aurora-restore status`)",
    "ForeignSnapshot": "the snapshot belongs to another account: check who forwards events, or set source_account_id",
    "OlderThanTarget": "to roll back on purpose: `rerun --snapshot ID --allow-older`",
    "KMSKeyNotAccessibleFault": "the key must be in the target region, enabled, and usable by the role",
    "SnapshotQuotaExceeded": "delete old manual cluster snapshots, lower retention.keep_last or raise the quota",
    "RestoreFailed": "fix the cause (KMS key, parameter group, capacity), then rerun",
    "InstanceFailed": "fix the cause (KMS key, parameter group, capacity), then rerun",
    "ClusterFailed": "fix the cause (KMS key, parameter group, capacity), then rerun",
    "DbLoginRefused": "check the db-credentials secret and RDS-EVENT-0016",
    "DbUnreachable": "the DB-user function cannot reach the cluster: subnets, security groups (3306), VPC endpoints",
    "TlsNotNegotiated": "check the cluster parameter group and tls.ca_bundle",
    "TlsHandshakeFailed": "check tls.ca_bundle (the RDS global bundle) and the endpoint",
    "SecretNotFound": "create the secret named in the message",
    "SourceSnapshotMissing": "rerun: the newest snapshot is used",
    "InvalidConfiguration": "`aurora-restore config validate`, then `config push FILE`, then `aurora-restore redrive`",
    "StatementTooLong": "raise DbUserFunctionTimeout (max 900), or split/batch the statement; then rerun",
    "NetworkNotConfigured": "a first run needs db_subnet_group and security_group_ids in the pipeline's configuration",
    "StagingMissing": "the staging cluster is gone; the target was not touched: rerun",
    "StagingNameTaken": "a cluster not made by this run holds the staging name: look at it, then rerun",
    "NoTargetSecurityGroups": "configure security_group_ids, then rerun; nothing was renamed",
    "SubnetGroupNotFound": "create the DB subnet group or fix db_subnet_group; check with `aurora-restore plan`",
    "SecurityGroupNotFound": "fix security_group_ids: groups of the subnet group's VPC; `aurora-restore plan` checks",
    "SecurityGroupWrongVpc": "use security groups of the subnet group's VPC; check with `aurora-restore plan`",
    "KmsKeyNotFound": "fix kms_key_id (a key in the target region); check with `aurora-restore plan`",
    "KmsKeyDisabled": "enable the key (or cancel its deletion), then rerun",
    "KmsKeyWrongRegion": "kms_key_id must name a key in the target region",
    "NameTaken": "a cluster the pipeline does not own has the name the run needs: rename or remove it",
    "QuotaExceeded": "raise the account's DB cluster/instance quota or free some; check with `aurora-restore plan`",
    "DeadlineExceeded": "the state took longer than its deadline: look at the audit trail, then rerun",
}


def hint_for(code: str) -> str:
    if code.startswith("AccessDenied"):
        return "a missing IAM permission: the message names the API; add it to the function's policy"
    return HINTS.get(code, "see the README's Troubleshooting table and the audit trail below")
