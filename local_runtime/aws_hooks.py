"""Hooks on the handlers' boto3 clients and state store: the seam where the local runtime watches AWS calls
(to give RDS a lifecycle and route PutEvents), injects AWS errors and crashes handlers.

The hooks know the runtime only through the two small protocols below, so this module never imports it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from local_runtime.faults import InjectedError, SimulatedCrash
from shared.deps import ClientFactory

LOCAL_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1})  # faults surface to the pipeline


class CallObserver(Protocol):
    """Told about every AWS call the handlers make; decides which ones fail."""

    def injected_error(self, operation: str) -> InjectedError | None: ...

    def emulated_rds_response(
        self, region: str, operation: str, params: dict[str, Any]
    ) -> InjectedError | dict[str, Any] | None: ...

    def before_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None: ...

    def after_rds_call(self, region: str, operation: str, params: dict[str, Any]) -> None: ...

    def after_put_events(self, region: str, entries: list[dict[str, Any]]) -> None: ...

    def after_create_schedule(self, region: str, params: dict[str, Any]) -> None: ...

    def count_call(self, service: str, operation: str) -> None: ...

    def arm_crash_after(self, operation: str) -> None: ...


class WriteHooks(Protocol):
    """Consulted before each state write: a twin delivery to run first, a crash to raise."""

    def take_interleave(self) -> Callable[[], None] | None: ...

    def take_crash(self) -> bool: ...


class CrashingStore:
    """Wraps the state store: after an AWS call marked in `crash_after`, the next state write 'crashes'."""

    def __init__(self, inner: Any, hooks: WriteHooks) -> None:
        self._inner = inner
        self._hooks = hooks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _before_write(self) -> None:
        twin = self._hooks.take_interleave()
        if twin is not None:
            twin()
        if self._hooks.take_crash():
            raise SimulatedCrash("crashed after the AWS call, before the state write")

    def write(self, *args: Any, **kwargs: Any) -> Any:
        self._before_write()
        return self._inner.write(*args, **kwargs)

    def create_run(self, *args: Any, **kwargs: Any) -> Any:
        self._before_write()
        return self._inner.create_run(*args, **kwargs)


def _took_effect(
    observer: CallObserver, service: str, region: str, operation: str, params: dict[str, Any], parsed: dict[str, Any]
) -> None:
    """Tell the observer what a successful call did in AWS."""
    if service == "rds":
        observer.after_rds_call(region, operation, params)
    elif service == "events" and operation == "PutEvents" and not parsed.get("FailedEntryCount"):
        observer.after_put_events(region, params.get("Entries", []))
    elif service == "scheduler" and operation == "CreateSchedule":
        observer.after_create_schedule(region, params)
    observer.arm_crash_after(operation)  # last: the call took effect in AWS before the crash


@cache
def _shared_session() -> boto3.session.Session:
    """One boto3 session for every local runtime of the process. A new session reads each service's model (JSON,
    megabytes for RDS and EC2) again on its first client: a session per runtime repeated that for every test night.
    Clients still belong to one runtime: each client has its own copy of the session's event hooks."""
    return boto3.session.Session()


class HookedClientFactory(ClientFactory):
    """The handlers' client factory, with botocore event hooks on every client it creates."""

    def __init__(self, observer: CallObserver) -> None:
        super().__init__(_shared_session())
        self._observer = observer

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        if key in self._clients:
            return self._clients[key]
        created = self._session.client(service, region_name=region, config=LOCAL_BOTO_CONFIG)  # type: ignore[call-overload]
        service_id = created.meta.service_model.service_id.hyphenize()
        events = created.meta.events
        observer = self._observer
        the_region = region or self._session.region_name or "us-east-1"

        def stash(params: dict[str, Any], context: dict[str, Any], model: Any, **_: Any) -> None:
            context["local_params"] = dict(params)  # the after-call hook sees only the response
            if service == "rds":
                observer.before_rds_call(the_region, model.name, params)

        def inject(model: Any, context: dict[str, Any], **_: Any) -> Any:
            observer.count_call(service, model.name)  # every request AWS would see (and bill), failed or not
            error = observer.injected_error(model.name)
            if error is None and service == "rds":
                # what AWS answers where moto would not (limits, quotas, busy or stopped resources)
                emulated = observer.emulated_rds_response(the_region, model.name, context.get("local_params", {}))
                if isinstance(emulated, dict):
                    return AWSResponse("https://local", 200, {}, None), emulated  # type: ignore[arg-type]
                error = emulated
            if error is None:
                return None
            parsed = {
                "Error": {"Code": error.code, "Message": error.message},
                "ResponseMetadata": {"HTTPStatusCode": error.status},
            }
            return AWSResponse("https://local", error.status, {}, None), parsed  # type: ignore[arg-type]

        def after(http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            if http_response.status_code >= 300:
                return
            _took_effect(observer, service, the_region, model.name, context.get("local_params", {}), parsed)

        events.register(f"provide-client-params.{service_id}", stash)
        events.register(f"before-call.{service_id}", inject)
        events.register(f"after-call.{service_id}", after)
        self._clients[key] = created
        return created
