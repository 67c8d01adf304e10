"""Logger, tracer and metrics, defined once. Whoever needs them imports them from here at the top, so the
composition root (shared.deps) and the Lambda kit never import each other."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "aurora-restore"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="AuroraRestore", service=SERVICE)


def count(name: str, value: float = 1) -> None:
    """An EMF count metric, flushed when the handler returns (Metrics.log_metrics)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
