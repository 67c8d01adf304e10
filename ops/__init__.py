"""Operator commands for a deployed aurora-restore: status, one run's timeline, stalled runs, rerun."""
