"""Where the functions' configuration comes from, on moto's SSM: the operator's document when it exists, else the
stack's seed; a deploy that rewrites the seed changes nothing while the operator's document exists; `ops config
push` writes only a valid document, and only the operator's parameter."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_runtime.runtime import LocalRuntime
from local_runtime.world import World, default_config
from ops.cli import main
from shared.deps import ClientFactory, ConfigSource
from shared.errors import ConfigError

OPERATOR = "/aurora-restore/dev/pipelines"
SEED = "/aurora-restore/dev/pipelines.seed"


def ssm() -> Any:
    return boto3.client("ssm", region_name="us-west-2")


def seed_document(instances: int) -> str:
    """What the stack renders into the seed (see infra/template.src.yaml), for a given InstanceCount."""
    pipeline = default_config()["pipelines"][0]
    pipeline.update(masking="not-needed", instances={"instance_class": "db.r6g.large", "count": instances})
    pipeline["database"] = {"master_secret_id": "aurora-restore/db-credentials"}
    return json.dumps({"pipelines": [pipeline]})


def deploy(instances: int) -> None:
    """What CloudFormation does to the parameter it owns on a create or an update with a changed parameter."""
    ssm().put_parameter(Name=SEED, Value=seed_document(instances), Type="String", Overwrite=True)


def source(world: World) -> ConfigSource:
    return ConfigSource(world.settings(), ClientFactory())


def test_the_seed_is_read_only_while_the_operator_has_pushed_no_document(world: World) -> None:
    ssm().delete_parameter(Name=OPERATOR)
    deploy(instances=1)

    config = source(world).load()

    assert config.pipelines[0].masking == "not-needed" and config.pipelines[0].instances.count == 1


def test_a_deploy_with_a_changed_parameter_does_not_change_the_operators_document(world: World) -> None:
    deploy(instances=1)
    operators = ssm().get_parameter(Name=OPERATOR)["Parameter"]["Value"]

    deploy(instances=3)  # a stack update with InstanceCount=3 rewrites the seed

    assert ssm().get_parameter(Name=OPERATOR)["Parameter"]["Value"] == operators
    config = source(world).load()
    assert config.pipelines[0].instances.count == 2  # the operator's document, not the seed's 3
    assert config.pipelines[0].database.post_restore_sql, "the operator's masking SQL is what runs"


def test_neither_document_is_a_clear_configuration_error(world: World) -> None:
    ssm().delete_parameter(Name=OPERATOR)

    with pytest.raises(ConfigError, match="no pipelines document.*ops config push"):
        source(world).load()


def test_an_invalid_operators_document_names_its_parameter_and_is_never_replaced_by_the_seed(world: World) -> None:
    deploy(instances=1)
    undecided = default_config()
    del undecided["pipelines"][0]["masking"]
    ssm().put_parameter(Name=OPERATOR, Value=json.dumps(undecided), Type="String", Overwrite=True)

    # An invalid operator's document is refused, never skipped in favour of the seed
    with pytest.raises(ConfigError) as refused:
        source(world).load()
    assert "no masking decision" in refused.value.message
    assert f"SSM parameter {OPERATOR}" in refused.value.message


def test_push_then_validate_through_the_cli(world: World, tmp_path: Path) -> None:
    document = default_config()
    document["pipelines"][0]["instances"]["count"] = 4
    good = tmp_path / "pipelines.json"
    good.write_text(json.dumps(document, indent=2))
    bad = tmp_path / "bad.json"
    del document["pipelines"][0]["masking"]
    bad.write_text(json.dumps(document))

    out = io.StringIO()
    assert main(["--region", "us-west-2", "config", "push", str(bad)], out) == 1
    assert "no masking decision" in out.getvalue() and "nothing pushed" in out.getvalue()
    out = io.StringIO()
    assert main(["--region", "us-west-2", "config", "push", str(good)], out) == 0
    assert f"pushed to {OPERATOR}" in out.getvalue()
    out = io.StringIO()
    assert main(["--region", "us-west-2", "config", "validate"], out) == 0
    assert out.getvalue().startswith(f"{OPERATOR}: valid")

    # And the functions act on it: a new container reads the pushed document
    assert LocalRuntime(world.settings()).deps.config.pipelines[0].instances.count == 4
