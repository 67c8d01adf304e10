"""aurora-restore-sns-notification: thin Lambda entry point; the logic lives in shared/steps/sns_notification.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.SNS_NOTIFICATION)
