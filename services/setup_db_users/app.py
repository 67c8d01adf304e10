"""aurora-restore-setup-db-users: thin Lambda entry point; the logic lives in shared/steps/setup_db_users.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.SETUP_DB_USERS)
