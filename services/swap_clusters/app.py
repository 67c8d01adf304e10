"""aurora-restore-swap-clusters: thin Lambda entry point; the logic lives in shared/steps/swap_clusters.py."""

from shared.lambda_kit import step_handler
from shared.transitions import Step

handler = step_handler(Step.SWAP_CLUSTERS)
