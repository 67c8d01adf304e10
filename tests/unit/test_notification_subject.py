"""Notification subjects stay under SNS's limit whatever the names: Publish's Subject "must be ... less than 100
characters long" (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html), and a longer one is refused."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from shared import report
from shared.aws.sns import SnsNotifier
from shared.model import RunStatus
from tests.unit.fakes import make_config, make_run, pipeline_doc

LONGEST_PIPELINE = "p" + "-ab" * 7 + "x" * 10  # 32 characters, the longest name shared.config allows
LONGEST_CLUSTER = "staging-" + "c" * 50 + "-tail"  # 63 characters, the longest RDS identifier
TOPIC = "arn:aws:sns:us-west-2:123456789012:aurora-restore-dev-notifications"


def longest_run(status: RunStatus) -> Any:
    pipeline = make_config(pipeline_doc(name=LONGEST_PIPELINE, target_cluster_id=LONGEST_CLUSTER)).pipelines[0]
    return make_run(status, pipeline=pipeline)


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED])
def test_subject_is_under_100_characters_for_the_longest_names(status: RunStatus) -> None:
    # Given a pipeline and a target with the longest names the configuration accepts
    assert len(LONGEST_PIPELINE) == 32 and len(LONGEST_CLUSTER) == 63
    run = longest_run(status)
    # When the notification's subject is built
    subject = report.subject(run)
    # Then it is under 100 characters and still says what happened to which pipeline and target
    assert len(subject) < 100
    assert subject.startswith(f"aurora-restore [{LONGEST_PIPELINE}] {status.value}: staging-ccc")
    assert subject.endswith("ccc-tail")
    assert "..." in subject


def test_subject_is_whole_when_the_names_are_short() -> None:
    run = make_run(RunStatus.SUCCEEDED)
    assert report.subject(run) == "aurora-restore [nightly] SUCCEEDED: staging-aurora"


def test_adapter_never_sends_a_subject_of_100_characters_or_more() -> None:
    # Given a subject of exactly 100 characters (which SNS would refuse)
    client = boto3.client("sns", region_name="us-west-2")
    subject = "s" * 60 + "e" * 40
    expected = {"TopicArn": TOPIC, "Subject": ANY, "Message": "body", "MessageAttributes": ANY}
    with Stubber(client) as stub:
        stub.add_response("publish", {"MessageId": "m-1"}, expected)
        captured: dict[str, Any] = {}
        client.meta.events.register("provide-client-params.sns.Publish", lambda params, **_: captured.update(params))
        # When the adapter publishes it
        SnsNotifier(client, TOPIC).notify(subject, "body", {"run_id": "r-1"})
        stub.assert_no_pending_responses()
    # Then SNS gets a subject under 100 characters that keeps both ends
    assert len(captured["Subject"]) == 99
    assert captured["Subject"].startswith("sss") and captured["Subject"].endswith("eee")
