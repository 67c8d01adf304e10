"""SNS adapter for run notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from shared.aws.errors import translate
from shared.report import SUBJECT_MAX, shorten

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic = topic_arn

    def notify(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic,
                Subject=shorten(subject, SUBJECT_MAX),  # SNS refuses a subject of 100 characters or more
                Message=message,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
        except ClientError as exc:
            raise translate(exc, "Publish") from None
