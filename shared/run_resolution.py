"""Which run an event belongs to. A pipeline event names its run; an RDS event names a resource, which belongs
to the active run of the configured target it is (or is an instance of), found through the target's lock. A
cluster under another name (a `swap` run's staging cluster, a retired target) belongs to the pipeline its ownership
tag names."""

from __future__ import annotations

from shared.config import PipelineConfig
from shared.inbound import PipelineTrigger, RdsTrigger, ScheduleTick
from shared.model import Run
from shared.naming import TAG_PIPELINE, lock_key_for
from shared.steps.context import Deps


def resolve_run(deps: Deps, event: RdsTrigger | PipelineTrigger | ScheduleTick) -> tuple[Run | None, str]:
    """The run, or None and why not (for the audit)."""
    if isinstance(event, PipelineTrigger) and hasattr(event.detail, "run_id"):
        run = deps.store.get_run(event.detail.run_id)
        return run, "" if run else f"run {event.detail.run_id} not found"
    if isinstance(event, RdsTrigger):
        region, _account, resource_type, resource_id = event.rds.detail.arn_parts
        cluster_id = _cluster_of(deps, region, resource_type, resource_id)
        pipeline = deps.config.by_target(region, cluster_id) if cluster_id else None
        if pipeline is None and cluster_id:
            pipeline = _owner_of(deps, region, cluster_id)
        if pipeline is None:
            return None, f"{resource_type} {resource_id} in {region} is not a configured target"
        run_id = deps.store.lock_holder(lock_key_for(pipeline.target_region, pipeline.target_cluster_id))
        if run_id is None:
            return None, f"no active run for target {pipeline.target_cluster_id}"
        run = deps.store.get_run(run_id)
        return run, "" if run else f"run {run_id} not found"
    return None, f"{event.trigger} does not belong to a run"


def _owner_of(deps: Deps, region: str, cluster_id: str) -> PipelineConfig | None:
    cluster = deps.rds_for(region).find_cluster(cluster_id)
    owner = deps.config.pipeline(cluster.tags.get(TAG_PIPELINE, "")) if cluster is not None else None
    return owner if owner is not None and owner.target_region == region else None


def _cluster_of(deps: Deps, region: str, resource_type: str, resource_id: str) -> str | None:
    if resource_type == "cluster":
        return resource_id
    if resource_type == "db":
        instance = deps.rds_for(region).find_instance(resource_id)
        if instance is not None and instance.cluster_id:
            return instance.cluster_id
        # Deleted instances cannot be described: fall back to the `<target>-<n>` naming of our instances
        # (shared.naming.instance_id), exactly, so `staging-eu-1` never resolves to a target named `staging`.
        for pipeline in deps.config.pipelines:
            if pipeline.target_region == region and _is_instance_of(resource_id, pipeline.target_cluster_id):
                return pipeline.target_cluster_id
    return None


def _is_instance_of(instance_id: str, cluster_id: str) -> bool:
    prefix = cluster_id.lower() + "-"
    return instance_id.lower().startswith(prefix) and instance_id[len(prefix) :].isdigit()
