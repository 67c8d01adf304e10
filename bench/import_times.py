"""Cold import time of each Lambda handler, against `import boto3` (the floor every handler pays).

Each sample is a fresh interpreter that times, with time.perf_counter, the import of one `services/<step>/app.py`
(or of boto3), in a Lambda-like environment: tracing enabled (POWERTOOLS_TRACE_DISABLED unset, LAMBDA_TASK_ROOT and
AWS_LAMBDA_FUNCTION_NAME set, which is how Powertools detects Lambda), dummy credentials and region, no network
(nothing is called at import time). Two modes:

- `bytecode`: the interpreter's usual .pyc cache, as when the layer ships compiled bytecode;
- `source`: every module compiled from source at import (an empty PYTHONPYCACHEPREFIX and -B, so nothing is read
  from or written to __pycache__), as when the layer ships none (/opt is read-only in Lambda, so nothing is cached
  there either).

Prints the median milliseconds per import and the ratio to `import boto3` in the same mode (boto3 sampled in the
same rounds as each handler; its row is the median of those medians). `--compare REV` also
measures the code of a git revision (exported with `git archive` to a temporary directory), in the same run.

    .venv/bin/python bench/import_times.py                      # this tree, 9 samples per import and mode
    .venv/bin/python bench/import_times.py --compare 6e21bc2    # before (that revision) and after (this tree)
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
PROBE = (
    "import time; t = time.perf_counter(); import {module}; ms = (time.perf_counter() - t) * 1000\n"
    "import shared; assert shared.__file__.startswith({root!r}), shared.__file__\n"
    "print(ms)"
)


def lambda_environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(root),
            "AWS_LAMBDA_FUNCTION_NAME": "aurora-restore-bench",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
            "POWERTOOLS_SERVICE_NAME": "aurora-restore",
            "PYTHONPATH": str(root),
        }
    )
    return env


def handler_modules() -> list[str]:
    return sorted(f"services.{p.parent.name}.app" for p in (ROOT / "services").glob("*/app.py"))


def sample(module: str, mode: str, root: Path) -> float:
    args = [sys.executable]
    env = lambda_environment(root)
    with tempfile.TemporaryDirectory() as empty_cache:
        if mode == "source":
            args.append("-B")
            env["PYTHONPYCACHEPREFIX"] = empty_cache
        out = subprocess.run(  # noqa: S603 - our interpreter and a fixed probe, no outside input
            [*args, "-c", PROBE.format(module=module, root=str(root))],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise SystemExit(f"import {module} failed ({mode}, {root}):\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


def medians_ms(columns: list[tuple[str, Path, str]], reps: int) -> list[float]:
    """Median per (module, tree, mode) column. The samples of all columns alternate, so a change of machine load
    (other processes) weighs on every column alike."""
    for module, root, mode in columns:
        if mode == "bytecode":
            sample(module, mode, root)  # warm-up: writes the .pyc files the following samples read
    samples: list[list[float]] = [[] for _ in columns]
    for _ in range(reps):
        for i, (module, root, mode) in enumerate(columns):
            samples[i].append(sample(module, mode, root))
    return [statistics.median(s) for s in samples]


def export(rev: str, into: Path) -> Path:
    archive = subprocess.run(  # noqa: S603 - git, on a revision the operator named
        ["git", "-C", str(ROOT), "archive", rev, "shared", "services"],  # noqa: S607 - git from PATH
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)  # noqa: S603, S607
    return into


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--mode", choices=["bytecode", "source", "both"], default="both")
    parser.add_argument("--compare", metavar="REV", help="also measure this git revision (before)")
    args = parser.parse_args(argv)
    modes = ["bytecode", "source"] if args.mode == "both" else [args.mode]
    with tempfile.TemporaryDirectory() as before_dir:
        trees = {"this tree": ROOT}
        if args.compare:
            trees = {args.compare: export(args.compare, Path(before_dir)), **trees}
        columns = [(name, root, mode) for name, root in trees.items() for mode in modes]
        print(f"python {sys.version.split()[0]}, {args.reps} samples, median ms (ratio to import boto3, same mode)")
        print(f"{'import':<34}" + "".join(f"{f'{name} {mode}':>26}" for name, _, mode in columns))
        floors: dict[str, list[float]] = {mode: [] for mode in modes}
        rows = []
        for module in handler_modules():
            # boto3 is sampled in the same rounds as each handler, so each ratio compares like with like.
            times = medians_ms(
                [("boto3", ROOT, mode) for mode in modes] + [(module, root, mode) for _, root, mode in columns],
                args.reps,
            )
            floor = dict(zip(modes, times[: len(modes)], strict=True))
            for mode in modes:
                floors[mode].append(floor[mode])
            cells = [
                f"{ms:>17.0f} ({ms / floor[mode]:.2f}x)"
                for ms, (_, _, mode) in zip(times[len(modes) :], columns, strict=True)
            ]
            rows.append(f"{module:<34}" + "".join(cells))
        typical = {mode: statistics.median(floors[mode]) for mode in modes}
        print(f"{'boto3':<34}" + "".join(f"{typical[mode]:>17.0f} (1.00x)" for _, _, mode in columns))
        print("\n".join(rows))


if __name__ == "__main__":
    main()
