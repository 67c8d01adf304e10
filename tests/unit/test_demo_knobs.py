"""The demo's inputs, checked before anything starts: `--fault` specs become the test harness's own fault model,
and a pipelines document of your own (YAML or JSON) is validated as the functions validate it, then against what
the local world can emulate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_runtime.demo_config import DemoConfigError, emulation_problems, load_document
from local_runtime.fault_knobs import DEFAULT_STUCK_PERCENT, FaultSpecError, parse_faults
from local_runtime.faults import Fault, InjectedError, delivery_delays
from local_runtime.restored_schema import granted_objects
from local_runtime.sample_pipeline import DEFAULT_PIPELINE, default_config
from shared.config import parse_config


# ---- --fault ------------------------------------------------------------------------------------------------------
def test_fault_specs_become_the_harness_faults() -> None:
    plan = parse_faults(
        [
            "drop:RDS-EVENT-0171",
            "delay:RDS-EVENT-0170:600:2",
            "duplicate:SnapshotCopied:1",
            "error:CopyDBClusterSnapshot:ThrottlingException:3",
            "error:PutItem:InternalFailure",
            "stuck-copy:55",
        ]
    )
    assert plan.faults == [
        Fault("RDS-EVENT-0171", "drop"),
        Fault("RDS-EVENT-0170", "delay", times=2, delay=600),
        Fault("SnapshotCopied", "duplicate", times=1),
    ]
    assert plan.errors == [
        InjectedError("CopyDBClusterSnapshot", "ThrottlingException", times=3, status=400),
        InjectedError("PutItem", "InternalFailure", times=1, status=500),
    ]
    assert plan.copy_stuck_at == 55
    assert plan.runtime_options() == {"faults": plan.faults, "errors": plan.errors, "copy_stuck_at": 55}
    assert parse_faults(["stuck-copy"]).copy_stuck_at == DEFAULT_STUCK_PERCENT


def test_parsed_faults_act_on_deliveries_as_the_harness_faults_do() -> None:
    plan = parse_faults(["delay:RDS-EVENT-0170:600:1", "duplicate:RDS-EVENT-0005"])
    assert delivery_delays(plan.faults, "RDS-EVENT-0170", 15) == ([615], False)
    assert delivery_delays(plan.faults, "RDS-EVENT-0170", 15) == ([15], False)  # used up
    assert delivery_delays(plan.faults, "RDS-EVENT-0005", 15) == ([15, 16], False)
    assert delivery_delays(parse_faults(["drop:RDS-EVENT-0169"]).faults, "RDS-EVENT-0169", 15) == ([], False)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("drop", "expected drop:KEY[:TIMES]"),
        ("drop:RDS-EVENT-9999", "unknown event 'RDS-EVENT-9999'"),
        ("delay:RDS-EVENT-0170", "expected delay:KEY:SECONDS[:TIMES]"),
        ("delay:RDS-EVENT-0170:soon", "SECONDS must be a whole number above 0"),
        ("duplicate:RunRequested:0", "TIMES must be a whole number above 0"),
        ("error:CopyDBClusterSnapshot", "expected error:OPERATION:CODE[:TIMES]"),
        ("error:CopySnapshotPlease:ThrottlingException", "no operation 'CopySnapshotPlease'"),
        ("error:CopyDBClusterSnapshot:not a code", "CODE is an AWS error code"),
        ("stuck-copy:100", "PERCENT must be below 100"),
        ("explode:now", "unknown fault 'explode'"),
    ],
)
def test_a_wrong_fault_spec_says_what_a_right_one_looks_like(spec: str, says: str) -> None:
    with pytest.raises(FaultSpecError) as caught:
        parse_faults([spec])
    assert says in str(caught.value) and repr(spec) in str(caught.value)


# ---- --config -----------------------------------------------------------------------------------------------------
def test_a_yaml_document_reads_grants_on_as_a_key_not_a_boolean(tmp_path: Path) -> None:
    # Given the sample pipeline written as YAML, with `on:` keys (a boolean in YAML 1.1)
    path = tmp_path / "pipelines.yaml"
    path.write_text(
        "pipelines:\n"
        "  - name: nightly\n"
        "    source_cluster_id: prod-aurora\n    source_region: us-east-1\n"
        "    target_cluster_id: staging-aurora\n    target_region: us-west-2\n"
        "    kms_key_id: alias/aurora-restore\n    masking: not-needed\n"
        "    quarantine_security_group_ids: [sg-0feedc0ffee000001]\n"
        "    database:\n      master_secret_id: aurora-restore/db-credentials\n"
        "      users:\n        - name: app\n          password_secret_id: app-secret\n"
        "          grants: [{privileges: [SELECT], on: appdb.*}]\n"
    )
    # When it is loaded, then `on` is the grant's target
    document = load_document(str(path))
    assert document["pipelines"][0]["database"]["users"][0]["grants"] == [{"privileges": ["SELECT"], "on": "appdb.*"}]


def test_a_json_document_loads_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.json"
    path.write_text(json.dumps(default_config()))
    assert load_document(str(path)) == default_config()


def test_an_invalid_document_lists_every_problem_once(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    bad = {**DEFAULT_PIPELINE, "name": "Bad_Name"}
    del bad["masking"]
    path.write_text(json.dumps({"pipelines": [bad]}))  # JSON is YAML too
    with pytest.raises(DemoConfigError) as caught:
        load_document(str(path))
    problems = caught.value.problems
    assert len(problems) == len(set(problems)) == 2
    assert problems[0].startswith("pipelines.0.name: pipeline name") and problems[1].startswith("pipelines.0.masking")


@pytest.mark.parametrize(
    ("text", "says"),
    [("pipelines: [\n", "not valid YAML"), ("- a\n- b\n", "the document is an object")],
)
def test_an_unparsable_document_says_why(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    with pytest.raises(DemoConfigError) as caught:
        load_document(str(path))
    assert caught.value.source == str(path) and says in caught.value.problems[0]


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DemoConfigError) as caught:
        load_document(str(tmp_path / "nope.json"))
    assert caught.value.problems == ["cannot read it: No such file or directory"]


def test_what_the_local_world_cannot_build_is_refused_with_the_reason() -> None:
    # Given a valid document the demo cannot emulate
    other_region = {**DEFAULT_PIPELINE, "name": "eu", "target_cluster_id": "eu-copy", "target_region": "eu-west-1"}
    other_region["database"] = {**DEFAULT_PIPELINE["database"], "master_secret_id": "eu/master"}
    strange = {
        **DEFAULT_PIPELINE,
        "source_account_id": "111122223333",
        "kms_key_id": "arn:aws:kms:us-west-2:111122223333:key/1234",
        "engine": "aurora-postgresql",
    }
    strange["database"] = {
        **DEFAULT_PIPELINE["database"],
        "master_secret_id": "arn:aws:secretsmanager:us-west-2:111122223333:secret:m",
        "tls": {"mode": "verify-full", "ca_bundle": "/etc/rds/global-bundle.pem"},
    }
    problems = emulation_problems(parse_config({"pipelines": [strange, other_region]}))
    # Then each reason is listed with its pipeline
    assert [p.split(": ", 2)[1].split(" ")[0] for p in problems] == [
        "source_account_id",
        "kms_key_id",
        "secret",
        "engine",
        "database.tls.mode",
        "target_region",
    ]
    assert all(p.startswith("pipelines.0 (nightly)") for p in problems[:5]) and problems[5].startswith("pipelines.1")
    assert emulation_problems(parse_config(default_config())) == []


def test_the_restored_copy_holds_what_the_grants_name() -> None:
    database = {
        **DEFAULT_PIPELINE["database"],
        "roles": [{"name": "auditor", "grants": [{"privileges": ["SELECT"], "on": "ledger.entries"}]}],
        "users": [
            {
                "name": "bi",
                "password_secret_id": "bi",
                "roles": ["auditor"],
                "grants": [
                    {"privileges": ["SELECT"], "on": "billing.invoices"},
                    {"privileges": ["SELECT"], "on": "billing.*"},
                    {"privileges": ["PROCESS"], "on": "*.*"},
                ],
            }
        ],
    }
    pipeline = parse_config({"pipelines": [{**DEFAULT_PIPELINE, "database": database}]}).pipelines[0]
    assert granted_objects(pipeline) == {"billing": {"invoices"}, "ledger": {"entries"}}
