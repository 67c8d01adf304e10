"""aurora-restore-check-copy-status: thin Lambda entry point; the logic lives in shared/steps/check_copy_status.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.CHECK_COPY_STATUS)
