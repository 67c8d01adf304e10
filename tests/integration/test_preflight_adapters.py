"""The preflight's and the evidence's adapters against moto: what exists, what is missing, and what moto cannot
answer (CannotCheck, never a guess)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from shared.aws.evidence_bucket import S3EvidenceStore
from shared.aws.preflight import AwsPreflightProbe, IamSimulator
from shared.errors import CannotCheck, PipelineError

REGION = "us-west-2"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def probe() -> AwsPreflightProbe:
    return AwsPreflightProbe(
        REGION,
        boto3.client("rds", region_name=REGION),
        boto3.client("kms", region_name=REGION),
        boto3.client("ec2", region_name=REGION),
    )


def test_keys_policies_and_grants(aws: None) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/pipeline", TargetKeyId=key["KeyId"])
    role = "arn:aws:iam::123456789012:role/restore"
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=role, Operations=["Decrypt", "CreateGrant"])
    found = probe().describe_key("alias/pipeline")
    assert found is not None and found.enabled and found.region == REGION and found.key_id == key["KeyId"]
    assert probe().describe_key("alias/missing") is None
    assert "Statement" in json.loads(probe().key_policy(key["KeyId"]))
    [grant] = probe().key_grants(key["KeyId"])
    assert grant.grantee == role and set(grant.operations) == {"Decrypt", "CreateGrant"}
    kms.disable_key(KeyId=key["KeyId"])
    disabled = probe().describe_key(key["KeyId"])
    assert disabled is not None and not disabled.enabled and disabled.state == "Disabled"


def test_subnet_groups_and_security_groups(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    boto3.client("rds", region_name=REGION).create_db_subnet_group(
        DBSubnetGroupName="db", DBSubnetGroupDescription="db", SubnetIds=subnets
    )
    group = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    found = probe().subnet_group("db")
    assert found is not None and found.vpc_id == vpc
    assert probe().subnet_group("nope") is None
    assert probe().security_group_vpcs([group, "sg-0000000000000000"]) == {group: vpc}


def test_what_moto_cannot_answer_is_cannot_check(aws: None) -> None:
    with pytest.raises(CannotCheck, match="DescribeAccountAttributes"):
        probe().account_quotas()
    with pytest.raises(CannotCheck, match="SimulatePrincipalPolicy"):
        IamSimulator(boto3.client("iam", region_name=REGION)).simulate(
            "arn:aws:iam::123456789012:role/x", "rds:DescribeDBClusters", "*"
        )
    assert probe().manual_snapshot_statuses() == []


def test_evidence_is_written_encrypted_and_a_missing_bucket_is_an_error(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="evidence", CreateBucketConfiguration={"LocationConstraint": REGION})
    S3EvidenceStore(s3, "evidence").put("evidence/nightly/r1.json", '{"run_id": "r1"}')
    stored = s3.get_object(Bucket="evidence", Key="evidence/nightly/r1.json")
    assert stored["ServerSideEncryption"] == "AES256" and json.loads(stored["Body"].read()) == {"run_id": "r1"}
    with pytest.raises(PipelineError) as missing:
        S3EvidenceStore(s3, "no-such-bucket").put("evidence/x.json", "{}")
    assert missing.value.code == "NoSuchBucket"
