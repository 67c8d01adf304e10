#!/usr/bin/env bash
# Installs what `make demo` / `make test` need on a fresh machine: a project venv and a MariaDB server binary.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev,cli]'

bash scripts/ensure_system_packages.sh
echo "setup: ok ($(.venv/bin/python --version), $( (command -v mariadbd || echo /usr/sbin/mariadbd) ))"
