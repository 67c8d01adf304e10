#!/usr/bin/env bash
# Static security checks of the CloudFormation/SAM templates with checkov, in its own venv (.venv-checkov) so its
# pins never touch the project venv. Suppressions live next to the resource (Metadata.checkov.skip, justified).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-checkov/bin/checkov ]; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --upgrade pip >/dev/null
  .venv-checkov/bin/pip install -q checkov
fi

exec .venv-checkov/bin/checkov \
  -f template.yaml \
  -f templates/source-region-forwarder.yaml \
  --framework cloudformation \
  --skip-download \
  --quiet \
  --compact
