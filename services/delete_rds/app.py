"""aurora-restore-delete-rds: thin Lambda entry point; the logic lives in shared/steps/delete_rds.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.DELETE_RDS)
