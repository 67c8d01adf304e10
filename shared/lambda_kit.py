"""Powertools wiring shared by every handler: structured logs with the EventBridge id as correlation id, EMF
metrics, X-Ray tracing, and a handler factory so each service's app.py stays one line of wiring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.deps import default_deps, fallback_store
from shared.dispatch import handle
from shared.errors import ConfigError, PipelineError
from shared.observability import count, logger, metrics, tracer
from shared.outside_run import REJECTED, record_outside_run
from shared.steps.context import Deps
from shared.transitions import Step

Handler = Callable[..., dict[str, Any]]


def audit_config_error(step: Step, error: ConfigError) -> None:
    """Best effort: the tables may be reachable even when the pipeline configuration is not valid."""
    try:
        store = fallback_store()
        if store is None:
            raise KeyError("AUDIT_TABLE_NAME")
        record_outside_run(
            store,
            logger,
            datetime.now(UTC),
            step=step.value,
            kind="rejected",
            message=error.message,
            subject=REJECTED,
            code=error.code,
        )
    except (KeyError, PipelineError) as exc:
        logger.warning("could not audit the configuration error", extra={"reason": str(exc)})


class _InvocationContext:
    """Stands in for the Lambda context when a harness invokes a handler without one (Lambda always passes one)."""

    function_name = "aurora-restore-local"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:aurora-restore-local"
    memory_limit_in_mb = 256
    aws_request_id = "local"
    log_group_name = "local"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def step_handler(step: Step) -> Handler:
    """`handler(event, context, deps=None)`: tests and the local runtime pass `deps`; Lambda builds them once."""

    def instrumented(event: dict[str, Any], context: LambdaContext, deps: Deps | None = None) -> dict[str, Any]:
        logger.append_keys(step=step.value)
        try:
            resolved = deps or default_deps()
        except ConfigError as exc:
            # Raise after recording: Lambda retries twice, then the event waits in the on-failure queue (alarmed)
            # to be replayed once the configuration is fixed. Nothing is lost, nothing acts on a bad config.
            logger.error("invalid configuration", extra={"reason": exc.message})
            count("ConfigErrors")
            audit_config_error(step, exc)
            raise
        if resolved.idempotency is not None:
            resolved.idempotency[1].register_lambda_context(context)
        # Per invocation (the container's Deps are shared): a step can stop before Lambda's timeout kills it.
        resolved = replace(resolved, time_left=lambda: context.get_remaining_time_in_millis() / 1000)
        return handle(step, event, resolved).model_dump()

    @cache
    def decorated() -> Handler:
        """Logs, tracing and metrics around `instrumented`, put on at the first invocation: the tracer is a cold-start
        deferral (shared.observability.tracer). Outermost first: logger, tracer, metrics."""
        with_metrics = metrics.log_metrics(instrumented, capture_cold_start_metric=True)
        traced = tracer().capture_lambda_handler(with_metrics, capture_response=False)
        return logger.inject_lambda_context(
            traced, correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True
        )

    def handler(event: Any, context: Any = None, deps: Deps | None = None) -> dict[str, Any]:
        return decorated()(event, context if context is not None else _InvocationContext(), deps=deps)

    handler.__name__ = f"{step.name.lower()}_handler"
    return handler
