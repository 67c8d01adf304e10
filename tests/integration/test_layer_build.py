"""The layer ships bytecode for the Lambda runtime (python3.12): a cold start reads .pyc files instead of compiling
every imported module, since /opt is read-only and nothing compiled there at run time is kept.

Builds the layer as `sam build` does (layer/Makefile; it downloads the arm64 wheels from PyPI, cached by pip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE_TAG = "cpython-312"
# PEP 552: bytes 4-8 of a .pyc are its flags; 0b01 = hash-based, 0b10 = check the source. Unchecked hash: 0b01.
UNCHECKED_HASH = 0b01


def make_layer(artifacts: Path, **env: str) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None, "make is needed to build the layer"
    return subprocess.run(  # noqa: S603 - our Makefile, our temp directory
        [make, "-f", str(ROOT / "layer" / "Makefile"), "build-SharedLayer", f"ARTIFACTS_DIR={artifacts}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_layer_ships_unchecked_hash_bytecode_for_python312_next_to_every_source(tmp_path: Path) -> None:
    # Given the layer built for the Lambda runtime
    built = make_layer(tmp_path)
    assert built.returncode == 0, built.stderr
    python = tmp_path / "python"
    sources = [p for p in python.rglob("*.py") if "__pycache__" not in p.parts]
    assert python.joinpath("shared", "lambda_kit.py") in sources
    # Then every module, ours and the dependencies', has python3.12 bytecode where 3.12 looks for it
    missing = [s for s in sources if not (s.parent / "__pycache__" / f"{s.stem}.{CACHE_TAG}.pyc").exists()]
    assert not missing, missing[:5]
    # And the bytecode is never checked against the source's timestamp (the zip's file times do not matter)
    pyc = python / "shared" / "__pycache__" / f"lambda_kit.{CACHE_TAG}.pyc"
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == UNCHECKED_HASH
    # And no bytecode of another interpreter (the build machine's) is shipped
    assert {p.name.split(".")[-2] for p in python.rglob("*.pyc")} == {CACHE_TAG}


def test_layer_build_refuses_an_interpreter_other_than_the_runtime(tmp_path: Path) -> None:
    # Given a bytecode interpreter that is not python3.12
    built = make_layer(tmp_path, BYTECODE_PYTHON=str(ROOT / ".venv" / "bin" / "python"))
    # Then the build stops, says why, and builds nothing
    assert built.returncode != 0
    assert f"is not {CACHE_TAG}" in built.stderr
    assert not (tmp_path / "python").exists()
