"""Reads `template.yaml` as CloudFormation would see it: the functions, their EventBridge rules and schedule,
and the DynamoDB tables. The local router delivers events with exactly these patterns, so a wrong pattern in
the template fails an end-to-end test."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from moto.events.models import EventPattern

from local_runtime.intrinsics import StackContext, evaluate
from shared.transitions import Step

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"

_TAGS = ("Ref", "Condition")
_FN_TAGS = (
    "Sub",
    "GetAtt",
    "Join",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "Base64",
    "Cidr",
    "GetAZs",
    "Transform",
    "ToJsonString",
    "Length",
)


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !Sub, ...) into their long JSON forms."""


def _constructor(long_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:
            raise yaml.constructor.ConstructorError(None, None, f"unexpected node for !{long_name}", node.start_mark)
        return {long_name: value}

    return construct


for _tag in _TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _constructor(_tag))
for _tag in _FN_TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _constructor(f"Fn::{_tag}"))


# Parsed templates by their text: parsing takes about 0.2 s and every World and LocalRuntime reads the template,
# twice per end-to-end test; reading the file and copying the parsed template take a few milliseconds.
_PARSED: dict[str, dict[str, Any]] = {}


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation reads it; each call returns its own copy (tests edit theirs)."""
    text = path.read_text(encoding="utf-8")
    if text not in _PARSED:
        if len(_PARSED) >= 8:  # tests parse rendered variants too: keep a few
            _PARSED.clear()
        _PARSED[text] = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader subclass
    return copy.deepcopy(_PARSED[text])


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}


def resolve(value: Any, params: dict[str, Any], region: str = "us-east-1", account: str = "123456789012") -> Any:
    """`value` with parameter and pseudo-parameter intrinsics resolved (no Conditions); others stay as written."""
    return evaluate(value, StackContext(params, region=region, account=account))


@dataclass(frozen=True)
class Rule:
    function: str  # logical id
    step: Step
    name: str  # event name in the template
    bus: str  # "default" or "pipeline"
    pattern: dict[str, Any]
    matcher: EventPattern = field(compare=False, hash=False, repr=False)

    def matches(self, event: dict[str, Any]) -> bool:
        return bool(self.matcher.matches_event(event))  # type: ignore[arg-type]


@dataclass
class FunctionSpec:
    logical_id: str
    step: Step
    code_uri: str
    handler: str
    rules: list[Rule]
    schedule: Any  # ScheduleExpression as written (a string or an intrinsic such as {"Ref": ...})
    schedule_input: dict[str, Any] | None = None
    function_name: str = ""  # FunctionName as deployed with the parameter defaults, e.g. aurora-restore-dev-<step>
    timeout: float = 3.0  # seconds; the function's Timeout, else Globals' (Lambda's own default is 3 s)


# `aurora-restore-<step>` or, as the template names them, `!Sub aurora-restore-${Environment}-<step>`.
_FUNCTION_NAME = re.compile(r"^aurora-restore-(?:\$\{Environment\}-)?(?P<step>[a-z][a-z-]*)$")


def _step_of(properties: dict[str, Any]) -> Step:
    name = properties.get("FunctionName")
    text = name.get("Fn::Sub") if isinstance(name, dict) else name
    match = _FUNCTION_NAME.match(text) if isinstance(text, str) else None
    if match is not None and match["step"] in {step.value for step in Step}:
        return Step(match["step"])
    code_uri = str(properties.get("CodeUri", "")).rstrip("/")
    return Step(code_uri.rsplit("/", 1)[-1].replace("_", "-"))


def _bus_of(properties: dict[str, Any]) -> str:
    bus = properties.get("EventBusName")
    if bus is None or bus == "default":
        return "default"
    return "pipeline"


def functions(template: dict[str, Any] | None = None) -> list[FunctionSpec]:
    template = template or load_template()
    default_handler = template.get("Globals", {}).get("Function", {}).get("Handler", "app.handler")
    stack = StackContext.of(template)
    default_timeout = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    specs = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties", {})
        step = _step_of(properties)
        rules: list[Rule] = []
        schedule = None
        schedule_input = None
        for event_name, event in (properties.get("Events") or {}).items():
            event_type = event.get("Type")
            event_props = event.get("Properties", {})
            if event_type in ("EventBridgeRule", "CloudWatchEvent"):
                pattern = event_props["Pattern"]
                rules.append(
                    Rule(
                        logical_id,
                        step,
                        event_name,
                        _bus_of(event_props),
                        pattern,
                        EventPattern.load(json.dumps(pattern)),
                    )
                )
            elif event_type in ("ScheduleV2", "Schedule"):
                schedule = event_props.get("ScheduleExpression")
                schedule_input = json.loads(event_props["Input"]) if "Input" in event_props else None
        specs.append(
            FunctionSpec(
                logical_id,
                step,
                str(properties.get("CodeUri", "")),
                str(properties.get("Handler", default_handler)),
                rules,
                schedule,
                schedule_input,
                str(evaluate(properties.get("FunctionName", f"aurora-restore-{step.value}"), stack)),
                float(evaluate(properties.get("Timeout", default_timeout), stack)),
            )
        )
    return specs


def table_definitions(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """CreateTable arguments for each DynamoDB table of the template, keyed by logical id."""
    template = template or load_template()
    stack = StackContext.of(template)
    tables = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = evaluate(resource["Properties"], stack)
        args: dict[str, Any] = {
            "TableName": props["TableName"],
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = [
                {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
                for g in props["GlobalSecondaryIndexes"]
            ]
        tables[logical_id] = args
    return tables


def schedule_group_names(template: dict[str, Any] | None = None) -> list[str]:
    """Names of the template's EventBridge Scheduler schedule groups (the wake-ups' group)."""
    template = template or load_template()
    stack = StackContext.of(template)
    return [
        str(evaluate(resource["Properties"]["Name"], stack))
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Scheduler::ScheduleGroup"
    ]
