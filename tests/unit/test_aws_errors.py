"""AWS errors become operator-actionable PipelineErrors; transient vs permanent is decided by code."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shared.aws.errors import translate


def client_error(code: str, message: str = "boom", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "CopyDBClusterSnapshot",
    )


@pytest.mark.parametrize(
    "code",
    [
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InsufficientDBInstanceCapacity",
        "InvalidDBClusterStateFault",
    ],
)
def test_throttling_and_capacity_are_transient(code: str) -> None:
    assert translate(client_error(code), "Op").transient


def test_server_errors_are_transient() -> None:
    assert translate(client_error("Weird", status=503), "Op").transient


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("AccessDenied", "missing IAM permission"),
        ("KMSKeyNotAccessibleFault", "KMS key not accessible"),
        ("SnapshotQuotaExceeded", "snapshot quota reached"),
    ],
)
def test_permanent_errors_say_what_to_do(code: str, words: str) -> None:
    error = translate(client_error(code), "CopyDBClusterSnapshot")
    assert not error.transient
    assert words in error.message and code in error.message


def test_copy_concurrency_limit_is_transient() -> None:
    error = translate(
        client_error("SnapshotQuotaExceeded", "Cannot have more than 5 concurrent copies in progress"),
        "CopyDBClusterSnapshot",
    )
    assert error.transient and "concurrency" in error.message
