"""aurora-restore-check-restore-status: thin Lambda entry point; logic in shared/steps/check_restore_status.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.CHECK_RESTORE_STATUS)
