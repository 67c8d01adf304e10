"""aurora-restore-restore-snapshot: thin Lambda entry point; the logic lives in shared/steps/restore_snapshot.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.RESTORE_SNAPSHOT)
