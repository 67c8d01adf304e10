"""The architecture page stays true: every file it names exists, every layer it names is a module, and the README
links it."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def test_readme_links_the_architecture_page() -> None:
    assert "](docs/architecture.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_path_the_architecture_page_names_exists() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:shared|infra|local_runtime|ops|tests|services)/[\w/.<>-]+\.(?:py|yaml))`", text))
    paths |= set(re.findall(r"^((?:shared|services)/[\w/.<>-]+\.py)", text, flags=re.MULTILINE))
    assert paths, "the page names no file"
    missing = [p for p in sorted(paths) if "<" not in p and "*" not in p and not (ROOT / p).exists()]
    assert not missing, missing


def test_every_module_in_the_contracts_exists() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text[text.index("[tool.importlinter]") :]
    modules = set(re.findall(r'"((?:shared|local_runtime|ops|infra)(?:\.\w+)*)"', section))
    modules |= {m.strip() for layer in re.findall(r'"(shared\.\w+ \| shared\.\w+)"', section) for m in layer.split("|")}
    missing = [m for m in sorted(modules) if importlib.util.find_spec(m) is None]
    assert not missing, missing
