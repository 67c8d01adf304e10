"""Cold start: a handler imports only what every function uses, and X-Ray still traces what each one calls.

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
import services.{step}.app
from aws_xray_sdk.core import patcher
loaded = {{m: m in sys.modules for m in ("pymysql", "requests", "sqlite3", "aws_lambda_powertools.utilities.parser")}}
before = sorted(patcher._PATCHED_MODULES)
{then}
print(json.dumps({{"loaded": loaded, "patched": before, "patched_after": sorted(patcher._PATCHED_MODULES)}}))
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


def test_handler_import_patches_only_botocore_when_tracing_is_enabled() -> None:
    # Given a Lambda environment with tracing on, When a handler is imported
    result = probe("copy_snapshot")
    # Then AWS calls are traced, and no other library is imported just to be patched
    assert result["patched"] == ["botocore"]
    assert result["loaded"] == {
        "pymysql": False,
        "requests": False,
        "sqlite3": False,
        "aws_lambda_powertools.utilities.parser": False,
    }


def test_first_sql_connector_patches_pymysql_for_xray() -> None:
    # Given setup-db-users imported with tracing on, When it builds its first SQL connector
    result = probe("setup_db_users", then=FIRST_SQL_CONNECTOR)
    # Then pymysql was not loaded at import, and its connections are traced from then on
    assert result["loaded"]["pymysql"] is False
    assert result["patched_after"] == ["botocore", "pymysql"]
