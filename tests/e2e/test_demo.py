"""`make demo` is the product's embedded default: it must finish with exit 0 and a complete timeline."""

from __future__ import annotations

from typing import Any

import pytest

from local_runtime import demo

pytestmark = pytest.mark.mariadb


def test_demo_runs_a_whole_nightly_restore_and_a_rerun(capsys: Any) -> None:
    assert demo.main(["--rerun"]) == 0
    out = capsys.readouterr().out
    assert out.count("SUCCEEDED\n") >= 2 and "SNS notifications delivered: 2" in out
    assert "Steps that ran: 11" in out  # a `swap` night: every step and the orchestrator check
    assert "Swap window: the target name pointed at nothing for" in out
    for step in (
        "snapshot-check",
        "copy-snapshot",
        "check-copy-status",
        "delete-rds",
        "restore-snapshot",
        "check-restore-status",
        "setup-db-users",
        "swap-clusters",
        "archive-snapshot",
        "sns-notification",
    ):
        assert f"  {step} " in out, step
