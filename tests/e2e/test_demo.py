"""`make demo` is the product's embedded default: it must finish with exit 0 and show the timeline while it runs;
it takes your own pipelines document and the harness's faults, and `--serve` leaves a world the CLI works against."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from local_runtime import demo
from ops.cli import app
from shared.transitions import Step

pytestmark = pytest.mark.mariadb

ROOT = Path(__file__).parents[2]
LINE = re.compile(r"^(\d\d:\d\d:\d\d)Z \+(\d\d:\d\d:\d\d) +\d+\.\ds  (.*)$")  # simulated, night offset, real


def timeline(out: str) -> list[tuple[str, str]]:
    """(night offset, rest) of each streamed line, in the order printed."""
    return [(m.group(2), m.group(3)) for m in map(LINE.match, out.splitlines()) if m]


def test_demo_streams_a_whole_nightly_restore_and_a_rerun(capsys: Any) -> None:
    assert demo.main(["--rerun"]) == 0
    out = capsys.readouterr().out
    # The timeline came line by line in simulated-time order, before the summaries, as plain text (not a terminal)
    lines = timeline(out)
    offsets = [offset for offset, _ in lines]
    assert len(lines) > 20 and offsets == sorted(offsets)
    assert out.index("of pipeline nightly: SUCCEEDED") > out.index(lines[-1][1])
    assert "\x1b" not in out and "\r" not in out
    assert out.count("of pipeline nightly: SUCCEEDED\n") == 2 and "SNS notifications delivered: 2" in out
    assert "Swap window: the target name pointed at nothing for" in out  # the demo night is a `swap` night
    ran = re.search(r"^Steps that ran: (\d+) -> (.*)$", out, re.MULTILINE)
    assert ran is not None and int(ran.group(1)) == len(ran.group(2).split(", "))
    streamed = {rest.split()[0] for _, rest in lines}
    assert set(ran.group(2).split(", ")) <= streamed  # every step that ran said what it did, as it did it
    assert {Step.SNAPSHOT_CHECK, Step.SETUP_DB_USERS, Step.SNS_NOTIFICATION} <= streamed


def test_demo_with_a_bad_document_says_why_and_exits_2(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "pipelines.yaml"
    path.write_text("pipelines:\n  - name: Nightly\n    source_region: mars-1\n")
    assert demo.main(["--config", str(path)]) == demo.USAGE_ERROR
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert f"error: {path}: pipelines.0.name: pipeline name" in captured.err
    assert f"error: {path}: pipelines.0.source_region: invalid AWS region: 'mars-1'" in captured.err
    assert demo.main(["--fault", "drop:RDS-EVENT-9999"]) == demo.USAGE_ERROR
    assert "error: --fault 'drop:RDS-EVENT-9999': unknown event" in capsys.readouterr().err


def test_demo_runs_your_own_document_through_a_fault(tmp_path: Path, capsys: Any) -> None:
    # Given a YAML document of my own: one instance, a grant on a table of another database
    path = tmp_path / "mine.yaml"
    path.write_text(
        "pipelines:\n"
        "  - name: reporting\n"
        "    source_cluster_id: billing-aurora\n    source_region: us-west-2\n"
        "    target_cluster_id: reporting-copy\n    target_region: us-west-2\n"
        "    kms_key_id: alias/reporting\n    masking: not-needed\n"
        "    quarantine_security_group_ids: [sg-0feedc0ffee000001]\n"
        "    database:\n      master_secret_id: reporting/master\n"
        "      users:\n        - name: bi\n          password_secret_id: reporting/bi\n"
        "          grants: [{privileges: [SELECT], on: billing.invoices}]\n"
    )
    # When the demo runs it with the copy throttled once
    code = demo.main(["--config", str(path), "--fault", "error:CopyDBClusterSnapshot:ThrottlingException"])
    out = capsys.readouterr().out
    # Then the world had my clusters, secrets and tables, the copy was retried, and the run succeeded
    assert code == 0, out
    assert "fault: CopyDBClusterSnapshot fails with ThrottlingException" in out
    assert "appdb.customers, billing" in out  # the restored copy holds the granted database
    retried = [rest for _, rest in timeline(out) if " retry " in rest]
    assert len(retried) == 1 and "[ThrottlingException]" in retried[0]
    assert "Run " in out and "of pipeline reporting: SUCCEEDED" in out and "1 user(s) configured over TLS" in out


def test_serve_leaves_a_world_the_readme_commands_work_against() -> None:
    # Given the demo serving its world on a free port after the night
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "local_runtime.demo", "--serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )
    watchdog = threading.Timer(300, proc.kill)  # a hung demo must not hang the suite
    watchdog.start()
    try:
        printed = _until(proc, "Ctrl-C to stop.")
        port = re.search(r"served on http://127\.0\.0\.1:(\d+) ", printed)
        assert port is not None, printed
        exports = next(line for line in printed.splitlines() if line.strip().startswith("export "))
        env = dict(pair.split("=", 1) for pair in shlex.split(exports.strip())[1:])
        commands = [
            line.strip() for line in printed.splitlines() if line.strip().startswith("aurora-restore --endpoint-url ")
        ]
        # The README shows the same commands (its session was served on the default port)
        readme = (ROOT / "README.md").read_text()
        for command in commands:
            assert command.replace(f":{port.group(1)} ", ":5000 ") in readme, command
        # When each command runs against it, then it exits 0 and its JSON parses
        runner = CliRunner(env={**env, "COLUMNS": "200"})
        for command in commands:
            result = runner.invoke(app, shlex.split(command)[1:])
            assert result.exit_code == 0 and "Traceback" not in result.output, (command, result.output)
            if "-o json" in command:
                json.loads(result.output)
        # The rerun was handed to the pipeline: a second run exists (global options may follow the command)
        url = f"http://127.0.0.1:{port.group(1)}"
        result = runner.invoke(app, ["status", "-o", "json", "--endpoint-url", url, "--region", "us-west-2"])
        assert result.exit_code == 0 and len(json.loads(result.output)) == 2, result.output
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate()[0]
        watchdog.cancel()
    assert proc.returncode == 0 and rest.rstrip().endswith("stopped"), rest


def _until(proc: subprocess.Popen[str], marker: str) -> str:
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.strip() == marker:
            return "".join(lines)
    raise AssertionError(f"the demo ended before serving (exit {proc.wait()}):\n{''.join(lines)}")
