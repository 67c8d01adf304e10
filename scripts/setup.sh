#!/usr/bin/env bash
# Installs what `make demo` / `make test` need on a fresh machine: a project venv and a MariaDB server binary.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[dev]'

have_mariadbd() {
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]
}
if ! have_mariadbd || ! command -v openssl >/dev/null 2>&1; then
  echo "setup: installing mariadb-server and openssl from Debian packages"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q mariadb-server openssl >/dev/null
fi
echo "setup: ok ($(.venv/bin/python --version), $( (command -v mariadbd || echo /usr/sbin/mariadbd) ))"
