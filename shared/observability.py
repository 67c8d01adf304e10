"""Logger, tracer and metrics, defined once. Whoever needs them imports them from here at the top, so the
composition root (shared.deps) and the Lambda kit never import each other."""

from __future__ import annotations

import os
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "aurora-restore"
NAMESPACE = "AuroraRestore"
# Stacks of several environments may share an account and region: every metric carries its environment, and every
# alarm of a stack reads only its own (template: the `environment` dimension of each AuroraRestore alarm).
ENVIRONMENT = os.environ.get("ENVIRONMENT", "local")

# Cold start: Tracer() patches every library the X-Ray SDK supports by default, importing each one that is installed
# (here pymysql, requests, sqlite3). Only AWS calls need tracing in every function, so only botocore is patched
# from the start; shared.deps patches pymysql when setup-db-users builds its first SQL connector.
# https://docs.powertools.aws.dev/lambda/python/latest/core/tracer/#patching-modules
TRACED_FROM_START = ("botocore",)

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
metrics.set_default_dimensions(environment=ENVIRONMENT)


@cache
def tracer() -> Tracer:
    """The tracer, created on first use. Cold-start deferral (docs/architecture.md): creating a Tracer imports the
    X-Ray SDK, even with tracing disabled, and patching botocore imports more of it. The Lambda kit asks for it at
    the start of the first invocation, before any boto3 client exists; the patch wraps botocore's client class, so
    every AWS call is still traced."""
    return Tracer(service=SERVICE, patch_modules=TRACED_FROM_START)


def trace_module(module: str) -> None:
    """X-Ray subsegments for a library's calls from now on (a no-op while tracing is disabled, as in tests)."""
    tracer().patch(modules=[module])


def count(name: str, value: float = 1) -> None:
    """An EMF count metric, flushed when the handler returns (Metrics.log_metrics)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def count_for_pipeline(name: str, pipeline: str, value: float = 1) -> None:
    """An EMF count with dimensions {service, environment, pipeline}, written at once as its own record: `metrics`
    applies its dimensions to every metric of a flush, so a per-pipeline dimension needs a metric of its own
    (https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/#single-metric)."""
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=value,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE, "environment": ENVIRONMENT, "pipeline": pipeline},
    ):
        pass


def seconds_in_state(state: str, seconds: float) -> None:
    """How long a run stayed in `state` (an EMF metric `StateSeconds`, dimensions {service, environment, state}), for
    the operations dashboard's per-step durations; its own record, as `count_for_pipeline`."""
    with single_metric(
        name="StateSeconds",
        unit=MetricUnit.Seconds,
        value=seconds,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE, "environment": ENVIRONMENT, "state": state},
    ):
        pass
