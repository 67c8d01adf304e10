"""AWS errors become operator-actionable PipelineErrors; transient vs permanent is decided by code."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shared.aws.errors import translate
from shared.errors import ResourceBusy


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


@pytest.mark.parametrize(
    "message",
    [
        "Cannot copy more than 5 snapshots across regions",  # reported for CopyDBSnapshot (aws-review.md #2)
        "Cannot create more than 100 manual snapshots",
        "injected",
    ],
)
def test_snapshot_quota_is_classified_by_code_not_by_message(message: str) -> None:
    # Given: SnapshotQuotaExceeded answers both the manual-snapshot quota and the 5 copies in flight, and the
    # cluster wording is unverified. When: translated. Then: one classification, whatever the text; the copy step
    # tells the two apart by reading the quota (tests/unit/test_copy_queue.py).
    error = translate(client_error("SnapshotQuotaExceeded", message), "CopyDBClusterSnapshot")
    assert error.code == "SnapshotQuotaExceeded" and not error.transient
    assert "5 cross-region copies" in error.message and "manual cluster snapshot quota" in error.message


@pytest.mark.parametrize("code", ["InvalidDBClusterStateFault", "InvalidDBInstanceState"])
def test_busy_resource_codes_become_resource_busy(code: str) -> None:
    # Given a refusal because the cluster or instance is busy (backing-up, maintenance...); When translated;
    # Then a ResourceBusy: the default error policy waits for it without spending the retry budget.
    error = translate(client_error(code, "is in backing-up state"), "DeleteDBInstance")
    assert isinstance(error, ResourceBusy) and error.transient and error.code == code
    assert "busy" in error.message
