#!/usr/bin/env bash
# Installs the system packages the tests and the demo need (a MariaDB server binary, openssl) when missing.
# Cheap when everything is there, so `make demo` / `make test` run it every time.
set -euo pipefail

have_mariadbd() {
  command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || [ -x /usr/sbin/mysqld ]
}
if have_mariadbd && command -v openssl >/dev/null 2>&1; then
  exit 0
fi
echo "setup: installing mariadb-server and openssl from Debian packages"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q mariadb-server openssl >/dev/null
