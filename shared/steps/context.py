"""What every step gets: configuration, ports and a clock. Built once per container (see shared.deps)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.clock import Clock
from shared.config import AppConfig, DatabaseConfig, PipelineConfig
from shared.errors import ConfigError
from shared.ports import (
    EventPublisher,
    EvidenceStore,
    Notifier,
    PreflightProbe,
    RdsGateway,
    SecretsGateway,
    SqlConnector,
    StateStore,
    WakeUpScheduler,
)
from shared.wakeups import NoWakeUps


@dataclass
class Deps:
    config: AppConfig
    store: StateStore
    bus: EventPublisher
    rds_for: Callable[[str], RdsGateway]
    secrets_for: Callable[[str], SecretsGateway]
    notifier: Notifier
    sql_for: Callable[[DatabaseConfig], SqlConnector]  # TLS and timeouts are per pipeline
    clock: Clock
    log: Any = field(default_factory=lambda: logging.getLogger("aurora_restore"))
    idempotency: Any = None  # a Powertools persistence layer, or None to rely on state-store conditions only
    metric: Callable[[str, float], None] = field(default=lambda name, value: None)
    # A count with a `pipeline` dimension (the per-pipeline "no successful run" alarm reads RunsSucceeded by it).
    pipeline_metric: Callable[[str, str, float], None] = field(default=lambda name, pipeline, value: None)
    # How long a run stayed in a state, in seconds, when it leaves it (the dashboard's per-step durations).
    state_metric: Callable[[str, float], None] = field(default=lambda state, seconds: None)
    # This invocation's remaining run time in seconds (the Lambda kit sets it from the Lambda context, per
    # invocation; outside Lambda there is no deadline) and a monotonic clock to measure work with.
    time_left: Callable[[], float] = field(default=lambda: math.inf)
    monotonic: Callable[[], float] = field(default=time.monotonic)
    # What the preflight at a run's opening observes besides RDS (KMS, network, quotas); None: those checks skipped.
    probe_for: Callable[[str], PreflightProbe] | None = None
    # Where the notification step writes each finished run's evidence; None: not kept.
    evidence: EvidenceStore | None = None
    # Exact wake-ups (EventBridge Scheduler); without them the periodic check alone finds due runs.
    wakeups: WakeUpScheduler = field(default_factory=NoWakeUps)

    def pipeline(self, name: str) -> PipelineConfig:
        pipeline = self.config.pipeline(name)
        if pipeline is None:
            raise ConfigError(f"unknown pipeline {name!r}; configured: {[p.name for p in self.config.pipelines]}")
        return pipeline
