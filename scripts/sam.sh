#!/usr/bin/env bash
# Runs the AWS SAM CLI from its own venv (.venv-sam): it pins boto3/pydantic versions that must not leak into the
# project venv. Usage: scripts/sam.sh build | validate --lint | deploy --guided | ...
#
# `sam build` needs a python3.12 interpreter on PATH (the functions' runtime). With pyenv, PYENV_VERSION is set
# to "<current>:<newest 3.12>" unless already set, e.g. PYENV_VERSION=3.11.7:3.12.1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-sam/bin/sam ]; then
  echo "sam.sh: creating .venv-sam with aws-sam-cli" >&2
  python3 -m venv .venv-sam
  .venv-sam/bin/pip install -q --upgrade pip >/dev/null
  .venv-sam/bin/pip install -q aws-sam-cli
fi

if [ -z "${PYENV_VERSION:-}" ] && command -v pyenv >/dev/null 2>&1; then
  py312="$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V | tail -n 1 || true)"
  current="$(pyenv version-name 2>/dev/null | cut -d: -f1 || true)"
  if [ -n "$py312" ]; then
    if [ -n "$current" ] && [ "$current" != "$py312" ]; then
      export PYENV_VERSION="$current:$py312"
    else
      export PYENV_VERSION="$py312"
    fi
  fi
fi
if [ "${1:-}" = "build" ] && ! command -v python3.12 >/dev/null 2>&1; then
  echo "sam.sh: warning: no python3.12 on PATH; 'sam build' of the python3.12 functions will fail" >&2
fi

export SAM_CLI_TELEMETRY="${SAM_CLI_TELEMETRY:-0}"
exec .venv-sam/bin/sam "$@"
