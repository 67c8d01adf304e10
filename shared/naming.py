"""Deterministic names and tags. Deterministic per run, so a retried call after a crash finds its own resource
(AlreadyExists -> ours -> success) instead of creating a second copy, cluster or instance."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

TAG_PIPELINE = "aurora-restore:pipeline"  # ownership tag; IAM delete conditions key on it
TAG_RUN = "aurora-restore:run-id"
TAG_SOURCE_SNAPSHOT = "aurora-restore:source-snapshot"
TAG_MANAGED_BY = "managed-by"
MANAGED_BY = "aurora-restore"


def run_id_for(pipeline: str, trigger_key: str, at: datetime) -> str:
    """`<yyyymmddThhmm>-<10 hex>`: sortable, and the same trigger always yields the same id."""
    digest = hashlib.sha256(f"{pipeline}|{trigger_key}".encode()).hexdigest()[:10]
    return f"{at:%Y%m%dt%H%M}-{digest}"


def strip_automated_prefix(snapshot_id: str) -> str:
    return snapshot_id.removeprefix("rds:")


def copy_snapshot_id(pipeline: str, run_id: str) -> str:
    """Letters, digits, single hyphens, at most 63 chars (CopyDBClusterSnapshot target identifier rules)."""
    name = re.sub(r"-{2,}", "-", f"ar-{pipeline}-{run_id}".lower())
    return name[:63].rstrip("-")


def instance_id(target_cluster_id: str, index: int) -> str:
    return f"{target_cluster_id}-{index}"[:63]


def lock_key_for(region: str, cluster_id: str) -> str:
    return f"LOCK#{region}#{cluster_id.lower()}"


def ownership_tags(pipeline: str, run_id: str) -> dict[str, str]:
    return {TAG_PIPELINE: pipeline, TAG_RUN: run_id, TAG_MANAGED_BY: MANAGED_BY}


def _beside(target_cluster_id: str, suffix: str) -> str:
    """`<target>-<suffix>` within the RDS identifier rules (at most 63 characters, no double or trailing hyphen):
    the target's part is shortened, never the suffix, so two runs never share a name."""
    head = target_cluster_id.lower()[: 63 - len(suffix) - 1].rstrip("-")
    return re.sub(r"-{2,}", "-", f"{head}-{suffix}")


def _run_suffix(run_id: str) -> str:
    """The run id's hash part (`<yyyymmddThhmm>-<10 hex>`), which is what tells two runs of one pipeline apart."""
    return run_id.rsplit("-", 1)[-1].lower()


def staging_cluster_id(target_cluster_id: str, run_id: str) -> str:
    """Where a `swap` run restores, beside the target: `<target>-s<run hash>`."""
    return _beside(target_cluster_id, f"s{_run_suffix(run_id)}")


def retired_cluster_id(target_cluster_id: str, run_id: str) -> str:
    """The name the replaced target is kept under: `<target>-retired-<run hash>` (of the run that retired it)."""
    return _beside(target_cluster_id, f"retired-{_run_suffix(run_id)}")
