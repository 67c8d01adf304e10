"""`make demo --config FILE`: your own pipelines document (YAML or JSON, the schema of the SSM document), checked
as the functions check it (`shared.config.config_problems`), then against what the local world can emulate.

Every problem is listed at once, each on its own line; the demo exits non-zero before anything starts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from shared.config import AppConfig, config_problems, parse_config

# The account moto emulates (moto.core.DEFAULT_ACCOUNT_ID; not imported: this module stays moto-free).
EMULATED_ACCOUNT = "123456789012"
EMULATED_ENGINE = "aurora-mysql"  # the local MariaDB stands in for Aurora MySQL only


class _Yaml12Loader(yaml.SafeLoader):
    """YAML as JSON reads it: only true/false are booleans. PyYAML follows YAML 1.1, where `on`, `off`, `yes`
    and `no` are booleans too, so a grant's `on: "appdb.*"` key would arrive as True."""


_BOOL = "tag:yaml.org,2002:bool"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


class DemoConfigError(Exception):
    """The document cannot drive the demo: unreadable, invalid, or beyond what the local world emulates."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source, self.problems = source, problems


def load_document(path: str) -> dict[str, Any]:
    """The pipelines document in FILE: JSON, or YAML (JSON's superset), as a dict; every problem in one error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DemoConfigError(path, [f"cannot read it: {exc.strerror}"]) from None
    try:
        data = json.loads(text) if path.endswith(".json") else yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader
    except json.JSONDecodeError as exc:
        raise DemoConfigError(path, [f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from None
    except yaml.YAMLError as exc:
        raise DemoConfigError(path, [f"not valid YAML: {' '.join(str(exc).split())}"]) from None
    if not isinstance(data, dict):
        raise DemoConfigError(path, ['the document is an object: {"pipelines": [...]}'])
    problems = list(dict.fromkeys(config_problems(data)))  # in order, each once
    if problems:
        raise DemoConfigError(path, problems)
    problems = emulation_problems(parse_config(data))
    if problems:
        raise DemoConfigError(path, [f"the local demo cannot emulate it: {p}" for p in problems])
    return data


def emulation_problems(config: AppConfig) -> list[str]:
    """What a valid document asks that the local world (moto, one emulated account, MariaDB) cannot build."""
    problems = []
    stack_region = config.pipelines[0].target_region
    for index, p in enumerate(config.pipelines):
        where = f"pipelines.{index} ({p.name})"
        if p.target_region != stack_region:
            problems.append(
                f"{where}: target_region {p.target_region}: the demo's stack lives in one region, the first "
                f"pipeline's ({stack_region}); give every pipeline that target region"
            )
        for field, account in (("source_account_id", p.source_account_id), ("target_account_id", p.target_account_id)):
            if account and account != EMULATED_ACCOUNT:
                problems.append(f"{where}: {field} {account}: the demo emulates one account, {EMULATED_ACCOUNT}")
        if not p.kms_key_id.startswith("alias/"):
            problems.append(
                f"{where}: kms_key_id {p.kms_key_id!r}: the demo creates keys under an alias (alias/NAME); a key id "
                "or ARN names a key the emulated account cannot have"
            )
        secrets = [p.database.master_secret_id, *(u.password_secret_id for u in p.database.users)]
        for secret in secrets:
            if secret.startswith("arn:"):
                problems.append(f"{where}: secret {secret!r}: name secrets by name in the demo, not by ARN")
        if p.engine != EMULATED_ENGINE:
            problems.append(f"{where}: engine {p.engine!r}: the local MariaDB stands in for {EMULATED_ENGINE} only")
        if p.database.tls.mode == "verify-full":
            problems.append(
                f"{where}: database.tls.mode verify-full: the local server's certificate comes from its own CA, "
                "not the RDS bundle; use mode 'required' in the demo"
            )
    return problems
