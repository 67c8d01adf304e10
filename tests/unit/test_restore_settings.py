"""A restore never silently enrols the target in Extended Support, resets I/O-Optimized storage or drops log exports:
each setting comes from the configuration, else from the previous target (read before it is deleted), else AWS's
default applies, and the restore's audit line says which (RestoreDBClusterFromSnapshot parameter docs)."""

from __future__ import annotations

import pytest

from shared.cluster_settings import ClusterSettings, of_cluster, resolve
from shared.config import parse_config
from shared.errors import ConfigError
from shared.model import Run, RunStatus
from shared.naming import TAG_RUN
from shared.steps import delete_rds, restore_snapshot
from shared.steps.turn import StepTurn
from shared.transitions import Step
from tests.unit.fakes import RUN_ID, Fakes, make_config, make_run, owned_tags, pipeline_doc

TARGET = "staging-aurora"
IOPT_WITH_LOGS = ClusterSettings(
    engine_lifecycle_support="open-source-rds-extended-support-disabled",
    storage_type="aurora-iopt1",
    cloudwatch_logs_exports=["audit", "error"],
)


# resolve / of_cluster ----------------------------------------------------------------------------------------------
def test_configuration_wins_then_the_previous_target_then_aws_default() -> None:
    configured = ClusterSettings(storage_type="aurora")
    previous = ClusterSettings(storage_type="aurora-iopt1", cloudwatch_logs_exports=["audit"])
    chosen, line = resolve(configured, previous)
    assert chosen == ClusterSettings(storage_type="aurora", cloudwatch_logs_exports=["audit"])
    assert "storage: aurora (configuration)" in line
    assert "log exports: audit (previous target)" in line
    assert "extended support: AWS default open-source-rds-extended-support: enrolled in RDS Extended Support" in line


def test_without_configuration_or_previous_target_every_default_is_named() -> None:
    chosen, line = resolve(ClusterSettings(), None)
    assert chosen == ClusterSettings()
    assert "Extended Support" in line and "AWS default aurora (Standard)" in line and "no log exported" in line


def test_a_previous_target_that_exported_nothing_keeps_exporting_nothing() -> None:
    chosen, line = resolve(ClusterSettings(), ClusterSettings(cloudwatch_logs_exports=[]))
    assert chosen.cloudwatch_logs_exports == [] and "log exports: none (previous target)" in line


def test_values_of_another_cluster_kind_are_never_carried_into_a_restore() -> None:
    # moto (and Multi-AZ clusters) report storage types a restore of Aurora would refuse
    settings = of_cluster("something-new", "gp2", ["audit", "not-a-log"])
    assert settings == ClusterSettings(cloudwatch_logs_exports=["audit"])


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"storage_type": "gp3"}, "restore_settings.storage_type"),
        ({"engine_lifecycle_support": "forever"}, "restore_settings.engine_lifecycle_support"),
        ({"cloudwatch_logs_exports": ["audit", "everything"]}, "unknown CloudWatch log types ['everything']"),
        ({"unknown": 1}, "restore_settings.unknown"),
    ],
)
def test_bad_restore_settings_are_refused_with_a_clear_reason(settings: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_config({"pipelines": [pipeline_doc(restore_settings=settings)]})
    assert words in refused.value.message


# delete-rds reads them; restore-snapshot applies them ---------------------------------------------------------------
def given_previous_target(fakes: Fakes, settings: ClusterSettings) -> None:
    view = fakes.target.add_cluster(TARGET, tags=owned_tags(**{TAG_RUN: "previous-night"}))
    fakes.target.clusters[TARGET] = view.model_copy(
        update={
            "engine_lifecycle_support": settings.engine_lifecycle_support,
            "storage_type": settings.storage_type,
            "cloudwatch_logs_exports": list(settings.cloudwatch_logs_exports or []),
        }
    )
    fakes.target.add_instance(f"{TARGET}-1", TARGET, tags=owned_tags())


def given_replacing(fakes: Fakes) -> Run:
    run = fakes.store.seed(make_run(RunStatus.REPLACING_TARGET, now=fakes.clock.now()))
    fakes.target.add_snapshot(run.copy_snapshot_id, "prod-aurora", snapshot_type="manual")
    return run


def test_delete_reads_the_previous_targets_settings_onto_the_run_before_deleting() -> None:
    fakes = Fakes()
    given_previous_target(fakes, IOPT_WITH_LOGS)
    run = given_replacing(fakes)

    delete_rds.act(StepTurn(fakes.deps, run, Step.DELETE_RDS, "SnapshotCopied"))

    assert fakes.all_deletes(), "the delete went ahead"
    assert fakes.store.run().previous_target_settings == IOPT_WITH_LOGS


def test_restore_applies_the_previous_targets_settings_and_says_so() -> None:
    fakes = Fakes()
    given_previous_target(fakes, IOPT_WITH_LOGS)
    run = given_replacing(fakes)
    delete_rds.act(StepTurn(fakes.deps, run, Step.DELETE_RDS, "SnapshotCopied"))
    fakes.target.finish_deletions()

    restore_snapshot.act(StepTurn(fakes.deps, fakes.store.run(), Step.RESTORE_SNAPSHOT, "TargetDeleted"))

    [call] = fakes.target.calls_to("restore_cluster")
    assert call.args["request"].settings == IOPT_WITH_LOGS
    restored = fakes.target.clusters[TARGET]
    assert (restored.storage_type, restored.engine_lifecycle_support, restored.cloudwatch_logs_exports) == (
        "aurora-iopt1",
        "open-source-rds-extended-support-disabled",
        ["audit", "error"],
    )
    [line] = [r for r in fakes.store.audit_trail(RUN_ID) if r.to_status is RunStatus.RESTORING]
    assert "storage: aurora-iopt1 (previous target)" in line.message
    assert "extended support: open-source-rds-extended-support-disabled (previous target)" in line.message


def test_configured_settings_override_the_previous_target() -> None:
    doc = pipeline_doc(restore_settings={"engine_lifecycle_support": "open-source-rds-extended-support-disabled"})
    fakes = Fakes(config=make_config(doc))
    run = fakes.store.seed(
        make_run(
            RunStatus.REPLACING_TARGET,
            now=fakes.clock.now(),
            previous_target_settings=ClusterSettings(engine_lifecycle_support="open-source-rds-extended-support"),
        )
    )
    fakes.target.add_snapshot(run.copy_snapshot_id, "prod-aurora", snapshot_type="manual")

    restore_snapshot.act(StepTurn(fakes.deps, run, Step.RESTORE_SNAPSHOT, "TargetDeleted"))

    [call] = fakes.target.calls_to("restore_cluster")
    assert call.args["request"].settings.engine_lifecycle_support == "open-source-rds-extended-support-disabled"
    assert fakes.target.clusters[TARGET].engine_lifecycle_support == "open-source-rds-extended-support-disabled"


def test_a_first_run_without_settings_names_the_aws_defaults_it_gets() -> None:
    fakes = Fakes()
    run = given_replacing(fakes)  # no previous target, nothing configured
    restore_snapshot.act(StepTurn(fakes.deps, run, Step.RESTORE_SNAPSHOT, "TargetDeleted"))
    [call] = fakes.target.calls_to("restore_cluster")
    assert call.args["request"].settings == ClusterSettings()
    [line] = [r for r in fakes.store.audit_trail(RUN_ID) if r.to_status is RunStatus.RESTORING]
    assert "enrolled in RDS Extended Support" in line.message
