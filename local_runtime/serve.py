"""`make demo ARGS=--serve`: after the night, the demo's world stays up for the operator CLI to try against.

moto's threaded server (`moto.server.ThreadedMotoServer`) serves the same global backends the in-process mock
writes to (checked with moto 5.2.5: a queue made in `mock_aws` is listed through the server and vice versa), so the
night's tables, bus, snapshots and clusters are what `aurora-restore --endpoint-url ...` reads. The pipeline keeps
working: a `RestoreRequested` the CLI publishes on the bus reaches an SQS queue through an EventBridge rule (moto
delivers to SQS targets), and each one is handed to the local runtime, which runs the restore on its simulated clock
while the CLI waits for the answer. MariaDB stays up as well."""

from __future__ import annotations

import json
import logging
import shlex
import signal
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TextIO

from moto.server import ThreadedMotoServer

from local_runtime.runtime import LocalRuntime
from local_runtime.world import BUS_NAME, World
from shared.events import PIPELINE_SOURCE
from shared.transitions import DetailType

CAPTURE = "demo-restore-requests"  # the rule and queue that hand operators' requests to the runtime
POLL_SECONDS = 0.5
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class ServedWorld:
    def __init__(
        self, world: World, runtime: LocalRuntime, run_until_idle: Callable[[], bool], port: int, out: TextIO
    ) -> None:
        """`run_until_idle` runs the pipeline after requests were handed to the runtime, until nothing is left."""
        self.world, self.runtime, self.port, self.out = world, runtime, port, out
        self._run_until_idle = run_until_idle
        self._queue_url = ""

    def serve(self) -> None:
        """Serve until Ctrl-C (or SIGTERM), forwarding operators' requests to the pipeline."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per CLI request
        # The port was found free before the night (local_runtime.demo): the server binds it in its own thread,
        # where a failure would not reach this one.
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        server.start()
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            host, port = server.get_host_and_port()
            self._capture_requests()
            self.out.write(self.instructions(f"http://{host}:{port}"))
            self.out.flush()
            while True:
                self.forward_requests()
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            self.out.write("stopped\n")
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.stop()

    def _capture_requests(self) -> None:
        sqs, events = self.world.client("sqs"), self.world.client("events")
        self._queue_url = sqs.create_queue(QueueName=CAPTURE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": [PIPELINE_SOURCE], "detail-type": [DetailType.RESTORE_REQUESTED.value]}
        events.put_rule(Name=CAPTURE, EventBusName=BUS_NAME, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=CAPTURE, EventBusName=BUS_NAME, Targets=[{"Id": "runtime", "Arn": arn}])

    def forward_requests(self) -> int:
        """Hand the requests published since the last look to the runtime and run the pipeline until it is idle."""
        sqs = self.world.client("sqs")
        messages = sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            envelope = json.loads(message["Body"])
            self.runtime.put_pipeline_event(envelope["detail-type"], envelope["detail"])
            sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
        if messages:
            self._run_until_idle()
        return len(messages)

    def environment(self) -> dict[str, str]:
        """What the CLI needs besides the endpoint: dummy credentials and the stack's names (there is no stack to
        read them from: the demo builds the resources, not a CloudFormation stack)."""
        return {
            **DUMMY_CREDENTIALS,
            "ENVIRONMENT": "dev",
            "STATE_TABLE_NAME": self.world.tables["StateTable"]["TableName"],
            "AUDIT_TABLE_NAME": self.world.tables["AuditTable"]["TableName"],
            "EVENT_BUS_NAME": BUS_NAME,
        }

    def commands(self, endpoint: str) -> list[str]:
        runs = self.runtime.deps.store.recent_runs(None, 1)
        run_id = runs[0].run_id if runs else "RUN_ID"
        pipeline = self.world.config.pipelines[0].name
        base = f"aurora-restore --endpoint-url {endpoint} --region {self.world.target_region}"
        return [
            f"{base} status",
            f"{base} show {run_id}",
            f"{base} audit",
            f"{base} stalled",
            f"{base} config show",
            f"{base} rerun --pipeline {pipeline} --wait",
            f"{base} status -o json",
        ]

    def instructions(self, endpoint: str) -> str:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.environment().items())
        lines = [
            "",
            f"The emulated AWS is served on {endpoint} (moto); MariaDB stays up. In another shell:",
            "",
            f"  export {exports}",
            *(f"  {command}" for command in self.commands(endpoint)),
            "",
            "A rerun is handed to the pipeline, which restores again on the simulated clock (its lines appear here).",
            "Ctrl-C to stop.",
            "",
        ]
        return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> Any:
    raise KeyboardInterrupt  # SIGTERM stops the demo as Ctrl-C does: MariaDB and the server are shut down
