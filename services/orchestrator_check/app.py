"""aurora-restore-orchestrator-check: thin Lambda entry point; the logic lives in shared/steps/orchestrator_check.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.ORCHESTRATOR_CHECK)
