"""SSM Parameter Store adapter for the pipelines document: read one parameter (None when it does not exist), write
one (the operator's `push`)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shared.aws.errors import error_code, translate


class ParameterStore:
    def __init__(self, client: Any) -> None:  # an SSM client (no type stubs for SSM in this project)
        self._client = client

    def read(self, name: str) -> str | None:
        """The parameter's value, or None when no parameter has that name. Any other error (access denied,
        throttling) raises: falling back to another document on those would act on a configuration nobody chose."""
        try:
            return str(self._client.get_parameter(Name=name)["Parameter"]["Value"])
        except ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise translate(exc, f"GetParameter({name})") from None

    def write(self, name: str, value: str, description: str) -> int:
        """Create or overwrite a String parameter; returns its new version. Intelligent-Tiering picks Standard
        (4 KB, free) when the value fits and Advanced (8 KB, charged) when it does not, and never downgrades an
        Advanced parameter (which AWS refuses).
        https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"""
        try:
            response = self._client.put_parameter(
                Name=name,
                Value=value,
                Type="String",
                Overwrite=True,
                Tier="Intelligent-Tiering",
                Description=description,
            )
        except ClientError as exc:
            raise translate(exc, f"PutParameter({name})") from None
        return int(response["Version"])
