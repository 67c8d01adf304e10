"""The samples in `events/` against the code's contracts and the template's rules.

- every `<name>.json` is a full EventBridge envelope as a Lambda receives it: `parse_event` accepts it and, for
  pipeline events, its detail validates against `DETAIL_MODELS`;
- every `<name>.entries.json` is a valid `aws events put-events --entries file://...` list;
- every sample (but the scheduled one, which Scheduler delivers to the function directly) is matched by a rule of
  `template.yaml` on the right bus and reaches exactly the step(s) the routing table (`shared/routing.py`) names;
- every `DetailType` has a sample, and so has every wake-up of the routing table (but the schedule).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_runtime.template_rules import Rule, functions
from shared.dispatch import parse_event
from shared.events import DETAIL_MODELS, PIPELINE_SOURCE, RDS_SOURCE, RestoreRequestedDetail
from shared.model import RunStatus
from shared.routing import Bus, owner_of, steps_woken_by, wakes
from shared.transitions import DetailType, Step

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
BUS_NAME = "aurora-restore-dev"
ACCOUNT = "123456789012"
SCHEDULED = "scheduled-event"

ENVELOPES = sorted(p for p in EVENTS_DIR.glob("*.json") if not p.name.endswith(".entries.json"))
ENTRIES = sorted(EVENTS_DIR.glob("*.entries.json"))


def _name(path: Path) -> str:
    return path.name.removesuffix(".entries.json").removesuffix(".json")


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    return [rule for spec in functions() for rule in spec.rules]


def _bus_for(envelope: dict[str, Any]) -> Bus:
    return "default" if envelope["source"] == RDS_SOURCE else "pipeline"


def _routed(rules: list[Rule], envelope: dict[str, Any]) -> set[Step]:
    bus = _bus_for(envelope)
    return {rule.step for rule in rules if rule.bus == bus and rule.matches(envelope)}


def test_samples_exist() -> None:
    assert ENVELOPES, f"no samples in {EVENTS_DIR}"


def test_every_wake_of_the_routing_table_has_a_sample() -> None:
    envelopes = [_load(p) for p in ENVELOPES]
    for step, wake in wakes():
        if wake.kind == "schedule":
            continue  # Scheduler invokes the function directly; `scheduled-event.json` is its input
        assert any(wake.matches(_bus_for(e), e) for e in envelopes), f"no sample in events/ for {step} {wake.name}"


@pytest.mark.parametrize("path", ENVELOPES, ids=_name)
def test_envelope_shape(path: Path) -> None:
    envelope = _load(path)
    assert set(envelope) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert envelope["version"] == "0"
    assert envelope["account"] == ACCOUNT
    assert isinstance(envelope["resources"], list)
    assert isinstance(envelope["detail"], dict)
    if envelope["source"] == PIPELINE_SOURCE:
        assert envelope["region"] == "us-west-2"


@pytest.mark.parametrize("path", ENVELOPES, ids=_name)
def test_envelope_parses(path: Path) -> None:
    envelope = _load(path)
    parsed = parse_event(envelope)  # raises Rejected on a bad sample
    if envelope["source"] == RDS_SOURCE:
        assert parsed.kind == "rds"
        assert parsed.rds is not None
        detail = parsed.rds.detail
        assert detail.SourceArn in envelope["resources"]
        region, account, resource_type, resource_id = detail.arn_parts
        assert (region, account) == (envelope["region"], ACCOUNT)
        assert resource_id == detail.SourceIdentifier
        assert detail.EventCategories and detail.SourceType and detail.Date and detail.Message
        expected_type = {
            "cluster-snapshot": ("RDS DB Cluster Snapshot Event", "CLUSTER_SNAPSHOT"),
            "cluster": ("RDS DB Cluster Event", "CLUSTER"),
            "db": ("RDS DB Instance Event", "DB_INSTANCE"),
        }[resource_type]
        assert (envelope["detail-type"], detail.SourceType) == expected_type
    elif envelope["source"] == PIPELINE_SOURCE:
        assert parsed.kind == "pipeline"
        kind = DetailType(envelope["detail-type"])
        assert parsed.detail_type is kind
        model = DETAIL_MODELS[kind]
        assert isinstance(parsed.detail, model)
        model.model_validate(envelope["detail"])
    else:
        assert _name(path) == SCHEDULED
        assert parsed.kind == "schedule"


@pytest.mark.parametrize("path", ENTRIES, ids=_name)
def test_put_events_entries(path: Path) -> None:
    entries = _load(path)
    assert isinstance(entries, list) and 1 <= len(entries) <= 10  # PutEvents takes at most 10 entries
    for entry in entries:
        assert set(entry) <= {"Source", "DetailType", "Detail", "EventBusName", "Resources", "Time"}
        assert entry["Source"] == PIPELINE_SOURCE
        assert entry["EventBusName"] == BUS_NAME
        kind = DetailType(entry["DetailType"])
        assert isinstance(entry["Detail"], str), "Detail must be a JSON string in PutEvents entries"
        detail = json.loads(entry["Detail"])
        DETAIL_MODELS[kind].model_validate(detail)


@pytest.mark.parametrize("path", ENTRIES, ids=_name)
def test_entries_and_envelope_agree(path: Path) -> None:
    """The same event in both formats: what put-events sends is what the function receives."""
    envelope_path = path.with_name(_name(path) + ".json")
    assert envelope_path.exists(), f"{path.name} has no envelope sample"
    envelope = _load(envelope_path)
    (entry,) = _load(path)
    assert entry["DetailType"] == envelope["detail-type"]
    assert entry["Source"] == envelope["source"]
    assert json.loads(entry["Detail"]) == envelope["detail"]
    assert entry.get("Resources", []) == envelope["resources"]


def test_every_pipeline_envelope_has_entries() -> None:
    pipeline_samples = {_name(p) for p in ENVELOPES if _load(p)["source"] == PIPELINE_SOURCE}
    assert pipeline_samples == {_name(p) for p in ENTRIES}


def test_every_detail_type_has_a_sample() -> None:
    covered = {DetailType(_load(p)["detail-type"]) for p in ENVELOPES if _load(p)["source"] == PIPELINE_SOURCE}
    assert covered == set(DetailType)


def test_pinned_restore_request() -> None:
    detail = RestoreRequestedDetail.model_validate(_load(EVENTS_DIR / "restore-requested-pinned.json")["detail"])
    assert detail.snapshot_identifier == "rds:prod-aurora-2026-11-24-03-10"
    assert RestoreRequestedDetail.model_validate(_load(EVENTS_DIR / "restore-requested.json")["detail"]).pipeline


@pytest.mark.parametrize("path", ENVELOPES, ids=_name)
def test_sample_routes_to_expected_step(path: Path, rules: list[Rule]) -> None:
    envelope = _load(path)
    expected = steps_woken_by(_bus_for(envelope), envelope)
    routed = _routed(rules, envelope)
    if _name(path) == SCHEDULED:
        assert routed == set() == expected
        assert any(spec.step is Step.ORCHESTRATOR_CHECK and spec.schedule for spec in functions())
        return
    assert routed, f"no rule in template.yaml matches {path.name}"
    assert routed == expected


@pytest.mark.parametrize("status", list(RunStatus), ids=str)
def test_run_check_due_reaches_owner_of_each_status(status: RunStatus, rules: list[Rule]) -> None:
    """The orchestrator's RunCheckDue must reach exactly the step `transitions.STATES` names as the owner."""
    envelope = _load(EVENTS_DIR / "run-check-due.json")
    envelope["detail"] = {**envelope["detail"], "status": status.value}
    parse_event(envelope)
    owner = owner_of(status)
    assert _routed(rules, envelope) == ({owner} if owner else set())


def test_rds_sample_on_pipeline_bus_matches_nothing(rules: list[Rule]) -> None:
    """RDS publishes to the default bus only: a pipeline-bus rule for aws.rds would never fire."""
    for path in ENVELOPES:
        envelope = _load(path)
        if envelope["source"] == RDS_SOURCE:
            assert not any(rule.bus == "pipeline" and rule.matches(envelope) for rule in rules), path.name
