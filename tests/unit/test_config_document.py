"""The pipelines document before it goes live: `validate` lists every problem with its path, `push` writes only a
valid document, and only to the operator's parameter (never the stack's seed)."""

from __future__ import annotations

import io
import json
from copy import deepcopy
from typing import Any

import pytest

from ops import config_commands
from shared.config import MASKING_MISSING, parse_config
from shared.config_document import ADVANCED_LIMIT, check_document, document_parameter, seed_parameter
from shared.errors import ConfigError
from tests.unit.fakes import pipeline_doc


class FakeParameterStore:
    """Satisfies ops.config_commands.DocumentStore: parameters in a dict, writes recorded."""

    def __init__(self, **parameters: str) -> None:
        self.parameters = dict(parameters)
        self.writes: list[str] = []

    def read(self, name: str) -> str | None:
        return self.parameters.get(name)

    def write(self, name: str, value: str, description: str) -> int:
        self.writes.append(name)
        self.parameters[name] = value
        return len(self.writes)


def document(*pipelines: dict[str, Any]) -> str:
    return json.dumps({"pipelines": list(pipelines) or [pipeline_doc()]}, indent=2)


def broken_document() -> str:
    """Five problems in three pipelines: field errors, a cross-field check and a cross-pipeline check."""
    no_decision = pipeline_doc(target_cluster_id="1-bad-id")
    del no_decision["masking"]
    no_sql = pipeline_doc(name="qa", target_cluster_id="qa-aurora", database={"master_secret_id": "aurora-restore/qa"})
    no_sql["database"]["users"] = [{"name": "x'; DROP USER root; --", "password_secret_id": "s"}]
    twin = pipeline_doc(name="qa-twin", target_cluster_id="qa-aurora", masking="not-needed")
    twin["database"] = {"master_secret_id": "aurora-restore/qa-twin"}
    other = pipeline_doc(name="other", target_cluster_id="QA-aurora", masking="not-needed")
    other["database"] = {"master_secret_id": "aurora-restore/other"}
    return document(no_decision, no_sql, twin, other)


def test_validate_lists_every_problem_with_its_path() -> None:
    out = io.StringIO()

    code = config_commands.validate(broken_document(), "dev", None, out)

    text = out.getvalue()
    assert code == 1
    assert "5 problem(s)" in text
    assert "pipelines.0.target_cluster_id: invalid RDS identifier" in text
    assert f"pipelines.0.masking: {MASKING_MISSING}" in text
    assert "pipelines.1.database: masking is 'required' but database.post_restore_sql is empty" in text
    assert "pipelines.1.database: invalid user name" in text
    assert "pipelines: two pipelines must not share a target cluster" in text  # qa-twin and other (valid ones)
    assert len([line for line in text.splitlines() if line.startswith("  - ")]) == 5


def test_a_pipeline_without_masking_decision_is_refused_with_a_clear_message() -> None:
    undecided = pipeline_doc()
    del undecided["masking"]

    with pytest.raises(ConfigError) as refused:
        parse_config(document(undecided))

    assert 'no masking decision: set "masking": "required"' in refused.value.message
    assert "pipelines.0.masking" in refused.value.message


def test_masking_required_with_sql_and_not_needed_without_are_both_valid() -> None:
    assert parse_config(document(pipeline_doc())).pipelines[0].masking == "required"
    plain = pipeline_doc(masking="not-needed")
    plain["database"] = {"master_secret_id": "aurora-restore/db-credentials"}
    assert parse_config(document(plain)).pipelines[0].database.post_restore_sql == []


def test_masking_must_be_one_of_the_two_decisions() -> None:
    with pytest.raises(ConfigError, match="pipelines.0.masking: Input should be 'required' or 'not-needed'"):
        parse_config(document(pipeline_doc(masking="yes")))


def test_push_writes_a_valid_document_compactly_to_the_operators_parameter() -> None:
    store = FakeParameterStore()
    out = io.StringIO()

    code = config_commands.push(document(), "prod", store, out)

    assert code == 0
    assert store.writes == ["/aurora-restore/prod/pipelines"]
    written = store.parameters["/aurora-restore/prod/pipelines"]
    assert json.loads(written) == json.loads(document()) and "\n" not in written
    assert "pushed to /aurora-restore/prod/pipelines (version 1)" in out.getvalue()


def test_push_of_a_bad_document_writes_nothing() -> None:
    live = document()
    store = FakeParameterStore(**{"/aurora-restore/dev/pipelines": live})
    out = io.StringIO()

    code = config_commands.push(broken_document(), "dev", store, out)

    assert code == 1 and store.writes == []
    assert store.parameters["/aurora-restore/dev/pipelines"] == live
    assert "nothing pushed" in out.getvalue()


def test_validate_without_a_file_checks_the_live_document_operators_first_then_the_seed() -> None:
    undecided = pipeline_doc()
    del undecided["masking"]
    seed_only = FakeParameterStore(**{"/aurora-restore/dev/pipelines.seed": document(undecided)})
    both = FakeParameterStore(
        **{"/aurora-restore/dev/pipelines.seed": document(undecided), "/aurora-restore/dev/pipelines": document()}
    )

    out = io.StringIO()
    assert config_commands.validate(None, "dev", seed_only, out) == 1
    assert out.getvalue().startswith("/aurora-restore/dev/pipelines.seed: 1 problem(s)")
    out = io.StringIO()
    assert config_commands.validate(None, "dev", both, out) == 0
    assert out.getvalue().startswith("/aurora-restore/dev/pipelines: valid")
    assert config_commands.validate(None, "dev", FakeParameterStore(), io.StringIO()) == 1


def test_a_document_over_the_advanced_tier_limit_is_refused_and_one_over_standard_is_noted() -> None:
    def with_sql(size: int) -> str:
        pipeline = pipeline_doc()
        pipeline["database"] = deepcopy(pipeline["database"])
        pipeline["database"]["post_restore_sql"] = [f"UPDATE appdb.t SET c = '{'x' * size}'"]
        return document(pipeline)

    big = check_document(with_sql(ADVANCED_LIMIT))
    assert any("an SSM parameter holds at most 8192" in p for p in big.problems)
    medium = check_document(with_sql(5000))
    assert medium.problems == [] and medium.tier == "Advanced" and "Advanced one" in medium.notes[0]
    assert check_document(document()).tier == "Standard"


def test_not_json_is_one_clear_problem() -> None:
    check = check_document('{"pipelines": [')
    assert len(check.problems) == 1 and check.problems[0].startswith("configuration is not valid JSON")


def test_parameter_names_match_the_template() -> None:
    from local_runtime.template_rules import load_template

    template = load_template()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["CONFIG_PARAMETER_NAME"] == {"Fn::Sub": document_parameter("${Environment}")}
    seed = template["Resources"]["PipelinesConfig"]["Properties"]["Name"]
    assert seed == {"Fn::Sub": seed_parameter("${Environment}")}


def test_validate_of_a_file_through_the_cli_needs_no_aws(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.cli import main

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    path = tmp_path / "pipelines.json"
    path.write_text(broken_document())
    out = io.StringIO()

    assert main(["config", "validate", str(path)], out) == 1
    assert "5 problem(s)" in out.getvalue()
    path.write_text(document())
    out = io.StringIO()
    assert main(["config", "validate", str(path)], out) == 0
    assert out.getvalue().startswith("document: valid")


def test_every_cross_pipeline_problem_is_listed_on_its_own() -> None:
    twin = pipeline_doc()  # same name, target, source and master secret as the first

    problems = check_document(document(pipeline_doc(), twin)).problems

    assert problems == [
        "pipelines: pipeline names must be unique",
        "pipelines: two pipelines must not share a target cluster",
        "pipelines: each pipeline needs its own database.master_secret_id (it is rotated every run)",
    ]
