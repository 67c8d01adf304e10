"""Turns botocore errors into PipelineErrors with an operator-actionable message and a transient flag.

Classification is by error *code* (never by message text). Throttling, 5xx and capacity limits are transient
(retried with backoff); a busy resource is `ResourceBusy` (waited for, no retry spent); permissions, KMS, quotas and
invalid requests are permanent (fail the run). `SnapshotQuotaExceeded` answers two different limits (the manual
snapshot quota and the 5 cross-region copies in flight); the copy step tells them apart by reading the quota.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from shared.errors import PipelineError, ResourceBusy

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InsufficientDBInstanceCapacity",
        "InsufficientDBClusterCapacityFault",
        "InsufficientDBInstanceCapacityFault",
        "InvalidDBClusterSnapshotStateFault",
    }
)
# "The requested operation can't be performed while the cluster is in this state" / "The DB instance isn't in a
# valid state" (botocore RDS model, InvalidDBClusterStateFault / InvalidDBInstanceStateFault, whose code is
# InvalidDBInstanceState): the resource is busy (backing-up, maintenance, modifying...), not broken.
BUSY_CODES = frozenset({"InvalidDBClusterStateFault", "InvalidDBInstanceState", "InvalidDBInstanceStateFault"})

_QUOTA = (
    "snapshot quota reached ({op}): the manual cluster snapshot quota is full (delete old manual cluster snapshots "
    "or raise the quota), or 5 cross-region copies are already in flight to this region"
)
_HINTS = {
    "AccessDenied": "missing IAM permission: {op} was denied; check the function's role policy",
    "AccessDeniedException": "missing IAM permission: {op} was denied; check the function's role policy",
    "UnauthorizedOperation": "missing IAM permission: {op} was denied; check the function's role policy",
    "KMSKeyNotAccessibleFault": (
        "KMS key not accessible for {op}: the key must exist in the target region, be enabled, and allow "
        "this role kms:CreateGrant/kms:DescribeKey/kms:Decrypt"
    ),
    "SnapshotQuotaExceeded": _QUOTA,
    "SnapshotQuotaExceededFault": _QUOTA,
    "DBClusterQuotaExceededFault": "DB cluster quota reached ({op}): raise the quota or remove unused clusters",
    "InstanceQuotaExceeded": "DB instance quota reached ({op}): raise the quota or remove unused instances",
    "StorageQuotaExceeded": "storage quota reached ({op})",
    "ResourceNotFoundException": "{op}: resource not found",
    "InvalidDBClusterStateFault": "{op} refused while the cluster is busy",
    "InvalidDBInstanceState": "{op} refused while the instance is busy",
    "InvalidDBInstanceStateFault": "{op} refused while the instance is busy",
}


def translate(exc: Exception, op: str) -> PipelineError:
    """Map an SDK exception raised by `op` to a PipelineError. Never includes request parameters."""
    if isinstance(exc, PipelineError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        detail = str(error.get("Message", ""))[:300]
        transient = code in TRANSIENT_CODES or status >= 500 or status == 429
        hint = _HINTS.get(code, "{op} failed").format(op=op)
        message = f"{hint} [{code}]" + (f": {detail}" if detail else "")
        if code in BUSY_CODES:
            return ResourceBusy(code, message)
        return PipelineError(code, message, transient=transient)
    if isinstance(exc, ConnectionError | ReadTimeoutError):
        return PipelineError(
            "NetworkError", f"{op}: network error talking to AWS ({type(exc).__name__})", transient=True
        )
    if isinstance(exc, BotoCoreError):
        return PipelineError(type(exc).__name__, f"{op}: {exc}", transient=False)
    raise exc


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
