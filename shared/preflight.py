"""The preflight of one pipeline: what a run would do and whether AWS would let it, read-only.

Pure: observations come in through the ports (RdsGateway, PreflightProbe, PolicySimulator), findings go out. Each
finding is `ok`, `warning` (worth a look, or could not be checked) or `blocker` (the run would fail or do harm).
`aurora-restore plan` runs every check (`full=True`); a run runs the cheap ones when it opens
(shared.steps.opening): no IAM simulation and no key-policy reading, which need the functions' role ARNs and IAM
read access the functions do not have, so a blocker there fails the run at once instead of hours later.

A fact that cannot be observed (an API missing in the emulator, a permission the caller lacks, an AWS error) is a
warning "could not check", never a guess.
"""

from __future__ import annotations

import fnmatch
import json
import statistics
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from shared.base_model import Model
from shared.clock import iso
from shared.config import DEFAULT_INSTANCE_COUNT, PipelineConfig
from shared.errors import CannotCheck, PipelineError
from shared.model import Run, RunStatus
from shared.naming import TAG_PIPELINE, retired_cluster_id, staging_cluster_id
from shared.ports import ClusterView, PolicySimulator, PreflightProbe, RdsGateway, SnapshotQuota, SnapshotView
from shared.report import duration

Level = Literal["ok", "warning", "blocker"]
ResolvedStrategy = Literal["snapshot-copy", "clone", "point-in-time"]

# "You can have up to five snapshot copy requests in progress to a single destination Region per account"
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-copy-snapshot.html
COPIES_IN_FLIGHT_MAX = 5
COPY_IN_FLIGHT = frozenset({"creating", "copying", "pending"})
# The default ManualClusterSnapshots quota, used only when DescribeAccountAttributes cannot be read
# (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/CHAP_Limits.html: 100 manual DB cluster snapshots).
DEFAULT_MANUAL_SNAPSHOT_MAX = 100
# DescribeAccountAttributes quota names (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AccountQuota.html)
QUOTA_SNAPSHOTS, QUOTA_CLUSTERS, QUOTA_INSTANCES = "ManualClusterSnapshots", "DBClusters", "DBInstances"
DURATION_SAMPLE = 10
ROLES_UNKNOWN = "the functions' roles are unknown (no deployed function of this environment could be read)"


class Finding(Model):
    model_config = ConfigDict(frozen=True)

    check: str
    level: Level
    detail: str
    code: str | None = None  # a blocker's code: the run's failure code when it fails the run at opening


def ok(check: str, detail: str) -> Finding:
    return Finding(check=check, level="ok", detail=detail)


def warning(check: str, detail: str) -> Finding:
    return Finding(check=check, level="warning", detail=detail)


def blocker(check: str, code: str, detail: str) -> Finding:
    return Finding(check=check, level="blocker", code=code, detail=detail)


class Plan(Model):
    model_config = ConfigDict(frozen=True)

    pipeline: str
    snapshot_id: str | None
    snapshot_created_at: datetime | None
    strategy: ResolvedStrategy
    cutover: str
    estimate_seconds: int | None = None
    findings: list[Finding] = Field(default_factory=list)

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "blocker"]

    def failure_message(self) -> str:
        return "preflight found " + "; ".join(f"[{f.check}] {f.detail}" for f in self.blockers)


def resolve_strategy(pipeline: PipelineConfig) -> ResolvedStrategy:
    """`auto`: a copy-on-write clone where one is possible (same region and account), else a snapshot copy."""
    if pipeline.strategy != "auto":
        return pipeline.strategy
    same_account = (pipeline.source_account_id or "") == (pipeline.target_account_id or "")
    return "clone" if not pipeline.cross_region and same_account else "snapshot-copy"


# ---- what each function calls: the IAM simulation's questions (resource "*" where the call is not scoped) -------
def function_calls(pipeline: PipelineConfig, account: str) -> dict[str, list[tuple[str, str]]]:
    """step -> [(action, resource ARN)] for the calls that function makes on this pipeline."""
    target = f"arn:aws:rds:{pipeline.target_region}:{account}:cluster:{pipeline.target_cluster_id}"
    copies = f"arn:aws:rds:{pipeline.target_region}:{account}:cluster-snapshot:ar-{pipeline.name}-*"
    source = f"arn:aws:rds:{pipeline.source_region}:{account}:cluster:{pipeline.source_cluster_id}"
    return {
        "snapshot-check": [("rds:DescribeDBClusterSnapshots", "*"), ("rds:DescribeDBClusters", source)],
        "copy-snapshot": [("rds:CopyDBClusterSnapshot", copies), ("rds:AddTagsToResource", copies)],
        "delete-rds": [("rds:DeleteDBCluster", target), ("rds:DescribeDBClusters", target)],
        "restore-snapshot": [("rds:RestoreDBClusterFromSnapshot", target), ("rds:AddTagsToResource", target)],
        "check-restore-status": [("rds:CreateDBInstance", "*"), ("rds:DescribeDBClusters", target)],
        "setup-db-users": [("rds:ModifyDBCluster", target), ("secretsmanager:PutSecretValue", "*")],
        "archive-snapshot": [("rds:DeleteDBClusterSnapshot", copies)],
        "sns-notification": [("sns:Publish", "*")],
    }


# What the functions that use the pipeline's key need from it (RDS re-encrypts the copy and restores with it).
KEY_USERS = {
    "copy-snapshot": ("kms:CreateGrant", "kms:DescribeKey", "kms:Encrypt", "kms:ReEncryptTo"),
    "restore-snapshot": ("kms:CreateGrant", "kms:DescribeKey", "kms:Decrypt"),
}
# KMS grant operations as ListGrants names them (https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantListEntry.html)
_GRANT_OPERATION = {"kms:ReEncryptTo": "ReEncryptTo"}


class Inputs(Model):
    """What the caller resolved before the checks: the snapshot (or why there is none), history, roles."""

    model_config = ConfigDict(frozen=True)

    snapshot: SnapshotView | None
    snapshot_problem: str = ""
    history: list[Run] = Field(default_factory=list)
    history_problem: str = ""  # why past runs could not be read (the estimate then says so)
    roles: dict[str, str] | None = None  # step -> role ARN, when the functions can be read
    run_id: str | None = None  # the run's id (names the swap's staging and retired clusters); None: no snapshot
    account: str = ""
    now: datetime


def plan(
    pipeline: PipelineConfig,
    inputs: Inputs,
    target: RdsGateway,
    probe: PreflightProbe | None,
    simulator: PolicySimulator | None = None,
    *,
    full: bool = True,
) -> Plan:
    strategy = resolve_strategy(pipeline)
    findings = [_snapshot(inputs)]
    cluster = _guarded("cutover", findings, lambda: target.find_cluster(pipeline.target_cluster_id))
    findings.append(_cutover(pipeline, cluster, inputs.run_id))
    findings.append(ok("strategy", _strategy_detail(pipeline, strategy)))
    if pipeline.cutover == "swap" and inputs.run_id:
        target_id = pipeline.target_cluster_id
        for name in (staging_cluster_id(target_id, inputs.run_id), retired_cluster_id(target_id, inputs.run_id)):
            _check(findings, "names", _collision_check(pipeline, name, target))
    if probe is not None:
        _check(findings, "kms-key", lambda: _key(pipeline, probe))
        _check(findings, "network", lambda: _network(pipeline, probe))
        _check(findings, "quota", lambda: _quotas(pipeline, strategy, probe, full))
        if full:
            _check(findings, "kms-access", lambda: _key_access(pipeline, probe, inputs.roles))
    if full:
        _check(findings, "iam", lambda: _iam(pipeline, simulator, inputs.roles, inputs.account))
    estimate = estimate_seconds(inputs.history)
    if inputs.history_problem:
        findings.append(warning("duration", f"could not check: {inputs.history_problem}"))
    else:
        findings.append(ok("duration", _estimate_detail(estimate, inputs.history)))
    snapshot = inputs.snapshot
    return Plan(
        pipeline=pipeline.name,
        snapshot_id=snapshot.identifier if snapshot else None,
        snapshot_created_at=snapshot.created_at if snapshot else None,
        strategy=strategy,
        cutover=pipeline.cutover,
        estimate_seconds=estimate,
        findings=findings,
    )


Check = Callable[[], "Finding | list[Finding]"]


def _check(findings: list[Finding], name: str, check: Check) -> None:
    """Run one check; what cannot be observed is a warning, never a blocker or a pass."""
    try:
        result = check()
    except CannotCheck as exc:
        findings.append(warning(name, f"could not check: {exc.reason}"))
        return
    except PipelineError as exc:
        findings.append(warning(name, f"could not check: {exc.code}: {exc.message}"))
        return
    findings.extend(result if isinstance(result, list) else [result])


def _guarded(name: str, findings: list[Finding], read: Callable[[], Any]) -> Any:
    try:
        return read()
    except PipelineError as exc:
        findings.append(warning(name, f"could not check: {exc.code}: {exc.message}"))
        return None


def age_text(created: datetime | None, now: datetime) -> str:
    if created is None:
        return "age unknown"
    return f"{duration(int((now - created).total_seconds()))} old"


def _snapshot(inputs: Inputs) -> Finding:
    snapshot = inputs.snapshot
    if snapshot is None:
        return blocker("snapshot", "SnapshotNotUsable", inputs.snapshot_problem)
    created = iso(snapshot.created_at) if snapshot.created_at else "unknown"
    age = age_text(snapshot.created_at, inputs.now)
    detail = f"{snapshot.identifier} ({snapshot.snapshot_type}, created {created}, {age})"
    return ok("snapshot", detail)


def owned(pipeline: PipelineConfig, cluster: ClusterView) -> bool:
    return cluster.tags.get(TAG_PIPELINE) == pipeline.name


def _cutover(pipeline: PipelineConfig, cluster: ClusterView | None, run_id: str | None) -> Finding:
    target = pipeline.target_cluster_id
    if cluster is None:
        return ok("cutover", f"{target} does not exist: nothing is deleted or renamed")
    if not owned(pipeline, cluster):
        holder = cluster.tags.get(TAG_PIPELINE)
        whose = f"tagged for pipeline {holder!r}" if holder else f"without the ownership tag {TAG_PIPELINE}"
        return blocker(
            "cutover",
            "TargetNotOwned",
            f"target {target} exists {whose}: refusing to delete or rename a cluster this pipeline does not own "
            f"(tag it {TAG_PIPELINE}={pipeline.name} if it is the pipeline's)",
        )
    if pipeline.cutover == "replace":
        members = len(cluster.member_ids)
        detail = f"replace: deletes {target} and its {members} instance(s), then restores under its name"
    else:
        staging = staging_cluster_id(target, run_id) if run_id else f"{target}-s<run>"
        retired = retired_cluster_id(target, run_id) if run_id else f"{target}-retired-<run>"
        detail = f"swap: restores beside as {staging}, renames {target} to {retired} (kept), then {staging} to {target}"
    return ok("cutover", detail)


def _strategy_detail(pipeline: PipelineConfig, strategy: str) -> str:
    if pipeline.strategy != "auto":
        return f"{strategy} (configured)"
    why = "same region and account" if strategy == "clone" else "source and target differ in region or account"
    return f"auto -> {strategy} ({why})"


def _collision_check(pipeline: PipelineConfig, name: str, target: RdsGateway) -> Check:
    return lambda: _collision(pipeline, name, target.find_cluster(name))


def _collision(pipeline: PipelineConfig, name: str, cluster: ClusterView | None) -> Finding:
    if cluster is None:
        return ok("names", f"{name} is free")
    if owned(pipeline, cluster):
        return warning("names", f"{name} exists and is this pipeline's (a previous run's)")
    return blocker(
        "names", "NameTaken", f"{name} is taken by a cluster this pipeline does not own: the run would need that name"
    )


def _key(pipeline: PipelineConfig, probe: PreflightProbe) -> Finding:
    key = probe.describe_key(pipeline.kms_key_id)
    if key is None:
        return blocker(
            "kms-key", "KmsKeyNotFound", f"KMS key {pipeline.kms_key_id} not found in {pipeline.target_region}"
        )
    if not key.enabled:
        return blocker("kms-key", "KmsKeyDisabled", f"KMS key {key.arn} is {key.state}, not Enabled")
    if key.region and key.region != pipeline.target_region:
        return blocker(
            "kms-key",
            "KmsKeyWrongRegion",
            f"KMS key {key.arn} is in {key.region}; the restore needs one in {pipeline.target_region}",
        )
    return ok("kms-key", f"{key.arn} enabled in {key.region or pipeline.target_region}")


def _network(pipeline: PipelineConfig, probe: PreflightProbe) -> list[Finding]:
    if not pipeline.db_subnet_group:
        return [ok("network", "no db_subnet_group configured: RDS uses the default VPC")]
    group = probe.subnet_group(pipeline.db_subnet_group)
    if group is None:
        return [
            blocker(
                "network",
                "SubnetGroupNotFound",
                f"DB subnet group {pipeline.db_subnet_group} not found in {pipeline.target_region}",
            )
        ]
    found = probe.security_group_vpcs(pipeline.security_group_ids) if pipeline.security_group_ids else {}
    findings = []
    missing = [g for g in pipeline.security_group_ids if g not in found]
    elsewhere = [g for g, vpc in found.items() if vpc != group.vpc_id]
    if missing:
        findings.append(
            blocker(
                "network",
                "SecurityGroupNotFound",
                f"security group(s) {', '.join(missing)} not found in {pipeline.target_region}",
            )
        )
    if elsewhere:
        findings.append(
            blocker(
                "network",
                "SecurityGroupWrongVpc",
                f"security group(s) {', '.join(elsewhere)} are not in {group.vpc_id}, the subnet group's VPC",
            )
        )
    if not findings:
        groups = ", ".join(pipeline.security_group_ids) or "the VPC's default security group"
        findings.append(ok("network", f"subnet group {group.name} in {group.vpc_id}; {groups}"))
    return findings


def _quotas(pipeline: PipelineConfig, strategy: str, probe: PreflightProbe, full: bool) -> list[Finding]:
    """Manual snapshots, copies in flight (`full` only: a copy without a slot queues, it does not fail), DB clusters
    and instances. The snapshots are listed only when needed (no quota to read, or copies to count)."""
    try:
        quotas: dict[str, SnapshotQuota] = probe.account_quotas()
        unreadable = ""
    except CannotCheck as exc:
        quotas, unreadable = {}, exc.reason
    needs_copy = strategy == "snapshot-copy"
    statuses = probe.manual_snapshot_statuses() if full or QUOTA_SNAPSHOTS not in quotas else []
    findings = [_snapshot_quota(pipeline, quotas.get(QUOTA_SNAPSHOTS), len(statuses), needs_copy)]
    if full:
        in_flight = sum(1 for s in statuses if s in COPY_IN_FLIGHT)
        if needs_copy and in_flight >= COPIES_IN_FLIGHT_MAX:
            where = f"{in_flight} snapshot copies in flight to {pipeline.target_region}"
            findings.append(
                warning("quota", f"{where} (AWS allows {COPIES_IN_FLIGHT_MAX}): the copy queues until one ends")
            )
        else:
            findings.append(ok("quota", f"copies in flight {in_flight}/{COPIES_IN_FLIGHT_MAX}"))
    return findings + _account_limits(pipeline, quotas, unreadable)


def _snapshot_quota(pipeline: PipelineConfig, quota: SnapshotQuota | None, counted: int, needs_copy: bool) -> Finding:
    assumed = ""
    if quota is None:
        quota = SnapshotQuota(used=counted, max=DEFAULT_MANUAL_SNAPSHOT_MAX)
        assumed = " (counted; the AWS default quota assumed: DescribeAccountAttributes unavailable)"
    if needs_copy and quota.full:
        return blocker(
            "quota",
            "SnapshotQuotaExceeded",
            f"snapshot quota reached: {quota.used} of {quota.max} manual cluster snapshots in "
            f"{pipeline.target_region}{assumed} and the copy needs one more; delete old manual cluster snapshots "
            "or raise the quota",
        )
    return ok("quota", f"manual cluster snapshots {quota.used}/{quota.max}{assumed}")


def _account_limits(pipeline: PipelineConfig, quotas: dict[str, SnapshotQuota], unreadable: str) -> list[Finding]:
    findings = []
    # A swap keeps the old target while the new one is built: one more cluster and its instances at the peak.
    # Unset, the count is the target's own (read when the run starts); at least one instance.
    instances = pipeline.instances.count or DEFAULT_INSTANCE_COUNT
    extra = {QUOTA_CLUSTERS: 1, QUOTA_INSTANCES: instances} if pipeline.cutover == "swap" else {}
    for name, what in ((QUOTA_CLUSTERS, "DB clusters"), (QUOTA_INSTANCES, "DB instances")):
        quota = quotas.get(name)
        if quota is None:
            why = unreadable or f"DescribeAccountAttributes lists no {name}"
            findings.append(warning("quota", f"{what}: could not check: {why}"))
            continue
        need = extra.get(name, 0)
        if need == 0 and quota.used > quota.max:  # a replace frees the old target before it restores: adds none
            findings.append(warning("quota", f"{what} {quota.used}/{quota.max}: over the quota; the run adds none"))
        elif quota.used + need > quota.max:
            findings.append(
                blocker(
                    "quota", "QuotaExceeded", f"{what} {quota.used}/{quota.max}: the run needs {need} more at its peak"
                )
            )
        else:
            findings.append(ok("quota", f"{what} {quota.used}/{quota.max} (+{need})"))
    return findings


def _statements(policy: str) -> list[dict[str, Any]]:
    document = json.loads(policy)
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    return _listed(principal.get("AWS")) if isinstance(principal, dict) else []


def _policy_allows(statements: Iterable[dict[str, Any]], principal: str, account: str, action: str) -> str | None:
    """ "role" when the key policy names the principal, "iam" when it delegates to the account's IAM
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam),
    else None. Conditions are not evaluated (UNVERIFIED whether they would hold)."""
    found = None
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(statement.get("Action"))):
            continue
        for name in _principals(statement):
            if name in (principal, "*"):
                return "role"
            if account and name in (account, f"arn:aws:iam::{account}:root"):
                found = "iam"
    return found


def _key_access(pipeline: PipelineConfig, probe: PreflightProbe, roles: dict[str, str] | None) -> list[Finding]:
    if not roles:
        raise CannotCheck(ROLES_UNKNOWN)
    key = probe.describe_key(pipeline.kms_key_id)
    if key is None:
        return []  # the kms-key check reports it
    statements = _statements(probe.key_policy(key.key_id))
    grants = probe.key_grants(key.key_id)
    account = key.arn.split(":")[4] if key.arn.count(":") >= 5 else ""
    findings = []
    for step, actions in KEY_USERS.items():
        role = roles.get(step)
        if role is None:
            findings.append(warning("kms-access", f"{step}: role unknown, not checked"))
            continue
        granted = {op for g in grants if g.grantee == role for op in g.operations}
        missing, via_iam = [], []
        for action in actions:
            answer = _policy_allows(statements, role, account, action)
            if answer == "iam":
                via_iam.append(action)
            elif answer is None and _GRANT_OPERATION.get(action, action.removeprefix("kms:")) not in granted:
                missing.append(action)
        if missing:
            findings.append(
                blocker(
                    "kms-access",
                    "KmsAccessMissing",
                    f"{step} ({role}): neither the key policy of {key.arn} nor a grant allows {', '.join(missing)}",
                )
            )
        else:
            how = "key policy delegates to IAM" if via_iam else "key policy or grants"
            findings.append(ok("kms-access", f"{step}: {how}"))
    return findings


def _iam(
    pipeline: PipelineConfig, simulator: PolicySimulator | None, roles: dict[str, str] | None, account: str
) -> list[Finding]:
    if simulator is None or not roles:
        raise CannotCheck(ROLES_UNKNOWN)
    findings = []
    for step, calls in function_calls(pipeline, account).items():
        role = roles.get(step)
        if role is None:
            findings.append(warning("iam", f"{step}: role unknown, not checked"))
            continue
        denied: list[str] = []
        unsure: list[str] = []
        for action, resource in calls:
            allowed, missing_context = simulator.simulate(role, action, resource)
            if allowed:
                continue
            (unsure if missing_context else denied).append(action)
        if denied:
            findings.append(blocker("iam", "IamDenied", f"{step} ({role}) is not allowed {', '.join(denied)}"))
        elif unsure:
            findings.append(
                warning("iam", f"{step}: {', '.join(unsure)} depend on conditions the simulation could not evaluate")
            )
        else:
            findings.append(ok("iam", f"{step}: {len(calls)} call(s) allowed"))
    return findings


def estimate_seconds(history: list[Run]) -> int | None:
    """The median duration of the pipeline's recent successful runs, or None without any."""
    done = [r for r in history if r.status is RunStatus.SUCCEEDED and r.ended_at is not None][:DURATION_SAMPLE]
    if not done:
        return None
    return int(statistics.median((r.ended_at - r.created_at).total_seconds() for r in done if r.ended_at))


def _estimate_detail(estimate: int | None, history: list[Run]) -> str:
    if estimate is None:
        return "no successful run yet to estimate from"
    runs = sum(1 for r in history if r.status is RunStatus.SUCCEEDED and r.ended_at is not None)
    return f"about {duration(estimate)} (median of the last {min(runs, DURATION_SAMPLE)} successful runs)"
