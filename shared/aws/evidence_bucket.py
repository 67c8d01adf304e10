"""The evidence bucket (shared.ports.EvidenceStore): one JSON object per run, encrypted at rest (SSE-S3).
PutObject with ServerSideEncryption=AES256: https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from shared.aws.errors import translate


class S3EvidenceStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put(self, key: str, body: str) -> None:
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body.encode("utf-8"),
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        except ClientError as exc:
            raise translate(exc, "PutObject") from None
