"""Integration fixtures: a moto world built from template.yaml, and deps from the local runtime."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from local_runtime.runtime import LocalRuntime, rds_lifecycle
from local_runtime.world import World, default_config

os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws(), rds_lifecycle():
        # The handler walks here step through today's delete-then-restore cut-over; `swap` nights are end to end.
        yield World(default_config(cutover="replace")).build()


@pytest.fixture
def swap_world() -> Iterator[World]:
    """The demo world as shipped: a `swap` pipeline."""
    with mock_aws(), rds_lifecycle():
        yield World(default_config()).build()


@pytest.fixture
def runtime(world: World) -> LocalRuntime:
    return LocalRuntime(world.settings())


@pytest.fixture
def deps(runtime: LocalRuntime) -> Any:
    return runtime.deps
