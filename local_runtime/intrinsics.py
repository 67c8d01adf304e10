"""A small evaluator of the CloudFormation intrinsic functions the template uses for names and settings, so the
local runtime and the tests read `template.yaml` as CloudFormation would for a given set of parameters.

Resolved: `Ref` (parameters and pseudo parameters), `Fn::Sub` (both forms), `Fn::If` (with the template's
`Conditions`), `Fn::Equals`/`Not`/`And`/`Or`, `Fn::Select`, `Fn::Split`, `Fn::Join`; a property whose value is
`AWS::NoValue` disappears. Anything else (`Fn::GetAtt`, a `Ref` to a resource) is left as written.
Semantics: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()  # what `Ref: AWS::NoValue` evaluates to; removed from the enclosing dict or list
LOCAL_STACK_UUID = "5ca1ab1e-0000-4000-8000-000000000000"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class StackContext:
    """The values a stack resolves intrinsics with: parameters (defaults plus overrides) and pseudo parameters."""

    params: dict[str, Any]
    conditions: dict[str, Any] = field(default_factory=dict)  # the template's Conditions section, unevaluated
    region: str = "us-east-1"
    account: str = "123456789012"
    stack_name: str = "aurora-restore-local"
    stack_uuid: str = LOCAL_STACK_UUID

    @classmethod
    def of(cls, template: dict[str, Any], overrides: dict[str, Any] | None = None, **pseudo: str) -> StackContext:
        params = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        for name, spec in template.get("Parameters", {}).items():
            if spec.get("Type") == "CommaDelimitedList" and isinstance(params[name], str):
                params[name] = [item for item in params[name].split(",") if item]
        return cls({**params, **(overrides or {})}, template.get("Conditions", {}), **pseudo)

    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/"
            f"{self.stack_uuid}",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }

    def condition(self, name: str) -> bool:
        return bool(evaluate(self.conditions[name], self))


def evaluate(value: Any, stack: StackContext) -> Any:
    """`value` with every intrinsic this module knows resolved against `stack`."""
    if isinstance(value, list):
        return [v for v in (evaluate(item, stack) for item in value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        function = _FUNCTIONS.get(key)
        if function is not None:
            return function(arg, stack)
    resolved = {k: evaluate(v, stack) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def _ref(name: Any, stack: StackContext) -> Any:
    if name in stack.params:
        return stack.params[name]
    return stack.pseudo().get(name, {"Ref": name})  # a resource: left as written


def _sub(arg: Any, stack: StackContext) -> Any:
    text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
    scope = {**stack.pseudo(), **stack.params, **{k: evaluate(v, stack) for k, v in variables.items()}}
    unresolved = [m.group(1) for m in _SUB_VARIABLE.finditer(text) if not _is_text(scope.get(m.group(1)))]
    if unresolved:  # e.g. ${SomeResource.Arn}: not known before deployment
        return {"Fn::Sub": arg}
    return _SUB_VARIABLE.sub(lambda m: str(scope[m.group(1)]), text)


def _is_text(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _if(arg: list[Any], stack: StackContext) -> Any:
    name, when_true, when_false = arg
    return evaluate(when_true if stack.condition(name) else when_false, stack)


def _select(arg: list[Any], stack: StackContext) -> Any:
    index, items = int(evaluate(arg[0], stack)), evaluate(arg[1], stack)
    return items[index]


def _split(arg: list[Any], stack: StackContext) -> Any:
    return str(evaluate(arg[1], stack)).split(arg[0])


def _join(arg: list[Any], stack: StackContext) -> Any:
    return arg[0].join(str(item) for item in evaluate(arg[1], stack))


def _equals(arg: list[Any], stack: StackContext) -> bool:
    left, right = (evaluate(item, stack) for item in arg)
    return bool(str(left) == str(right))


_FUNCTIONS = {
    "Ref": _ref,
    "Fn::Sub": _sub,
    "Fn::If": _if,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::Join": _join,
    "Fn::Equals": _equals,
    "Fn::Not": lambda arg, stack: not evaluate(arg[0], stack),
    "Fn::And": lambda arg, stack: all(evaluate(item, stack) for item in arg),
    "Fn::Or": lambda arg, stack: any(evaluate(item, stack) for item in arg),
    "Condition": lambda name, stack: stack.condition(name),
}
