"""Static checks of template.yaml: it transforms with the SAM translator, and the safety properties hold.

Runs offline (no AWS calls): the SAM translator gets a managed-policy loader stub. Physical names and the pipelines
configuration document are resolved for given parameters with the local runtime's intrinsic evaluator
(`local_runtime.intrinsics`); the document is then validated by shared.config like the functions do at run time.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from local_runtime.intrinsics import StackContext, evaluate
from local_runtime.template_rules import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FORWARDER = ROOT / "templates" / "source-region-forwarder.yaml"

# Deployed names with Environment=dev (the default).
FUNCTIONS = {
    "SnapshotCheckFunction": ("aurora-restore-dev-snapshot-check", "services/snapshot_check/"),
    "CopySnapshotFunction": ("aurora-restore-dev-copy-snapshot", "services/copy_snapshot/"),
    "CheckCopyStatusFunction": ("aurora-restore-dev-check-copy-status", "services/check_copy_status/"),
    "DeleteRdsFunction": ("aurora-restore-dev-delete-rds", "services/delete_rds/"),
    "RestoreSnapshotFunction": ("aurora-restore-dev-restore-snapshot", "services/restore_snapshot/"),
    "CheckRestoreStatusFunction": ("aurora-restore-dev-check-restore-status", "services/check_restore_status/"),
    "SetupDbUsersFunction": ("aurora-restore-dev-setup-db-users", "services/setup_db_users/"),
    "SwapClustersFunction": ("aurora-restore-dev-swap-clusters", "services/swap_clusters/"),
    "ArchiveSnapshotFunction": ("aurora-restore-dev-archive-snapshot", "services/archive_snapshot/"),
    "SnsNotificationFunction": ("aurora-restore-dev-sns-notification", "services/sns_notification/"),
    "OrchestratorCheckFunction": ("aurora-restore-dev-orchestrator-check", "services/orchestrator_check/"),
}

ENV_VARS = {
    "ENVIRONMENT",
    "STATE_TABLE_NAME",
    "AUDIT_TABLE_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "EVENT_BUS_NAME",
    "SNS_TOPIC_ARN",
    "KMS_KEY_ID",
    "SOURCE_REGION",
    "TARGET_REGION",
    "CONFIG_PARAMETER_NAME",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
}

DESTRUCTIVE_TAG_KEYS = {
    "rds:DeleteDBInstance": "rds:db-tag/aurora-restore:pipeline",
    "rds:DeleteDBCluster": "rds:cluster-tag/aurora-restore:pipeline",
    "rds:DeleteDBClusterSnapshot": "rds:cluster-snapshot-tag/aurora-restore:pipeline",
    "rds:ModifyDBCluster": "rds:cluster-tag/aurora-restore:pipeline",
}


# ---- a YAML loader for CloudFormation short-form tags -----------------------------------------------------------
def load(path: Path) -> dict[str, Any]:
    return load_template(path)


# ---- fixtures ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load(TEMPLATE)


class _NoManagedPolicies:
    """Stands in for samtranslator's ManagedPolicyLoader (which would call IAM)."""

    def load(self) -> dict[str, str]:
        return {}


PARAMS = {
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": ["subnet-0123456789abcdef0"],
    "SecurityGroupIds": ["sg-0123456789abcdef0"],
    "SourceClusterId": "prod-aurora",
    "TargetClusterId": "staging-aurora",
    "Masking": "not-needed",
    "QuarantineSecurityGroupIds": ["sg-0feedc0ffee000001"],  # `swap` (the default cut-over) needs it
}


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    packaged = copy.deepcopy(template)
    # As after `sam package`: local code paths become S3 locations (the translator only accepts those).
    for res in packaged["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = "s3://artifacts/" + props[key].strip("/")
    params = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws", **PARAMS}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")  # the translator insists on a boto3 session region
        return transform(packaged, params, _NoManagedPolicies())  # type: ignore[arg-type, unused-ignore]


def stack_of(tmpl: dict[str, Any], **overrides: Any) -> StackContext:
    """The template's parameters (defaults, PARAMS, overrides) and pseudo parameters, as a deployed stack has them."""
    return StackContext.of(tmpl, {**PARAMS, **overrides}, region="eu-west-1")


def resources_of(tmpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tmpl["Resources"].items() if v["Type"] == rtype}


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for statement in _listify(policy_document.get("Statement", [])):
        if isinstance(statement, dict) and "Fn::If" in statement:  # conditional statement: check both branches
            out += [s for s in statement["Fn::If"][1:] if isinstance(s, dict) and "Effect" in s]
        else:
            out.append(statement)
    return out


def all_policy_statements(tmpl: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, res in tmpl["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found += [(logical_id, s) for s in _statements(policy["PolicyDocument"])]
        elif res["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            found += [(logical_id, s) for s in _statements(props["PolicyDocument"])]
    return found


# ---- tests ------------------------------------------------------------------------------------------------------
def test_transforms_with_sam(template: dict[str, Any], transformed: dict[str, Any]) -> None:
    lambdas = resources_of(transformed, "AWS::Lambda::Function")
    dev = stack_of(template)
    assert {evaluate(f["Properties"]["FunctionName"], dev) for f in lambdas.values()} == {
        n for n, _ in FUNCTIONS.values()
    }
    assert "AWS::Serverless::Function" not in {r["Type"] for r in transformed["Resources"].values()}


def test_functions_names_code_and_handler(template: dict[str, Any]) -> None:
    assert template["Globals"]["Function"]["Handler"] == "app.handler"
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS)
    dev = stack_of(template)
    for logical_id, (name, code_uri) in FUNCTIONS.items():
        props = functions[logical_id]["Properties"]
        assert evaluate(props["FunctionName"], dev) == name
        assert props["CodeUri"] == code_uri
        assert "Handler" not in props, logical_id  # every handler is app.handler, from Globals


def test_every_lambda_gets_the_global_handler(transformed: dict[str, Any]) -> None:
    for logical_id, fn in resources_of(transformed, "AWS::Lambda::Function").items():
        assert fn["Properties"]["Handler"] == "app.handler", logical_id


def test_globals(template: dict[str, Any]) -> None:
    fn = template["Globals"]["Function"]
    assert fn["Runtime"] == "python3.12"
    assert fn["Timeout"] == 60 and fn["MemorySize"] == 256 and fn["Tracing"] == "Active"
    assert fn["Layers"] == [{"Ref": "SharedLayer"}]
    variables = fn["Environment"]["Variables"]
    assert set(variables) >= ENV_VARS
    assert variables["POWERTOOLS_SERVICE_NAME"] == "aurora-restore"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "AuroraRestore"
    # The operator's document is not a stack resource (CloudFormation would overwrite it on the next update); the
    # stack owns only the seed, read while the operator's document does not exist.
    assert variables["CONFIG_PARAMETER_NAME"] == {"Fn::Sub": "/aurora-restore/${Environment}/pipelines"}
    assert variables["CONFIG_SEED_PARAMETER_NAME"] == {"Ref": "PipelinesConfig"}
    layer = template["Resources"]["SharedLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["CompatibleArchitectures"] == fn["Architectures"]


def test_env_vars_reach_every_lambda(transformed: dict[str, Any]) -> None:
    for logical_id, fn in resources_of(transformed, "AWS::Lambda::Function").items():
        assert set(fn["Properties"]["Environment"]["Variables"]) >= ENV_VARS, logical_id


def test_every_function_has_its_log_group(template: dict[str, Any]) -> None:
    dev = stack_of(template)
    groups = {
        evaluate(g["Properties"]["LogGroupName"], dev): (lid, g["Properties"])
        for lid, g in resources_of(template, "AWS::Logs::LogGroup").items()
    }
    functions = resources_of(template, "AWS::Serverless::Function")
    for logical_id, (name, _) in FUNCTIONS.items():
        group_id, props = groups[f"/aws/lambda/{name}"]
        assert props["RetentionInDays"] == 30
        assert functions[logical_id]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group_id}


def test_every_function_has_async_on_failure_destination(transformed: dict[str, Any]) -> None:
    configs = resources_of(transformed, "AWS::Lambda::EventInvokeConfig")
    by_function = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"] for c in configs.values()}
    for logical_id in FUNCTIONS:
        props = by_function[logical_id]
        assert props["MaximumRetryAttempts"] == 2
        assert props["MaximumEventAgeInSeconds"] == 3600
        on_failure = props["DestinationConfig"]["OnFailure"]["Destination"]
        assert on_failure == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}


def test_every_rule_target_has_retry_policy_and_dlq(template: dict[str, Any], transformed: dict[str, Any]) -> None:
    count = 0
    for logical_id, fn in resources_of(template, "AWS::Serverless::Function").items():
        for name, event in fn["Properties"]["Events"].items():
            props = event["Properties"]
            assert event["Type"] in ("EventBridgeRule", "ScheduleV2"), (logical_id, name)
            assert props["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}}
            assert props["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600}
            if event["Type"] == "EventBridgeRule":
                count += 1
                pattern = props["Pattern"]
                if pattern["source"] == ["aws.rds"]:
                    assert "EventBusName" not in props, (logical_id, name)  # AWS events arrive on the default bus
                else:
                    assert pattern["source"] == ["aurora-restore"]
                    assert props["EventBusName"] == {"Ref": "PipelineEventBus"}
    rules = resources_of(transformed, "AWS::Events::Rule")
    assert len(rules) == count
    for rule in rules.values():
        for target in rule["Properties"]["Targets"]:
            assert "DeadLetterConfig" in target and "RetryPolicy" in target
    schedules = resources_of(transformed, "AWS::Scheduler::Schedule")
    assert len(schedules) == 1
    target = next(iter(schedules.values()))["Properties"]["Target"]
    assert "DeadLetterConfig" in target and "RetryPolicy" in target


def _patterns(template: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    events = template["Resources"][logical_id]["Properties"]["Events"].values()
    return [e["Properties"]["Pattern"] for e in events if e["Type"] == "EventBridgeRule"]


def test_event_patterns(template: dict[str, Any]) -> None:
    def due(*statuses: str) -> dict[str, Any]:
        return {"source": ["aurora-restore"], "detail-type": ["RunCheckDue"], "detail": {"status": list(statuses)}}

    def pipe(*types: str) -> dict[str, Any]:
        return {"source": ["aurora-restore"], "detail-type": list(types)}

    def rds(types: list[str], *ids: str) -> dict[str, Any]:
        return {"source": ["aws.rds"], "detail-type": types, "detail": {"EventID": list(ids)}}

    expected = {
        "SnapshotCheckFunction": [
            rds(["RDS DB Cluster Snapshot Event"], "RDS-EVENT-0169", "RDS-EVENT-0075"),
            pipe("RestoreRequested"),
        ],
        "CopySnapshotFunction": [pipe("RunRequested"), due("REQUESTED")],
        "CheckCopyStatusFunction": [due("COPYING")],
        "DeleteRdsFunction": [
            pipe("SnapshotCopied"),
            due("REPLACING_TARGET"),
            rds(["RDS DB Instance Event"], "RDS-EVENT-0003"),
        ],
        "RestoreSnapshotFunction": [
            pipe("TargetDeleted"),
            pipe("TargetRead"),
            rds(["RDS DB Cluster Event"], "RDS-EVENT-0171"),
        ],
        "CheckRestoreStatusFunction": [
            due("RESTORING"),
            rds(["RDS DB Cluster Event"], "RDS-EVENT-0170"),
            rds(["RDS DB Instance Event"], "RDS-EVENT-0005"),
        ],
        "SetupDbUsersFunction": [
            pipe("ClusterAvailable"),
            due("CONFIGURING_DB"),
            due("VALIDATING"),
            rds(["RDS DB Cluster Event", "RDS DB Instance Event"], "RDS-EVENT-0016"),
        ],
        "SwapClustersFunction": [
            pipe("StagingReady"),
            due("SWAPPING"),
            rds(["RDS DB Cluster Event"], "RDS-EVENT-0172", "RDS-EVENT-0151"),
        ],
        "ArchiveSnapshotFunction": [pipe("DatabaseReady"), due("ARCHIVING")],
        "SnsNotificationFunction": [pipe("RunSucceeded", "RunFailed"), due("SUCCEEDED", "FAILED")],
        "OrchestratorCheckFunction": [],
    }
    for logical_id, patterns in expected.items():
        assert _patterns(template, logical_id) == patterns, logical_id
    schedule = template["Resources"]["OrchestratorCheckFunction"]["Properties"]["Events"]
    (event,) = schedule.values()
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "OrchestratorRate"}


def test_dlq_queue_policy_lets_eventbridge_send(template: dict[str, Any]) -> None:
    policies = resources_of(template, "AWS::SQS::QueuePolicy")
    statements = [
        s
        for p in policies.values()
        if {"Ref": "EventsDeadLetterQueue"} in p["Properties"]["Queues"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Principal"] == {"Service": "events.amazonaws.com"}
        and s["Action"] == "sqs:SendMessage"
        and "aws:SourceAccount" in s["Condition"]["StringEquals"]
        for s in statements
    )


def _is_tag_conditioned(statement: dict[str, Any], key: str) -> bool:
    condition = statement.get("Condition", {})
    return any(key in block for block in condition.values() if isinstance(block, dict))


def _resource_strings(statement: dict[str, Any]) -> list[str]:
    out = []
    for resource in _listify(statement.get("Resource", [])):
        if isinstance(resource, dict) and "Fn::Sub" in resource:
            sub = resource["Fn::Sub"]
            out.append(sub if isinstance(sub, str) else sub[0])
        else:
            out.append(json.dumps(resource) if not isinstance(resource, str) else resource)
    return out


def test_destructive_rds_actions_need_the_ownership_tag(transformed: dict[str, Any]) -> None:
    checked = 0
    for owner, statement in all_policy_statements(transformed):
        if statement["Effect"] != "Allow":
            continue
        actions = _listify(statement["Action"])
        assert not any(a in ("*", "rds:*", "rds:Delete*") for a in actions), (owner, statement)
        for action in actions:
            key = DESTRUCTIVE_TAG_KEYS.get(action)
            if key is None:
                continue
            checked += 1
            resources = _resource_strings(statement)
            assert "*" not in resources, (owner, statement)
            if _is_tag_conditioned(statement, key):
                continue
            # The only exception: DeleteDBCluster's final-snapshot resource. DeleteDBCluster with
            # FinalDBSnapshotIdentifier also needs permission on the cluster-snapshot resource
            # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html). It deletes
            # nothing alone, because the cluster resource of the same request must be allowed, and that needs the tag.
            assert action == "rds:DeleteDBCluster" and actions == [action], (owner, statement)
            assert all(":cluster-snapshot:" in r for r in resources), (owner, statement)
    assert checked >= 5


def test_tagging_and_creation_are_tag_bound(transformed: dict[str, Any]) -> None:
    for owner, statement in all_policy_statements(transformed):
        actions = _listify(statement["Action"])
        if statement["Effect"] != "Allow" or "rds:AddTagsToResource" not in actions:
            continue
        assert _is_tag_conditioned(statement, "rds:req-tag/aurora-restore:pipeline") or _is_tag_conditioned(
            statement, "rds:cluster-snapshot-tag/aurora-restore:pipeline"
        ), (owner, statement)


def test_no_wildcard_actions_and_wildcard_resources_only_for_reads(transformed: dict[str, Any]) -> None:
    # EC2's Describe* actions support no resource-level permissions ("*" only):
    # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html
    read_only = re.compile(r"^(rds:(Describe|List)\w+|ec2:Describe\w+|rds:CrossRegionCommunication|xray:\w+)$")
    for owner, statement in all_policy_statements(transformed):
        actions = _listify(statement["Action"])
        assert all(
            "*" not in a.split(":", 1)[1] or a.startswith(("kms:ReEncrypt", "kms:GenerateDataKey")) for a in actions
        ), (owner, statement)
        if statement["Effect"] == "Allow" and "*" in _listify(statement.get("Resource")):
            assert all(read_only.match(a) for a in actions), (owner, statement)


def test_every_role_carries_the_base_policy_and_no_policy_is_orphaned(transformed: dict[str, Any]) -> None:
    """The deny on the source cluster lives in FunctionBasePolicy: it only protects roles it is attached to."""
    attached: set[str] = set()
    for logical_id in FUNCTIONS:
        arns = transformed["Resources"][f"{logical_id}Role"]["Properties"]["ManagedPolicyArns"]
        refs = {arn["Ref"] for arn in arns if isinstance(arn, dict) and "Ref" in arn}
        assert "FunctionBasePolicy" in refs, logical_id
        attached |= refs
    assert attached == set(resources_of(transformed, "AWS::IAM::ManagedPolicy"))


def test_source_cluster_is_denied(template: dict[str, Any]) -> None:
    statements = template["Resources"]["FunctionBasePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and "rds:DeleteDBCluster" in deny[0]["Action"]
    assert "${SourceClusterId}" in deny[0]["Resource"]["Fn::Sub"]


def test_state_table_schema(template: dict[str, Any]) -> None:
    props = template["Resources"]["StateTable"]["Properties"]
    # The name carries the environment and the stack id (was `!Ref StateTableName`, a fixed default): see
    # test_table_names_carry_environment_and_stack_id.
    assert evaluate(props["TableName"], stack_of(template, StateTableName="adopted")) == "adopted"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {
        "pk": "S",
        "active_status": "S",
        "due": "S",
        "next_check_epoch": "N",
        "pipeline": "S",
        "created_at": "S",
    }
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert indexes["due-by-time"]["KeySchema"] == [
        {"AttributeName": "due", "KeyType": "HASH"},
        {"AttributeName": "next_check_epoch", "KeyType": "RANGE"},
    ]
    assert indexes["active-by-status"]["KeySchema"] == [
        {"AttributeName": "active_status", "KeyType": "HASH"},
        {"AttributeName": "next_check_epoch", "KeyType": "RANGE"},
    ]
    assert indexes["by-pipeline"]["KeySchema"] == [
        {"AttributeName": "pipeline", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert all(i["Projection"] == {"ProjectionType": "ALL"} for i in indexes.values())
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"


def test_audit_and_idempotency_tables(template: dict[str, Any]) -> None:
    audit = template["Resources"]["AuditTable"]["Properties"]
    assert audit["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert audit["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    idem = template["Resources"]["IdempotencyTable"]["Properties"]
    assert idem["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idem["TimeToLiveSpecification"]["AttributeName"] == "expiration"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"source_region": "eu-west-1", "db_subnet_group": None, "security_group_ids": []}),
        (
            {
                "SourceRegion": "us-east-1",
                "DbSubnetGroupName": "staging-db",
                "DbSecurityGroupIds": ["sg-1", "sg-2"],
                "InstanceCount": 2,
                "RetentionKeepLast": 3,
            },
            {"source_region": "us-east-1", "db_subnet_group": "staging-db", "security_group_ids": ["sg-1", "sg-2"]},
        ),
    ],
)
def test_pipelines_config_document_validates(
    template: dict[str, Any], overrides: dict[str, Any], expected: dict[str, Any]
) -> None:
    from shared.config import parse_config

    stack = stack_of(template, **overrides)
    params = stack.params
    resource = template["Resources"]["PipelinesConfig"]["Properties"]
    assert resource["Name"] == {"Fn::Sub": "/aurora-restore/${Environment}/pipelines.seed"}
    document = json.loads(evaluate(resource["Value"], stack))
    (pipeline,) = document["pipelines"]
    assert isinstance(pipeline["instances"]["count"], int)
    assert isinstance(pipeline["retention"]["keep_last"], int)
    for key, value in expected.items():
        assert pipeline[key] == value
    config = parse_config(document)
    (parsed,) = config.pipelines
    assert parsed.name == "nightly"
    assert parsed.target_region == "eu-west-1"
    assert parsed.kms_key_id == "alias/aurora-restore-dev"
    assert parsed.kms_key_id == evaluate(template["Resources"]["PipelineKeyAlias"]["Properties"]["AliasName"], stack)
    assert parsed.instances.count == int(params["InstanceCount"])
    assert parsed.retention.keep_last == int(params["RetentionKeepLast"])
    assert parsed.database.master_secret_id == evaluate(
        template["Resources"]["MasterSecret"]["Properties"]["Name"], stack
    )
    assert parsed.database.master_secret_id == "aurora-restore/dev/db-credentials"


def _seed_document(template: dict[str, Any], overrides: dict[str, Any]) -> str:
    stack = stack_of(template, **overrides)
    return str(evaluate(template["Resources"]["PipelinesConfig"]["Properties"]["Value"], stack))


def _ssm_names(template: dict[str, Any]) -> dict[str, Any]:
    return {
        logical_id: resource["Properties"]["Name"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SSM::Parameter"
    }


def test_a_deploy_with_changed_parameters_never_touches_the_operators_document(template: dict[str, Any]) -> None:
    # Given two deploys of the same stack with different parameters
    first = _seed_document(template, {"InstanceCount": 1})
    second = _seed_document(template, {"InstanceCount": 3, "RetentionKeepLast": 5})
    # Then CloudFormation rewrites the seed it owns (its Value changes) ...
    assert first != second
    # ... but the document the functions read first is no resource of the stack: nothing it deploys names it
    operators = {"Fn::Sub": "/aurora-restore/${Environment}/pipelines"}
    assert template["Globals"]["Function"]["Environment"]["Variables"]["CONFIG_PARAMETER_NAME"] == operators
    assert _ssm_names(template) == {"PipelinesConfig": {"Fn::Sub": "/aurora-restore/${Environment}/pipelines.seed"}}
    assert operators not in [resource.get("Properties", {}).get("Name") for resource in template["Resources"].values()]
    # ... and the upgrade from the stack-owned document keeps it: the rename replaces the resource, and the old
    # parameter (with the operator's edits) is retained instead of deleted
    assert template["Resources"]["PipelinesConfig"]["UpdateReplacePolicy"] == "Retain"


def test_functions_may_read_both_documents_and_write_neither(template: dict[str, Any]) -> None:
    statements = template["Resources"]["FunctionBasePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (read,) = [s for s in statements if s.get("Sid") == "ReadConfiguration"]
    assert read["Action"] == "ssm:GetParameter"
    assert [r["Fn::Sub"] for r in read["Resource"]] == [
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/aurora-restore/${Environment}/pipelines",
        "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${PipelinesConfig}",
    ]
    assert "ssm:PutParameter" not in json.dumps(template["Resources"])


def test_the_masking_parameter_has_no_default_and_a_required_seed_refuses_to_run(template: dict[str, Any]) -> None:
    from shared.config import parse_config
    from shared.errors import ConfigError

    # Given the Masking parameter: a deploy must choose (CloudFormation refuses a parameter without a value)
    masking = template["Parameters"]["Masking"]
    assert "Default" not in masking and masking["AllowedValues"] == ["required", "not-needed"]
    # When the stack is deployed with Masking=required, the seed carries no masking SQL
    seed = _seed_document(template, {"Masking": "required"})
    # Then every function refuses it, saying what to do
    with pytest.raises(ConfigError, match="masking is 'required' but database.post_restore_sql is empty"):
        parse_config(seed)
    # and with not-needed the copy is explicitly allowed to stay as restored
    assert parse_config(_seed_document(template, {"Masking": "not-needed"})).pipelines[0].masking == "not-needed"


def test_a_swap_seed_without_quarantine_groups_refuses_to_run(template: dict[str, Any]) -> None:
    from shared.config import parse_config
    from shared.errors import ConfigError

    assert template["Parameters"]["Cutover"]["Default"] == "swap"
    with pytest.raises(ConfigError, match="cutover 'swap' needs quarantine_security_group_ids"):
        parse_config(_seed_document(template, {"QuarantineSecurityGroupIds": [""]}))
    replace = parse_config(_seed_document(template, {"QuarantineSecurityGroupIds": [""], "Cutover": "replace"}))
    assert replace.pipelines[0].cutover == "replace"
    swap = parse_config(_seed_document(template, {}))
    assert swap.pipelines[0].quarantine_security_group_ids == ["sg-0feedc0ffee000001"]


def test_the_db_user_function_timeout_is_a_bounded_parameter(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["DbUserFunctionTimeout"]
    assert parameter["MaxValue"] == 900 and parameter["MinValue"] >= 1  # Lambda's maximum is 900 s
    function = template["Resources"]["SetupDbUsersFunction"]["Properties"]
    assert function["Timeout"] == {"Ref": "DbUserFunctionTimeout"}
    # The local runtime gives each invocation its function's timeout, as the template deploys it
    from local_runtime.template_rules import functions

    timeouts = {spec.step.value: spec.timeout for spec in functions(template)}
    assert timeouts["setup-db-users"] == parameter["Default"]
    # check-copy-status waits in place for an early wake-up's rest and its last short looks (StepTurn.wait_here)
    assert timeouts["check-copy-status"] == 300
    assert {t for step, t in timeouts.items() if step not in ("setup-db-users", "check-copy-status")} == {
        template["Globals"]["Function"]["Timeout"]
    }


def test_outputs(template: dict[str, Any]) -> None:
    outputs = set(template["Outputs"])
    assert {
        "EventBusName",
        "EventBusArn",
        "StateTableName",
        "AuditTableName",
        "IdempotencyTableName",
        "NotificationTopicArn",
        "PipelineKeyArn",
        "ConfigParameterName",
        "ConfigSeedParameterName",
        "EventsDeadLetterQueueUrl",
        "FailedInvocationsQueueUrl",
    } <= outputs
    assert {f"{logical_id}Arn" for logical_id in FUNCTIONS} <= outputs


def test_forwarder_template() -> None:
    forwarder = load(FORWARDER)
    rules = resources_of(forwarder, "AWS::Events::Rule")
    (rule,) = rules.values()
    props = rule["Properties"]
    assert "EventBusName" not in props or props["EventBusName"] == "default"
    assert props["EventPattern"] == {
        "source": ["aws.rds"],
        "detail-type": ["RDS DB Cluster Snapshot Event"],
        "detail": {"EventID": ["RDS-EVENT-0169", "RDS-EVENT-0075"]},
    }
    (target,) = props["Targets"]
    assert target["Arn"] == {"Ref": "TargetEventBusArn"}
    assert "RoleArn" in target


def test_layer_requirements_match_pyproject() -> None:
    import tomllib

    def names(requirements: list[str]) -> dict[str, str]:
        out = {}
        for line in requirements:
            line = line.split("#", 1)[0].strip()
            if line:
                name = re.split(r"[\[<>=!~ ]", line, maxsplit=1)[0].lower()
                out[name] = line.replace(" ", "")
        return out

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime_deps = {k: v for k, v in names(project["dependencies"]).items() if k not in ("boto3", "botocore")}
    layer_deps = names((ROOT / "layer" / "requirements.txt").read_text(encoding="utf-8").splitlines())
    assert layer_deps == runtime_deps


def test_key_policy_lets_encrypting_services_in(template: dict[str, Any]) -> None:
    statements = template["Resources"]["PipelineKey"]["Properties"]["KeyPolicy"]["Statement"]
    services: set[str] = set()
    for statement in statements:
        principal = statement["Principal"].get("Service", [])
        services |= {json.dumps(s) if not isinstance(s, str) else s for s in _listify(principal)}
    assert {"events.amazonaws.com", "cloudwatch.amazonaws.com", "sns.amazonaws.com"} <= services
    assert any("logs." in s for s in services)
    assert template["Resources"]["PipelineKey"]["Properties"]["EnableKeyRotation"] is True
    for logical_id in ("StateTable", "AuditTable", "IdempotencyTable"):
        sse = template["Resources"][logical_id]["Properties"]["SSESpecification"]
        assert sse["KMSMasterKeyId"] == {"Ref": "PipelineKey"}
    for logical_id in ("EventsDeadLetterQueue", "FailedInvocationsQueue"):
        props = template["Resources"][logical_id]["Properties"]
        assert props["KmsMasterKeyId"] == {"Ref": "PipelineKey"}
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600


# ---- several stacks in one account and region -------------------------------------------------------------------
def _physical_names(tmpl: dict[str, Any], stack: StackContext) -> dict[str, str]:
    """Every explicit name of the template as deployed: each resource property ending in `Name` that is a name of
    its own (not a reference to another resource), and the name of each SAM event (the orchestrator schedule)."""
    names: dict[str, str] = {}
    for logical_id, resource in tmpl["Resources"].items():
        props = resource.get("Properties", {})
        # MetricName names a metric to read, not a resource to create.
        candidates = {k: v for k, v in props.items() if k.endswith("Name") and k != "MetricName"}
        for event_id, event in (props.get("Events") or {}).items():
            if "Name" in event.get("Properties", {}):
                candidates[f"Events.{event_id}.Name"] = event["Properties"]["Name"]
        for key, value in candidates.items():
            resolved = evaluate(value, stack)
            if isinstance(resolved, str):
                names[f"{logical_id}.{key}"] = resolved
            else:  # a Ref/GetAtt to another resource: that resource's own name is checked where it is declared
                assert "Ref" in resolved or "Fn::GetAtt" in resolved, (logical_id, key, resolved)
    return names


def test_no_physical_name_is_shared_between_dev_and_prod(template: dict[str, Any]) -> None:
    """Given the template rendered for dev and for prod in one account and region, when the names are compared,
    then none is shared (a KMS alias, a function, a log group, a secret, a table, a schedule... must be unique per
    account and Region: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-kms-alias.html)."""
    dev = _physical_names(template, stack_of(template, Environment="dev"))
    prod = _physical_names(template, stack_of(template, Environment="prod"))
    assert dev.keys() == prod.keys()
    expected_kinds = {"AliasName", "TableName", "FunctionName", "LogGroupName", "QueueName", "TopicName", "AlarmName"}
    assert expected_kinds <= {key.rsplit(".", 1)[1] for key in dev}
    for named in ("MasterSecret.Name", "PipelineEventBus.Name", "PipelinesConfig.Name", "SharedLayer.LayerName"):
        assert named in dev, named
    assert any(key.startswith("OrchestratorCheckFunction.Events.") for key in dev)  # the schedule
    assert set(dev.values()).isdisjoint(prod.values()), set(dev.values()) & set(prod.values())
    for environment, names in (("dev", dev), ("prod", prod)):
        for key, name in names.items():
            assert environment in name.split("/") or f"-{environment}" in name, (key, name)


def test_the_schedule_is_created_with_the_name_the_template_gives(
    template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    """SAM names a ScheduleV2 schedule after its logical id unless the event has a Name (samtranslator
    model/eventsources/scheduler.py): the same name for every stack in the `default` group."""
    (schedule,) = resources_of(transformed, "AWS::Scheduler::Schedule").values()
    name = evaluate(schedule["Properties"]["Name"], stack_of(template))
    assert name == "aurora-restore-dev-orchestrator-check"


def test_table_names_carry_environment_and_stack_id(template: dict[str, Any]) -> None:
    """Retained tables keep their names after `sam delete`; a name that also carries the stack id lets the next
    stack (a new id) create its own tables instead of failing with 'already exists'."""
    first = stack_of(template)
    again = StackContext.of(template, PARAMS, region="eu-west-1", stack_uuid="0badc0de-1111-4222-8333-444455556666")
    for logical_id, kind in (("StateTable", "state"), ("AuditTable", "audit")):
        name = template["Resources"][logical_id]["Properties"]["TableName"]
        assert template["Resources"][logical_id]["DeletionPolicy"] == "Retain"
        assert evaluate(name, first) == f"aurora-restore-dev-{kind}-5ca1ab1e"
        assert evaluate(name, again) == f"aurora-restore-dev-{kind}-0badc0de"
    idempotency = template["Resources"]["IdempotencyTable"]
    assert idempotency["DeletionPolicy"] == "Delete"  # goes with the stack, so a fixed name is never in the way
    assert evaluate(idempotency["Properties"]["TableName"], again) == "aurora-restore-dev-idempotency"


def test_log_key_policy_covers_exactly_this_stacks_log_groups(template: dict[str, Any]) -> None:
    from fnmatch import fnmatchcase

    dev, prod = stack_of(template), stack_of(template, Environment="prod")
    statements = template["Resources"]["PipelineKey"]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s["Sid"] == "CloudWatchLogsEncryptsThisStacksLogGroups"]
    pattern = evaluate(logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"], dev)
    groups = resources_of(template, "AWS::Logs::LogGroup").values()
    arn = "arn:aws:logs:eu-west-1:123456789012:log-group:{}"
    for group in groups:
        assert fnmatchcase(arn.format(evaluate(group["Properties"]["LogGroupName"], dev)), pattern)
        assert not fnmatchcase(arn.format(evaluate(group["Properties"]["LogGroupName"], prod)), pattern)


# ---- IAM and KMS, tightened --------------------------------------------------------------------------------------
def test_scheduler_role_invokes_only_this_stacks_orchestrator(template: dict[str, Any]) -> None:
    statements = template["Resources"]["OrchestratorScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (invoke,) = [s for s in statements["Statement"] if s["Action"] == "lambda:InvokeFunction"]
    assert invoke["Resource"] == [
        {"Fn::GetAtt": ["OrchestratorCheckFunction", "Arn"]},
        {"Fn::Sub": "${OrchestratorCheckFunction.Arn}:*"},
    ]


def test_create_grant_only_for_aws_resources(template: dict[str, Any], transformed: dict[str, Any]) -> None:
    """Every kms:CreateGrant (the pipeline key and the source snapshots' key) is bound to
    kms:GrantIsForAWSResource, so a role can let RDS use a key but never hand a grant to a principal
    (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-grant-is-for-aws-resource)."""
    grants = [(o, s) for o, s in all_policy_statements(transformed) if "kms:CreateGrant" in _listify(s["Action"])]
    assert {s.get("Sid") for _, s in grants} >= {"PipelineKeyGrantForCopy", "SourceSnapshotKeyGrantForCopy"}
    for owner, statement in grants:
        assert _listify(statement["Action"]) == ["kms:CreateGrant"], (owner, statement)
        assert statement["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}, (owner, statement)
    source_key = [s for _, s in grants if s.get("Sid") == "SourceSnapshotKeyGrantForCopy"]
    assert all(s["Resource"] == {"Ref": "SourceKmsKeyArn"} for s in source_key)


def _deny(template: dict[str, Any], sid: str) -> dict[str, Any]:
    statements = template["Resources"]["FunctionBasePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (statement,) = [s for s in statements if s.get("Sid") == sid]
    assert statement["Effect"] == "Deny"
    return statement


def test_source_cluster_is_named_in_lowercase_as_rds_stores_it(template: dict[str, Any]) -> None:
    """RDS stores identifiers in lowercase and IAM compares ARNs case-sensitively: the parameter refuses uppercase,
    so the deny's ARN is the one RDS has (and shared.config lowercases what the functions send)."""
    for parameter in ("SourceClusterId", "TargetClusterId"):
        pattern = re.compile(template["Parameters"][parameter]["AllowedPattern"])
        assert pattern.fullmatch("prod-aurora")
        assert not pattern.fullmatch("Prod-Aurora"), parameter
    resource = evaluate(_deny(template, "NeverTouchTheSourceCluster")["Resource"], stack_of(template))
    assert resource == "arn:aws:rds:*:123456789012:cluster:prod-aurora"


def test_unowned_clusters_and_instances_are_denied_whatever_their_names(template: dict[str, Any]) -> None:
    """The source cluster's instances have names of their own; what they never have is the pipeline's tag."""
    instances = _deny(template, "NeverTouchUnownedInstances")
    assert {"rds:DeleteDBInstance", "rds:ModifyDBInstance", "rds:RebootDBInstance"} <= set(instances["Action"])
    assert instances["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:db:*"}
    assert instances["Condition"] == {"Null": {"rds:db-tag/aurora-restore:pipeline": "true"}}
    clusters = _deny(template, "NeverTouchUnownedClusters")
    assert {"rds:DeleteDBCluster", "rds:ModifyDBCluster"} <= set(clusters["Action"])
    assert clusters["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:rds:*:${AWS::AccountId}:cluster:*"}
    assert clusters["Condition"] == {"Null": {"rds:cluster-tag/aurora-restore:pipeline": "true"}}
    # Creating and tagging stay out: a resource being created has no tag yet, the deny would block every restore.
    for statement in (instances, clusters):
        assert not {"rds:CreateDBInstance", "rds:AddTagsToResource", "rds:RestoreDBClusterFromSnapshot"} & set(
            statement["Action"]
        )


def test_eventbridge_may_encrypt_dead_letters_without_source_account(template: dict[str, Any]) -> None:
    """aws:SourceAccount/aws:SourceArn are not in the KMS request of an EventBridge delivery
    (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), so EventBridge's statement is scoped by
    the encryption context SQS binds to the dead-letter queue instead."""
    stack = stack_of(template)
    statements = template["Resources"]["PipelineKey"]["Properties"]["KeyPolicy"]["Statement"]
    events = [s for s in statements if "events.amazonaws.com" in _listify(s["Principal"].get("Service", []))]
    (statement,) = events
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    conditions = {key for block in statement["Condition"].values() for key in block}
    assert conditions == {"kms:EncryptionContext:aws:sqs:arn"}
    queue = evaluate(template["Resources"]["EventsDeadLetterQueue"]["Properties"]["QueueName"], stack)
    context = evaluate(statement["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sqs:arn"], stack)
    assert context == f"arn:aws:sqs:eu-west-1:123456789012:{queue}"


def test_secrets_are_scoped_to_the_stacks_environment(template: dict[str, Any]) -> None:
    """A dev stack can neither read nor overwrite prod's master secret."""
    secret_statements = [
        s
        for _, s in all_policy_statements(template)
        if any(a.startswith("secretsmanager:") for a in _listify(s["Action"]))
    ]
    assert secret_statements
    dev, prod = stack_of(template), stack_of(template, Environment="prod")
    prod_secret = evaluate(template["Resources"]["MasterSecret"]["Properties"]["Name"], prod)
    from fnmatch import fnmatchcase

    for statement in secret_statements:
        for resource in _listify(statement["Resource"]):
            pattern = evaluate(resource, dev)
            assert pattern.endswith(":secret:aurora-restore/dev/*"), pattern
            assert not fnmatchcase(
                f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:{prod_secret}-AbCdEf", pattern
            )


def test_every_alarm_on_the_pipelines_metrics_reads_only_its_own_environment(template: dict[str, Any]) -> None:
    """Two stacks (dev, prod) in one account publish to the same namespace: each alarm must read only its own
    environment's metrics, or dev's alarms fire on prod's failures (and the other way round)."""
    alarms = {
        logical_id: alarm["Properties"]
        for logical_id, alarm in resources_of(template, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == "AuroraRestore"
    }
    assert len(alarms) >= 4
    for logical_id, props in alarms.items():
        dimensions = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        assert dimensions.get("environment") == {"Ref": "Environment"}, logical_id


def test_each_load_is_its_own_copy_and_follows_the_file(tmp_path: Path) -> None:
    """load_template parses a text once: a test editing its copy must not change the next load, nor may a changed
    file be answered from the parse of its old text."""
    first = load_template()
    first["Resources"].clear()
    assert load_template()["Resources"], "an edited copy leaked into the next load"
    path = tmp_path / "template.yaml"
    path.write_text("Parameters:\n  A:\n    Default: one\n", encoding="utf-8")
    assert load_template(path)["Parameters"]["A"]["Default"] == "one"
    path.write_text("Parameters:\n  A:\n    Default: two\n", encoding="utf-8")
    assert load_template(path)["Parameters"]["A"]["Default"] == "two"
