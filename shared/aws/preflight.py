"""Read-only observations for the preflight (shared.preflight): KMS, EC2, RDS account quotas, IAM simulation.

What cannot be read becomes CannotCheck (a warning in the plan), not an error: an API this endpoint does not
implement (the emulator; moto raises NotImplementedError in process, a server answers an error code), or a
permission the caller lacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from shared.aws.errors import error_code, translate
from shared.errors import CannotCheck
from shared.ports import KeyGrantView, KeyView, SnapshotQuota, SubnetGroupView

T = TypeVar("T")

_UNAVAILABLE = {"NotImplemented", "InvalidAction", "UnknownOperationException"}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_KEY_MISSING = {"NotFoundException"}
_SUBNET_GROUP_MISSING = {"DBSubnetGroupNotFoundFault"}


def observe(op: str, read: Callable[[], T], missing: set[str] | None = None) -> T | None:
    """`read()`; None when AWS says the thing is missing; CannotCheck when the fact is not observable here."""
    try:
        return read()
    except NotImplementedError:
        raise CannotCheck(f"{op} is not available at this endpoint") from None
    except ClientError as exc:
        code = error_code(exc)
        if missing and code in missing:
            return None
        if code in _UNAVAILABLE:
            raise CannotCheck(f"{op} is not available at this endpoint ({code})") from None
        if code in _DENIED:
            raise CannotCheck(f"{op}: access denied to the caller") from None
        raise translate(exc, op) from None


class AwsPreflightProbe:
    """shared.ports.PreflightProbe for one region."""

    def __init__(self, region: str, rds: Any, kms: Any, ec2: Any) -> None:
        self.region = region
        self._rds, self._kms, self._ec2 = rds, kms, ec2

    def describe_key(self, key_id: str) -> KeyView | None:
        # KeyMetadata: Arn, KeyId, Enabled, KeyState
        # https://docs.aws.amazon.com/kms/latest/APIReference/API_KeyMetadata.html
        raw = observe("DescribeKey", lambda: self._kms.describe_key(KeyId=key_id), _KEY_MISSING)
        if raw is None:
            return None
        meta = raw["KeyMetadata"]
        return KeyView(
            arn=meta.get("Arn", ""),
            key_id=meta["KeyId"],
            enabled=bool(meta.get("Enabled")),
            state=meta.get("KeyState", "Unknown"),
        )

    def key_policy(self, key_id: str) -> str:
        # The only policy name is "default": https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html
        raw = observe("GetKeyPolicy", lambda: self._kms.get_key_policy(KeyId=key_id, PolicyName="default"))
        return str(raw["Policy"]) if raw else "{}"

    def key_grants(self, key_id: str) -> list[KeyGrantView]:
        # https://docs.aws.amazon.com/kms/latest/APIReference/API_ListGrants.html (GranteePrincipal, Operations)
        def read() -> list[KeyGrantView]:
            paginator = self._kms.get_paginator("list_grants")
            return [
                KeyGrantView(grantee=g.get("GranteePrincipal", ""), operations=list(g.get("Operations", [])))
                for page in paginator.paginate(KeyId=key_id)
                for g in page.get("Grants", [])
            ]

        return observe("ListGrants", read) or []

    def subnet_group(self, name: str) -> SubnetGroupView | None:
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBSubnetGroups.html
        raw = observe(
            "DescribeDBSubnetGroups",
            lambda: self._rds.describe_db_subnet_groups(DBSubnetGroupName=name),
            _SUBNET_GROUP_MISSING,
        )
        groups = raw["DBSubnetGroups"] if raw else []
        return (
            SubnetGroupView(name=groups[0]["DBSubnetGroupName"], vpc_id=groups[0].get("VpcId", "")) if groups else None
        )

    def security_group_vpcs(self, group_ids: list[str]) -> dict[str, str]:
        # Filter by group-id: an unknown id is then absent from the answer instead of failing the whole call
        # (GroupIds with an unknown id fails with InvalidGroup.NotFound).
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSecurityGroups.html
        raw = observe(
            "DescribeSecurityGroups",
            lambda: self._ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": group_ids}]),
        )
        return {g["GroupId"]: g.get("VpcId", "") for g in (raw or {}).get("SecurityGroups", [])}

    def account_quotas(self) -> dict[str, SnapshotQuota]:
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeAccountAttributes.html
        raw = observe("DescribeAccountAttributes", lambda: self._rds.describe_account_attributes())
        return {
            q["AccountQuotaName"]: SnapshotQuota(used=int(q.get("Used", 0)), max=int(q.get("Max", 0)))
            for q in (raw or {}).get("AccountQuotas", [])
        }

    def manual_snapshot_statuses(self) -> list[str]:
        def read() -> list[str]:
            paginator = self._rds.get_paginator("describe_db_cluster_snapshots")
            pages = paginator.paginate(SnapshotType="manual")
            return [s.get("Status", "unknown") for page in pages for s in page["DBClusterSnapshots"]]

        return observe("DescribeDBClusterSnapshots", read) or []


class IamSimulator:
    """shared.ports.PolicySimulator over iam:SimulatePrincipalPolicy.
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html (EvalDecision: allowed,
    explicitDeny, implicitDeny; MissingContextValues: keys the policies needed that the request did not give)."""

    def __init__(self, iam: Any) -> None:
        self._iam = iam

    def simulate(self, principal_arn: str, action: str, resource_arn: str) -> tuple[bool, list[str]]:
        raw = observe(
            "SimulatePrincipalPolicy",
            lambda: self._iam.simulate_principal_policy(
                PolicySourceArn=principal_arn, ActionNames=[action], ResourceArns=[resource_arn]
            ),
        )
        results = (raw or {}).get("EvaluationResults", [])
        if not results:
            raise CannotCheck(f"SimulatePrincipalPolicy returned no result for {action}")
        result = results[0]
        return result.get("EvalDecision") == "allowed", list(result.get("MissingContextValues", []))
