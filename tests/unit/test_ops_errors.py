"""Every AWS error the operator CLI meets becomes one line with a hint and an exit code (ops.errors.explain)."""

from __future__ import annotations

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)

from ops.cli import hoist_global_options
from ops.errors import AWS, USAGE, CliError, explain


def client_error(code: str, message: str, operation: str = "Query") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("exc", "words", "hint", "exit_code"),
    [
        (NoRegionError(), "no AWS region", "--region", USAGE),
        (ValueError("Invalid endpoint: https://dynamodb..amazonaws.com"), "Invalid endpoint", "--region", USAGE),
        (NoCredentialsError(), "no usable AWS credentials", "aws sso login", USAGE),
        (client_error("ResourceNotFoundException", "Requested resource not found"), "not found", "--stack", AWS),
        (
            client_error("ResourceNotFoundException", "Event bus nope does not exist.", "PutEvents"),
            "nope",
            "--stack",
            AWS,
        ),
        (client_error("ValidationError", "Stack with id qa does not exist", "DescribeStacks"), "qa", "--stack", AWS),
        (
            client_error("AccessDeniedException", "not authorized to perform dynamodb:Query"),
            "access denied",
            "role",
            AWS,
        ),
        (
            client_error("ExpiredTokenException", "The security token included in the request is expired"),
            "expired",
            "refresh",
            USAGE,
        ),
        (client_error("ThrottlingException", "Rate exceeded"), "throttled", "try again", AWS),
        (EndpointConnectionError(endpoint_url="http://localhost:1"), "localhost:1", "--endpoint-url", AWS),
        (ParamValidationError(report="Invalid bucket name"), "invalid request", "names", USAGE),
        (client_error("SomethingElse", "odd"), "Query failed (SomethingElse): odd", "", AWS),
    ],
)
def test_an_aws_error_becomes_one_line_with_a_hint(exc: Exception, words: str, hint: str, exit_code: int) -> None:
    error = explain(exc)
    assert error is not None and words in error.message and hint in error.hint
    assert "\n" not in error.message and error.exit_code == exit_code


def test_a_bug_is_not_disguised_as_an_aws_error() -> None:
    assert explain(KeyError("x")) is None
    own = CliError("unknown pipeline", "configured: nightly", USAGE)
    assert explain(own) == own


def test_global_options_move_before_the_command() -> None:
    assert hoist_global_options(["status", "--region", "eu-west-1", "--pipeline", "p", "-o", "json"]) == [
        "--region",
        "eu-west-1",
        "-o",
        "json",
        "status",
        "--pipeline",
        "p",
    ]
    assert hoist_global_options(["config", "show", "--stack=s"]) == ["--stack=s", "config", "show"]
    assert hoist_global_options(["rerun", "--", "--region"]) == ["rerun", "--", "--region"]
