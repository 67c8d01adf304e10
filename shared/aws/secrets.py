"""Secrets Manager adapter. Values never appear in errors or logs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from shared.aws.errors import error_code, translate
from shared.errors import PipelineError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class Secrets:
    def __init__(self, client: SecretsManagerClient) -> None:
        self._client = client

    def get_json(self, secret_id: str) -> dict[str, str]:
        try:
            raw = self._client.get_secret_value(SecretId=secret_id)["SecretString"]
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise PipelineError(
                    "SecretNotFound", f"secret {secret_id!r} does not exist in Secrets Manager (create it first)"
                ) from None
            raise translate(exc, f"GetSecretValue({secret_id})") from None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            return {"password": raw}  # a plain-string secret holds just the password
        if not isinstance(value, dict):
            raise PipelineError("SecretMalformed", f"secret {secret_id!r} must be a JSON object or a plain string")
        return {str(k): str(v) for k, v in value.items()}

    def put_json(self, secret_id: str, value: dict[str, str]) -> None:
        body = json.dumps(value)
        try:
            self._client.put_secret_value(SecretId=secret_id, SecretString=body)
        except ClientError as exc:
            if error_code(exc) != "ResourceNotFoundException":
                raise translate(exc, f"PutSecretValue({secret_id})") from None
            try:
                self._client.create_secret(Name=secret_id, SecretString=body)
            except ClientError as create_exc:
                raise translate(create_exc, f"CreateSecret({secret_id})") from None
