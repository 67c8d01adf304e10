"""Turns botocore errors into PipelineErrors with an operator-actionable message and a transient flag.

Classification is by error *code* (never by message text). Throttling, 5xx and capacity/concurrency limits are
transient (retried with backoff); permissions, KMS, quotas and invalid requests are permanent (fail the run).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from shared.errors import PipelineError

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
        # Only 5 cluster-snapshot copies may be in progress per destination region; the error code for the
        # sixth is not documented, so the copy step also treats a concurrency message as transient.
        "CopySnapshotConcurrencyLimitExceeded",
        "InvalidDBClusterStateFault",
        "InvalidDBInstanceState",
        "InvalidDBClusterSnapshotStateFault",
    }
)

_QUOTA = "snapshot quota reached ({op}): delete old manual cluster snapshots or raise the quota"
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
}


def is_concurrency_limit(exc: ClientError) -> bool:
    message = exc.response.get("Error", {}).get("Message", "").lower()
    return "concurrent" in message or "in progress" in message


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
        if code == "SnapshotQuotaExceeded" and is_concurrency_limit(exc):
            transient = True
            hint = f"copy concurrency limit reached ({op}): at most 5 cluster-snapshot copies per region"
        else:
            hint = _HINTS.get(code, "{op} failed").format(op=op)
        message = f"{hint} [{code}]" + (f": {detail}" if detail else "")
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
