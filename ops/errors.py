"""One place that turns what can go wrong when the CLI talks to AWS into one line an operator can act on.

Every command runs inside `explain`'s net (ops.cli): an AWS error never reaches the operator as a traceback.
Exit codes: 1 = AWS said no / something is missing, 2 = the command line or the local setup is wrong,
3 = the pipeline refused (rerun --wait), 4 = the preflight found a blocker (plan)."""

from __future__ import annotations

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    TokenRetrievalError,
)

from shared.errors import PipelineError

USAGE = 2
AWS = 1
REFUSED = 3
BLOCKED = 4

NAMES_HINT = "name the stack with --stack NAME (its outputs name the tables, the bus and the queues)"


class CliError(Exception):
    """A failure the operator can act on: what happened, what to do, and the exit code."""

    def __init__(self, message: str, hint: str = "", exit_code: int = AWS) -> None:
        super().__init__(message)
        self.message, self.hint, self.exit_code = message, hint, exit_code

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CliError) and (self.message, self.hint, self.exit_code) == (
            other.message,
            other.hint,
            other.exit_code,
        )

    __hash__ = Exception.__hash__


# Error codes that mean "the named thing does not exist", whatever the service.
_NOT_FOUND = {
    "ResourceNotFoundException",  # DynamoDB table, EventBridge bus
    "ParameterNotFound",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "DBClusterSnapshotNotFoundFault",
    "DBSnapshotNotFound",
}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "NotAuthorizedForSourceException"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "UnrecognizedClientException"}
_INVALID_TOKEN = {"InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch"}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "ProvisionedThroughputExceededException"}


def explain(exc: BaseException) -> CliError | None:
    """The operator's line for `exc`, or None when it is not an error of the environment (a bug: let it show)."""
    error = _explain(exc)
    if error is None:
        return None
    return CliError(" ".join(error.message.split()), error.hint, error.exit_code)


def _explain(exc: BaseException) -> CliError | None:  # noqa: C901 - one flat mapping reads best
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, NoRegionError):
        return CliError("no AWS region", "give --region REGION (or set AWS_REGION / AWS_DEFAULT_REGION)", USAGE)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return CliError(
            f"no usable AWS credentials ({exc})",
            "log in (`aws sso login`, `aws configure`) or set AWS_PROFILE / AWS_ACCESS_KEY_ID",
            USAGE,
        )
    if isinstance(exc, ProfileNotFound):
        return CliError(str(exc), "check AWS_PROFILE against `aws configure list-profiles`", USAGE)
    if isinstance(exc, EndpointConnectionError):
        return CliError(str(exc), "check --endpoint-url, --region and the network", AWS)
    if isinstance(exc, ParamValidationError):
        return CliError(f"invalid request: {exc}", "check the names given on the command line", USAGE)
    if isinstance(exc, ClientError):
        return _client_error(exc)
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid endpoint"):  # botocore, e.g. AWS_REGION=""
        return CliError(
            f"{exc}", "give --region REGION (an empty AWS_REGION does not count) or a valid --endpoint-url", USAGE
        )
    if isinstance(exc, PipelineError):  # the state store's adapter translates ClientError (shared.aws.errors)
        wrapped = ClientError({"Error": {"Code": exc.code, "Message": exc.message}}, "DynamoDB")
        return _client_error(wrapped)
    return None


def _client_error(exc: ClientError) -> CliError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    message = str(error.get("Message") or exc)
    operation = exc.operation_name
    if code in _NOT_FOUND:
        return CliError(f"{operation}: not found: {message}", NAMES_HINT, AWS)
    if code == "ValidationError" and "does not exist" in message:  # CloudFormation: unknown stack
        return CliError(f"{operation}: {message}", NAMES_HINT, AWS)
    if code in _DENIED:
        return CliError(
            f"{operation}: access denied: {message}",
            "your role lacks this permission; use the operator role (or a profile that has it)",
            AWS,
        )
    if code in _EXPIRED or code in _INVALID_TOKEN:
        return CliError(f"{operation}: credentials rejected ({code}): {message}", "refresh your credentials", USAGE)
    if code in _THROTTLED:
        return CliError(f"{operation}: throttled by AWS: {message}", "try again in a minute", AWS)
    return CliError(f"{operation} failed ({code}): {message}", "", AWS)
