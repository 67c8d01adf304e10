"""aurora-restore-copy-snapshot: thin Lambda entry point; the logic lives in shared/steps/copy_snapshot.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.COPY_SNAPSHOT)
