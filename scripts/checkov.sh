#!/usr/bin/env bash
# Static security checks of the CloudFormation/SAM templates with checkov, in its own venv (.venv-checkov) so its
# pins never touch the project venv. Checks skipped for the whole stack are in .checkov.yaml, each with its reason;
# a suppression for one resource lives next to it (Metadata.checkov.skip, justified).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-checkov/bin/checkov ]; then
  python3 -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --upgrade pip >/dev/null
  .venv-checkov/bin/pip install -q checkov
fi

exec .venv-checkov/bin/checkov \
  --config-file .checkov.yaml \
  -f template.yaml \
  -f templates/source-region-forwarder.yaml \
  --framework cloudformation \
  --skip-download \
  --quiet \
  --compact
