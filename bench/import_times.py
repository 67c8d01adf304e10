"""Cold import time of each Lambda handler, against `import boto3` (the floor every handler pays).

Each sample is a fresh interpreter that times, with time.perf_counter, the import of one `services/<step>/app.py`
(or of boto3), in a Lambda-like environment: tracing enabled (POWERTOOLS_TRACE_DISABLED unset, LAMBDA_TASK_ROOT and
AWS_LAMBDA_FUNCTION_NAME set, which is how Powertools detects Lambda), dummy credentials and region, no network
(nothing is called at import time). Two modes:

- `bytecode`: the interpreter's usual .pyc cache, as when the layer ships compiled bytecode;
- `source`: every module compiled from source at import (an empty PYTHONPYCACHEPREFIX and -B, so nothing is read
  from or written to __pycache__), as when the layer ships none (/opt is read-only in Lambda, so nothing is cached
  there either).

The interpreter is a venv holding only what a function has in Lambda: the layer's requirements
(`layer/requirements.txt`) and the boto3 the dev venv has (the runtime provides boto3). The script makes it at
`.venv-lambda` with pip on first use (again when those change); `--python` names another interpreter.

Work a handler defers to its first invocation is timed too ("deferred set-up"): in the same kind of fresh
interpreter, the import, then one invocation with an empty event and no configuration (the kit's set-up: logger,
tracer and its patching, metrics; it stops at the missing configuration, before any AWS call), the import of the
step's module (`shared/steps/<step>.py`, which dispatch loads on first use) and the build of every pydantic model
of `shared` loaded by then that is not built yet. That is more models than one invocation builds, so the figure is
an upper bound of what the first invocation adds.

Prints the median milliseconds per import and the ratio to `import boto3` in the same mode (boto3 sampled in the
same rounds as each handler; its row is the median of those medians). The row "boto3 + pydantic + Powertools"
imports the libraries every function uses (`LIBRARIES`) and none of our code: the floor of a handler's import
while its models and the Powertools utilities are defined at import (its ratio: the median of the per-round
ratios). `--compare REV` also measures the code of a git revision (exported with `git archive` to a temporary
directory), in the same run.

    .venv/bin/python bench/import_times.py                      # this tree, 9 samples per import and mode
    .venv/bin/python bench/import_times.py --compare 6e21bc2    # before (that revision) and after (this tree)
    .venv/bin/python bench/import_times.py --reps 15 --mode bytecode --only copy_snapshot
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_VENV = ROOT / ".venv-lambda"
LAYER_REQUIREMENTS = ROOT / "layer" / "requirements.txt"
PROBE = (
    "import time; t = time.perf_counter(); import {module}\n"
    "{deferred}"
    "ms = (time.perf_counter() - t) * 1000\n"
    "import shared; assert shared.__file__.startswith({root!r}), shared.__file__\n"
    "print(ms)"
)
# The first invocation's set-up (see the docstring); the same code for every tree measured.
DEFERRED = (
    "import importlib, pydantic\n"
    "try:\n"
    "    {module}.handler({{}}, None)\n"
    "except Exception:\n"
    "    pass\n"
    "importlib.import_module({step_module!r})\n"
    "def subclasses(c):\n"
    "    for s in c.__subclasses__():\n"
    "        yield s\n"
    "        yield from subclasses(s)\n"
    "for m in list(subclasses(pydantic.BaseModel)):\n"
    "    if m.__module__.startswith('shared') and not m.__pydantic_complete__:\n"
    "        m.model_rebuild()\n"
)
# The libraries every function imports, with nothing of ours: what no change to this code can go under.
LIBRARIES = (
    "boto3, pydantic.main, pydantic.functional_validators, pydantic.types, aws_lambda_powertools.logging, "
    "aws_lambda_powertools.metrics, aws_lambda_powertools.utilities.idempotency"
)
KINDS = {"import": "import", "deferred": "import + deferred set-up"}


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


def lambda_venv() -> Path:
    """`.venv-lambda`'s interpreter, made (or remade) with pip when the layer's requirements or boto3's version
    changed: a function has these packages and no others (no moto, pytest, ...)."""
    requirements = [*LAYER_REQUIREMENTS.read_text().splitlines(), f"boto3=={importlib.metadata.version('boto3')}"]
    stamp = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    python = LAMBDA_VENV / "bin" / "python"
    stamp_file = LAMBDA_VENV / "requirements.sha256"
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    print(f"making {LAMBDA_VENV.name} (layer requirements and boto3) with pip ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(LAMBDA_VENV)], check=True)  # noqa: S603
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as reqs:
        reqs.write("\n".join(requirements) + "\n")
        reqs.flush()
        subprocess.run(  # noqa: S603 - pip of the venv just made, on the layer's own requirements
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", reqs.name],
            check=True,
        )
    stamp_file.write_text(stamp)
    return python


def handler_modules(only: str | None = None) -> list[str]:
    names = sorted(p.parent.name for p in (ROOT / "services").glob("*/app.py"))
    return [f"services.{name}.app" for name in names if not only or only in name]


def sample(python: Path, module: str, mode: str, root: Path, kind: str = "import") -> float:
    args = [str(python)]
    env = lambda_environment(root)
    deferred = ""
    if kind == "deferred":
        step_module = "shared.steps." + module.split(".")[1]
        deferred = DEFERRED.format(module=module, step_module=step_module)
    with tempfile.TemporaryDirectory() as empty_cache:
        if mode == "source":
            args.append("-B")
            env["PYTHONPYCACHEPREFIX"] = empty_cache
        out = subprocess.run(  # noqa: S603 - our interpreter and a fixed probe, no outside input
            [*args, "-c", PROBE.format(module=module, root=str(root), deferred=deferred)],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise SystemExit(f"import {module} failed ({mode}, {kind}, {root}):\n{out.stderr}")
    return float(out.stdout.strip().splitlines()[-1])


Column = tuple[str, Path, str, str]  # module, tree, mode, kind


def medians_ms(python: Path, columns: list[Column], reps: int) -> list[float]:
    """Median per column. The samples of all columns alternate, so a change of machine load (other processes)
    weighs on every column alike."""
    for module, root, mode, kind in columns:
        if mode == "bytecode":
            sample(python, module, mode, root, kind)  # warm-up: writes the .pyc files the following samples read
    samples: list[list[float]] = [[] for _ in columns]
    for _ in range(reps):
        for i, (module, root, mode, kind) in enumerate(columns):
            samples[i].append(sample(python, module, mode, root, kind))
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
    parser.add_argument("--python", type=Path, help="interpreter to measure with (default: .venv-lambda's)")
    parser.add_argument("--only", metavar="TEXT", help="only the handlers whose name contains TEXT")
    parser.add_argument("--no-deferred", action="store_true", help="time the import only")
    args = parser.parse_args(argv)
    python = args.python or lambda_venv()
    modes = ["bytecode", "source"] if args.mode == "both" else [args.mode]
    kinds = ["import"] if args.no_deferred else ["import", "deferred"]
    with tempfile.TemporaryDirectory() as before_dir:
        trees = {"this tree": ROOT}
        if args.compare:
            trees = {args.compare: export(args.compare, Path(before_dir)), **trees}
        columns = [(name, root, mode) for name, root in trees.items() for mode in modes]
        version = subprocess.run(  # noqa: S603
            [str(python), "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, check=True
        ).stdout.strip()
        floors: dict[str, list[float]] = {mode: [] for mode in modes}
        libraries: dict[str, list[float]] = {mode: [] for mode in modes}
        rows: dict[str, list[str]] = {kind: [] for kind in kinds}
        for module in handler_modules(args.only):
            # boto3 is sampled in the same rounds as each handler, so each ratio compares like with like.
            measured = [(module, root, mode, kind) for kind in kinds for _, root, mode in columns]
            references = [(name, ROOT, mode, "import") for name in ("boto3", LIBRARIES) for mode in modes]
            times = medians_ms(python, references + measured, args.reps)
            floor = dict(zip(modes, times[: len(modes)], strict=True))
            for mode in modes:
                floors[mode].append(floor[mode])
                libraries[mode].append(times[len(modes) + modes.index(mode)] / floor[mode])
            by_kind = iter(times[len(references) :])
            for kind in kinds:
                cells = [f"{(ms := next(by_kind)):>17.0f} ({ms / floor[mode]:.2f}x)" for _, _, mode in columns]
                rows[kind].append(f"{module:<34}" + "".join(cells))
        typical = {mode: statistics.median(floors[mode]) for mode in modes}
        with_libraries = {mode: statistics.median(libraries[mode]) for mode in modes}
        print(f"python {version} ({python}), {args.reps} samples, median ms (ratio to import boto3, same mode)")
        for kind in kinds:
            print(f"\n{KINDS[kind]}")
            print(f"{'':<34}" + "".join(f"{f'{name} {mode}':>26}" for name, _, mode in columns))
            print(f"{'boto3':<34}" + "".join(f"{typical[mode]:>17.0f} (1.00x)" for _, _, mode in columns))
            print(
                f"{'boto3 + pydantic + Powertools':<34}"
                + "".join(
                    f"{typical[mode] * with_libraries[mode]:>17.0f} ({with_libraries[mode]:.2f}x)"
                    for _, _, mode in columns
                )
            )
            print("\n".join(rows[kind]))


if __name__ == "__main__":
    main()
