"""Cold start: a handler imports only what every function uses, defers the tracer and the models' schemas to the
first use, and X-Ray still traces what each function calls.

Each check runs a fresh interpreter in a Lambda-like environment (LAMBDA_TASK_ROOT set, tracing enabled), since
Powertools only patches libraries for X-Ray there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import pydantic
import services.{step}.app as app
LIBRARIES = ("aws_xray_sdk", "pymysql", "requests", "sqlite3", "aws_lambda_powertools.utilities.parser")
loaded = {{m: m in sys.modules for m in LIBRARIES}}
def subclasses(c):
    for s in c.__subclasses__():
        yield s
        yield from subclasses(s)
built = sorted({{m.__name__ for m in subclasses(pydantic.BaseModel) if m.__module__.startswith("shared")
                 and m.__pydantic_complete__}})
{then}
from aws_xray_sdk.core import patcher
print(json.dumps({{"loaded": loaded, "built": built, "patched_after": sorted(patcher._PATCHED_MODULES)}}))
"""

# The first invocation in an environment without the pipeline's configuration: the kit sets up logs, tracing and
# metrics, then stops at the missing configuration (ConfigError, raised for Lambda to retry) before any AWS call.
FIRST_INVOCATION = """
from shared.errors import ConfigError
try:
    app.handler({}, None)
except ConfigError:
    pass
"""

FIRST_SQL_CONNECTOR = """
from shared.config import DatabaseConfig
from shared.deps import mysql_connector
mysql_connector(DatabaseConfig(master_secret_id="aurora-restore/test/db-credentials"))
"""


def probe(step: str, then: str = "") -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env |= {
        "LAMBDA_TASK_ROOT": str(ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "aurora-restore-test",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    out = subprocess.run(  # noqa: S603 - our interpreter and a fixed probe
        [sys.executable, "-c", PROBE.format(step=step, then=then)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_handler_import_loads_no_tracer_library_and_first_invocation_patches_only_botocore() -> None:
    # Given a Lambda environment with tracing on, When a handler is imported and then invoked once
    result = probe("copy_snapshot", then=FIRST_INVOCATION)
    # Then the import loaded neither the X-Ray SDK nor a library only to patch it
    assert result["loaded"] == {
        "aws_xray_sdk": False,
        "pymysql": False,
        "requests": False,
        "sqlite3": False,
        "aws_lambda_powertools.utilities.parser": False,
    }
    # And the first invocation patched botocore (before it could build a client), and nothing else
    assert result["patched_after"] == ["botocore"]


def test_handler_import_builds_no_model_schema_but_the_default_policies() -> None:
    # Given a Lambda environment, When a handler is imported
    result = probe("snapshot_check")
    # Then every model's schema waits for its first use (shared.base_model), except the step policies the
    # configuration module holds as default instances (every function reads them)
    assert result["built"] == ["StepPolicy"]


def test_first_sql_connector_patches_pymysql_for_xray() -> None:
    # Given setup-db-users imported with tracing on, When it builds its first SQL connector
    result = probe("setup_db_users", then=FIRST_INVOCATION + FIRST_SQL_CONNECTOR)
    # Then pymysql was not loaded at import, and its connections are traced from then on
    assert result["loaded"]["pymysql"] is False
    assert result["patched_after"] == ["botocore", "pymysql"]


def test_every_model_of_the_library_defers_its_schema() -> None:
    # Given every module of the shipped library, When its pydantic models are listed
    import importlib
    import pkgutil

    import pydantic

    import shared

    for info in pkgutil.walk_packages(shared.__path__, "shared."):
        importlib.import_module(info.name)

    def subclasses(cls: type) -> list[type]:
        return [s for c in cls.__subclasses__() for s in (c, *subclasses(c))]

    models = {m for m in subclasses(pydantic.BaseModel) if m.__module__.startswith("shared.")}
    # Then each one builds its schema on first use (a model on pydantic.BaseModel directly would be built at import)
    assert len(models) > 40
    assert sorted(m.__qualname__ for m in models if not m.model_config.get("defer_build")) == []
