"""Configuration: validated once, every problem reported with its path."""

from __future__ import annotations

import json
from copy import deepcopy
from typing import Any

import pytest

from local_runtime.world import default_config
from shared.config import DEFAULT_POLICIES, parse_config
from shared.errors import ConfigError
from shared.model import RunStatus


def with_pipeline(**changes: Any) -> dict[str, Any]:
    config = default_config()
    config["pipelines"][0].update(changes)
    return config


def test_default_config_is_valid() -> None:
    config = parse_config(json.dumps(default_config()))
    pipeline = config.pipelines[0]
    assert pipeline.cross_region
    assert pipeline.policy(RunStatus.COPYING) == DEFAULT_POLICIES[RunStatus.COPYING]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"name": "Bad Name"}, "pipeline name"),
        ({"target_cluster_id": "prod-aurora", "target_region": "us-east-1"}, "must not be the source"),
        ({"target_cluster_id": "1starts-with-digit"}, "RDS identifier"),
        ({"target_cluster_id": "double--hyphen"}, "RDS identifier"),
        ({"source_region": "mars-1"}, "AWS region"),
        ({"tags": {"aurora-restore:pipeline": "x"}}, "reserved"),
        ({"retention": {"keep_last": -1}}, "keep_last"),
        ({"unknown_key": 1}, "unknown_key"),
        ({"policies": {"SUCCEEDED": {"deadline_minutes": 5}}}, "non-terminal"),
        (
            {"policies": {"COPYING": {"deadline_minutes": 5, "min_poll_seconds": 900, "max_poll_seconds": 60}}},
            "min_poll_seconds",
        ),
    ],
)
def test_invalid_pipeline_is_rejected_with_its_path(changes: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(with_pipeline(**changes))
    assert fragment in str(error.value)
    assert error.value.transient is False


@pytest.mark.parametrize(
    "database_change",
    [
        {"users": [{"name": "x'; DROP USER root; --", "password_secret_id": "s"}]},
        {"users": [{"name": "app", "host": "% OR 1=1", "password_secret_id": "s"}]},
        {"users": [{"name": "app", "password_secret_id": "s", "grants": [{"privileges": ["SUPER"], "on": "*.*"}]}]},
        {
            "users": [
                {"name": "app", "password_secret_id": "s", "grants": [{"privileges": ["SELECT"], "on": "appdb`.*; --"}]}
            ]
        },
        {"users": [{"name": "app", "password_secret_id": "s", "roles": ["nope"]}]},
        {"roles": [{"name": "r`x"}]},
        {"tls": {"mode": "verify-full"}},
        {"post_restore_sql": ["  "]},
    ],
)
def test_unsafe_database_configuration_is_rejected(database_change: dict[str, Any]) -> None:
    config = default_config()
    config["pipelines"][0]["database"] = {**config["pipelines"][0]["database"], **database_change}
    with pytest.raises(ConfigError):
        parse_config(config)


def test_two_pipelines_may_not_share_a_target() -> None:
    config = default_config()
    second = deepcopy(config["pipelines"][0])
    second["name"] = "second"
    config["pipelines"].append(second)
    with pytest.raises(ConfigError, match="share a target"):
        parse_config(config)


def test_a_source_may_not_be_another_pipelines_target() -> None:
    config = default_config()
    second = deepcopy(config["pipelines"][0])
    second.update(name="second", source_cluster_id="other", target_cluster_id="prod-aurora", target_region="us-east-1")
    config["pipelines"].append(second)
    with pytest.raises(ConfigError, match="source cluster is also a target"):
        parse_config(config)


def test_not_json_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_config("{nope")


def test_cross_account_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="cross-account"):
        parse_config(with_pipeline(source_account_id="111111111111", target_account_id="222222222222"))


def test_pipelines_may_not_share_a_master_secret() -> None:
    config = default_config()
    second = deepcopy(config["pipelines"][0])
    second.update(name="second", source_cluster_id="other-source", target_cluster_id="other-target")
    config["pipelines"].append(second)
    with pytest.raises(ConfigError, match="master_secret_id"):
        parse_config(config)


def test_cluster_identifiers_are_lowercased_as_rds_stores_them() -> None:
    """RDS stores identifiers in lowercase and IAM compares ARNs case-sensitively: what the functions send must be
    the lowercase name the template's IAM statements use."""
    pipeline = parse_config(with_pipeline(source_cluster_id="Prod-Aurora", target_cluster_id="STAGING-aurora"))
    assert (pipeline.pipelines[0].source_cluster_id, pipeline.pipelines[0].target_cluster_id) == (
        "prod-aurora",
        "staging-aurora",
    )


def test_the_key_must_be_named_because_it_is_per_environment() -> None:
    config = default_config()
    del config["pipelines"][0]["kms_key_id"]
    with pytest.raises(ConfigError, match="kms_key_id"):
        parse_config(config)


def test_the_master_secret_must_be_named_because_it_is_per_environment() -> None:
    config = default_config()
    del config["pipelines"][0]["database"]["master_secret_id"]
    with pytest.raises(ConfigError, match="master_secret_id"):
        parse_config(config)


@pytest.mark.parametrize(("length", "valid"), [(32, True), (33, False)])
def test_pipeline_names_up_to_32_characters_like_the_template(length: int, valid: bool) -> None:
    name = "p" + "x" * (length - 1)
    if valid:
        assert parse_config(with_pipeline(name=name)).pipelines[0].name == name
    else:
        with pytest.raises(ConfigError, match="pipeline name"):
            parse_config(with_pipeline(name=name))


# The trigger watch (shared.steps.trigger_watch) --------------------------------------------------------------------
def test_trigger_watch_defaults_to_the_backup_window_a_two_hour_grace_and_the_fallback_on() -> None:
    watch = parse_config(default_config()).pipelines[0].trigger_watch
    assert (watch.fallback, watch.expected_start, watch.grace_minutes) == (True, None, 120)


@pytest.mark.parametrize("expected_start", ["04:00", "23:45-00:15"])
def test_trigger_watch_accepts_an_expected_start_in_the_backup_window_format(expected_start: str) -> None:
    config = parse_config(with_pipeline(trigger_watch={"expected_start": expected_start, "grace_minutes": 30}))
    assert config.pipelines[0].trigger_watch.expected_start == expected_start


@pytest.mark.parametrize(
    ("trigger_watch", "fragment"),
    [
        ({"expected_start": "4am"}, "trigger_watch.expected_start: expected_start must be 'hh24:mi'"),
        ({"expected_start": "25:00"}, "expected_start must be 'hh24:mi'"),
        ({"grace_minutes": 5}, "trigger_watch.grace_minutes"),
        ({"grace_minutes": 24 * 60}, "trigger_watch.grace_minutes"),
        ({"fallback": "sometimes"}, "trigger_watch.fallback"),
        ({"expected": "04:00"}, "trigger_watch.expected"),
    ],
)
def test_invalid_trigger_watch_is_rejected_with_its_path(trigger_watch: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as error:
        parse_config(with_pipeline(trigger_watch=trigger_watch))
    assert fragment in error.value.message
