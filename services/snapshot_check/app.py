"""aurora-restore-snapshot-check: thin Lambda entry point; the logic lives in shared/steps/snapshot_check.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.SNAPSHOT_CHECK)
