"""Cold import time of each Lambda handler, against `import boto3` (the floor every handler pays).

Each sample is a fresh interpreter that times, with time.perf_counter, the import of one `services/<step>/app.py`
(or of boto3), in a Lambda-like environment: tracing enabled (POWERTOOLS_TRACE_DISABLED unset, LAMBDA_TASK_ROOT and
AWS_LAMBDA_FUNCTION_NAME set, which is how Powertools detects Lambda), dummy credentials and region, no network
(nothing is called at import time). Two modes:

- `bytecode`: the interpreter's usual .pyc cache, as when the layer ships compiled bytecode;
- `source`: every module compiled from source at import (an empty PYTHONPYCACHEPREFIX and -B, so nothing is read
  from or written to __pycache__), as when the layer ships none (/opt is read-only in Lambda, so nothing is cached
  there either).

Prints the median milliseconds per import and the ratio to `import boto3` in the same mode.

    .venv/bin/python bench/import_times.py              # 9 samples per import and mode
    .venv/bin/python bench/import_times.py --reps 15 --mode bytecode
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"


def lambda_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": "aurora-restore-bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "POWERTOOLS_SERVICE_NAME": "aurora-restore",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def handler_modules() -> list[str]:
    return sorted(f"services.{p.parent.name}.app" for p in (ROOT / "services").glob("*/app.py"))


def sample(module: str, mode: str, env: dict[str, str]) -> float:
    args = [sys.executable]
    run_env = dict(env)
    with tempfile.TemporaryDirectory() as empty_cache:
        if mode == "source":
            args.append("-B")
            run_env["PYTHONPYCACHEPREFIX"] = empty_cache
        out = subprocess.run(  # noqa: S603 - our interpreter and a fixed probe, no outside input
            [*args, "-c", PROBE.format(module=module)],
            env=run_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise SystemExit(f"import {module} failed ({mode}):\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def median_ms(module: str, mode: str, reps: int, env: dict[str, str]) -> float:
    if mode == "bytecode":
        sample(module, mode, env)  # warm-up: writes the .pyc files the following samples read
    return statistics.median(sample(module, mode, env) for _ in range(reps))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--mode", choices=["bytecode", "source", "both"], default="both")
    args = parser.parse_args(argv)
    modes = ["bytecode", "source"] if args.mode == "both" else [args.mode]
    env = lambda_environment()
    print(f"python {sys.version.split()[0]}, {args.reps} samples, median ms (ratio to import boto3)")
    print(f"{'import':<42}" + "".join(f"{m:>22}" for m in modes))
    rows = ["boto3", *handler_modules()]
    floor = {m: median_ms("boto3", m, args.reps, env) for m in modes}
    for module in rows:
        cells = []
        for m in modes:
            ms = floor[m] if module == "boto3" else median_ms(module, m, args.reps, env)
            cells.append(f"{ms:>13.0f} ({ms / floor[m]:.2f}x)")
        print(f"{module:<42}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
