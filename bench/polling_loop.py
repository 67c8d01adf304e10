"""The baseline: what a Step Functions version of the pipeline does, a Wait -> Describe -> Choice loop per wait,
polling every `poll` seconds, simulated on the same clock and the same RDS emulator (moto + `RdsEmulator`, the same
`Durations` and copy progress) as the pipeline.

Each task state is one Lambda invocation: an action (copy, delete, restore, password, users, archive, notify)
"moves the run", a describe in a loop "looks". Its AWS requests are counted like the pipeline's, through the same
client hooks. Step Functions' own state transitions are not AWS requests of the function and are not counted (they
are billed: about three per poll). The database work is not run (only its AWS requests are made): the loop is
measured for its waits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bench.nights import WAITS, Night, RunFigures, pipeline_doc
from local_runtime.aws_hooks import HookedClientFactory
from local_runtime.clock import SimClock
from local_runtime.envelopes import RdsNotice
from local_runtime.event_queue import ACTION, EventQueue
from local_runtime.faults import InjectedError
from local_runtime.rds_emulator import RdsEmulator, steady_progress
from local_runtime.world import World
from shared.naming import instance_id


class LoopWorld:
    """The loop's clock, agenda and RDS emulator; satisfies `rds_emulator.Timeline` and `aws_hooks.CallObserver`."""

    def __init__(self, world: World, night: Night) -> None:
        self.clock = SimClock(datetime(2026, 11, 25, 3, 0).astimezone())
        self.queue = EventQueue()
        self.durations = night.durations()
        self.emulator = RdsEmulator(
            self,
            self.durations,
            account=world.account,
            database_for=lambda _cluster: None,
            copy_progress=steady_progress(),
        )
        self.happened: list[tuple[datetime, str, str]] = []
        self.calls: Counter[str] = Counter()
        self.clients = HookedClientFactory(self)

    # Timeline
    def later(self, seconds: float, action: Callable[[], None]) -> None:
        self.queue.push(self.clock.now() + timedelta(seconds=seconds), ACTION, action)

    def emit_rds_event(self, notice: RdsNotice) -> None:
        self.happened.append((self.clock.now(), notice.event_id, notice.source_id))

    # CallObserver
    def injected_error(self, operation: str) -> InjectedError | None:
        return None

    def emulated_rds_response(self, region: str, operation: str, params: dict[str, Any]) -> Any:
        return self.emulator.respond(region, operation, params)

    def before_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None:
        self.emulator.before(region, operation, params)

    def after_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None:
        self.emulator.after(region, operation, params)

    def after_put_events(self, region: str, entries: list[dict[str, Any]]) -> None:
        return None

    def after_create_schedule(self, region: str, params: dict[str, Any]) -> None:
        return None

    def count_call(self, service: str, operation: str) -> None:
        self.calls[service] += 1

    def arm_crash_after(self, operation: str) -> None:
        return None

    def run(self, done: Callable[[], bool]) -> None:
        while not done():
            item = self.queue.pop()
            self.clock.set(item.at)
            item.payload()


class PollingLoop:
    """One pipeline's night as Wait -> Describe -> Choice loops, every `poll` seconds."""

    def __init__(self, loop: LoopWorld, world: World, poll: int) -> None:
        self.loop, self.poll = loop, poll
        self.pipeline = world.config.pipelines[0]
        self.rds = loop.clients.client("rds", self.pipeline.target_region)
        self.secrets = loop.clients.client("secretsmanager", self.pipeline.target_region)
        self.sns = loop.clients.client("sns", self.pipeline.target_region)
        self.topic = world.topic_arn
        self.cluster = self.pipeline.target_cluster_id
        self.members = [instance_id(self.cluster, i) for i in range(1, self.pipeline.instances.count + 1)]
        self.copy_id = f"ar-{self.pipeline.name}-loop"
        self.moved = self.looked = 0
        self.noticed: dict[str, datetime] = {}
        self.copy_started: datetime | None = None
        self.done = False

    # Task states
    def task(self, action: Callable[[], None]) -> None:
        self.moved += 1
        action()

    def wait_until(self, observed: Callable[[], bool], wait: str, then: Callable[[], None]) -> None:
        def poll() -> None:
            self.looked += 1
            if observed():
                self.noticed[wait] = self.loop.clock.now()
                then()
            else:
                self.loop.later(self.poll, poll)

        self.loop.later(self.poll, poll)

    # Describes
    def _exists(self, call: Callable[[], Any]) -> bool:
        try:
            call()
        except ClientError:
            return False
        return True

    def copy_available(self) -> bool:
        found = self.rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=self.copy_id)["DBClusterSnapshots"]
        return bool(found) and found[0]["Status"] == "available"

    def instances_gone(self) -> bool:
        filters = [{"Name": "db-cluster-id", "Values": [self.cluster]}]
        return not self.rds.describe_db_instances(Filters=filters)["DBInstances"]

    def cluster_gone(self) -> bool:
        return not self._exists(lambda: self.rds.describe_db_clusters(DBClusterIdentifier=self.cluster))

    def cluster_status(self) -> str:
        return str(self.rds.describe_db_clusters(DBClusterIdentifier=self.cluster)["DBClusters"][0]["Status"])

    def restored(self) -> bool:
        filters = [{"Name": "db-cluster-id", "Values": [self.cluster]}]
        instances = self.rds.describe_db_instances(Filters=filters)["DBInstances"]
        return self.cluster_status() == "available" and all(i["DBInstanceStatus"] == "available" for i in instances)

    # The night
    def start(self) -> None:
        def copy() -> None:
            source = self.rds.describe_db_cluster_snapshots(
                DBClusterIdentifier=self.pipeline.source_cluster_id, SnapshotType="automated"
            )["DBClusterSnapshots"][-1]
            self.copy_started = self.loop.clock.now()
            self.rds.copy_db_cluster_snapshot(
                SourceDBClusterSnapshotIdentifier=source["DBClusterSnapshotArn"],
                TargetDBClusterSnapshotIdentifier=self.copy_id,
            )

        self.task(copy)
        self.wait_until(self.copy_available, "copy", self.delete_instances)

    def delete_instances(self) -> None:
        def delete() -> None:
            self.rds.describe_db_clusters(DBClusterIdentifier=self.cluster)
            for member in self.members:
                self.rds.delete_db_instance(DBInstanceIdentifier=member, SkipFinalSnapshot=True)

        self.task(delete)
        self.wait_until(self.instances_gone, "instances deleted", self.delete_cluster)

    def delete_cluster(self) -> None:
        self.task(lambda: self.rds.delete_db_cluster(DBClusterIdentifier=self.cluster, SkipFinalSnapshot=True))
        self.wait_until(self.cluster_gone, "cluster deleted", self.restore)

    def restore(self) -> None:
        def restore() -> None:
            self.rds.restore_db_cluster_from_snapshot(
                DBClusterIdentifier=self.cluster, SnapshotIdentifier=self.copy_id, Engine="aurora-mysql"
            )
            for member in self.members:
                self.rds.create_db_instance(
                    DBInstanceIdentifier=member,
                    DBClusterIdentifier=self.cluster,
                    Engine="aurora-mysql",
                    DBInstanceClass=self.pipeline.instances.instance_class,
                )

        self.task(restore)
        self.wait_until(self.restored, "restore", self.password)

    def password(self) -> None:
        def rotate() -> None:
            secret = self.pipeline.database.master_secret_id
            self.secrets.put_secret_value(SecretId=secret, SecretString='{"username": "admin", "password": "x"}')
            self.rds.modify_db_cluster(
                DBClusterIdentifier=self.cluster, MasterUserPassword="Loop-password-0123", ApplyImmediately=True
            )

        self.task(rotate)
        self.wait_until(lambda: self.cluster_status() == "available", "master password", self.finish)

    def finish(self) -> None:
        def users() -> None:  # the master secret and each user's, and the endpoint (the SQL itself is not run)
            self.rds.describe_db_clusters(DBClusterIdentifier=self.cluster)
            self.secrets.get_secret_value(SecretId=self.pipeline.database.master_secret_id)
            for user in self.pipeline.database.users:
                self.secrets.get_secret_value(SecretId=user.password_secret_id)

        def archive() -> None:
            self.rds.describe_db_cluster_snapshots(SnapshotType="manual")

        def notify() -> None:
            self.sns.publish(TopicArn=self.topic, Message="loop night done")
            self.done = True

        for action in (users, archive, notify):
            self.task(action)


def run_loop_night(night: Night, poll: int) -> RunFigures:
    """One pipeline's night under the polling loop; inside `mock_aws()` and `rds_lifecycle()`."""
    world = World({"pipelines": [pipeline_doc(0)]}).build(old_copies=0)
    loop = LoopWorld(world, night)
    pipeline = world.config.pipelines[0]
    world.nightly_snapshot(_NoDelivery(loop.clock, loop.emulator), pipeline.name, deliver=False)
    night_loop = PollingLoop(loop, world, poll)
    night_loop.start()
    loop.run(lambda: night_loop.done)
    figures = RunFigures(runs=1, succeeded=1, moved=night_loop.moved, looked=night_loop.looked)
    figures.calls = Counter(loop.calls)
    assert night_loop.copy_started is not None
    cluster, members = night_loop.cluster, set(night_loop.members)

    def happened(event_id: str, resources: set[str]) -> datetime:
        return max(at for at, event, source in loop.happened if event == event_id and source in resources)

    ends = {
        "copy": night_loop.copy_started + timedelta(seconds=loop.durations.copy),
        "instances deleted": happened("RDS-EVENT-0003", members),
        "cluster deleted": happened("RDS-EVENT-0171", {cluster}),
        "restore": max(happened("RDS-EVENT-0170", {cluster}), happened("RDS-EVENT-0005", members)),
        "master password": happened("RDS-EVENT-0016", {cluster}),
    }
    for wait in WAITS:
        figures.delays[wait].append((night_loop.noticed[wait] - ends[wait]).total_seconds())
    figures.copy_looks.append(0)
    return figures


class _NoDelivery:
    """What `World.nightly_snapshot` needs of a runtime when the trigger is not delivered (the loop starts itself)."""

    def __init__(self, clock: SimClock, emulator: RdsEmulator) -> None:
        self.clock, self._emulator = clock, emulator

    def rds_backend(self, region: str) -> Any:
        return self._emulator.backend(region)
