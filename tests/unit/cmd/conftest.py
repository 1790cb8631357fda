"""``share-worker-ctl`` with a fake client and a fake bus: no broker.

``FakeAPI`` answers like the worker and, like it, publishes status events
on ``FakeBus`` -- which reaches only listeners started before the
request, as on RabbitMQ::

    api.script["protect"] = [("share_worker.checkpoint.protect.end",
                              {"status": "available"})]
    result = ctl("protect", "share-1", "--wait")
"""

from __future__ import annotations

import inspect
import json
from typing import Any, NamedTuple

import pytest

from share_worker import rpcapi
from share_worker.cmd import ctl

SHARE = "OS::Manila::Share"


def checkpoint(checkpoint_id: str = "cp-1", status: str = "protecting",
               share_id: str = "share-1", **changes: Any) -> dict:
    record = {"id": checkpoint_id, "project_id": "proj-a",
              "resource": {"type": SHARE, "id": share_id, "name": "data",
                           "extra_info": {}},
              "status": status, "options": {}, "saved_info": {},
              "trigger": "rpc", "policy_id": None, "error": None,
              "created_at": "2024-05-01T10:00:00Z",
              "updated_at": "2024-05-01T10:00:00Z"}
    record.update(changes)
    return record


def restore(restore_id: str = "rs-1", status: str = "in_progress",
            **changes: Any) -> dict:
    record = {"id": restore_id, "project_id": "proj-a",
              "checkpoint_id": "cp-1", "status": status, "options": {},
              "target": {"share_id": None, "mode": "new"}, "error": None,
              "created_at": "2024-05-01T11:00:00Z",
              "updated_at": "2024-05-01T11:00:00Z"}
    record.update(changes)
    return record


class FakeListener:
    def __init__(self, bus: FakeBus, endpoint: Any) -> None:
        self.bus = bus
        self.endpoint = endpoint

    def stop(self) -> None:
        self.bus.endpoints.remove(self.endpoint)
        self.bus.stopped += 1


class FakeBus:
    """The listener factory share-worker-ctl is given, and the events."""

    def __init__(self) -> None:
        self.endpoints: list[Any] = []
        self.started: list[dict] = []
        self.stopped = 0

    def listener_factory(self, **kwargs: Any) -> FakeListener:
        self.started.append(kwargs)
        self.endpoints.append(kwargs["endpoint"])
        return FakeListener(self, kwargs["endpoint"])

    def publish(self, event_type: str, payload: dict) -> None:
        payload = json.loads(json.dumps(payload))
        priority = "ERROR" if event_type.endswith(".error") else "INFO"
        for endpoint in list(self.endpoints):
            getattr(endpoint, priority.lower())(
                {}, "share_worker.host-1", event_type, payload,
                {"priority": priority, "timestamp": "2024-05-01 10:00:01"})


class FakeAPI:
    """Records calls; answers from ``answers``, raises from ``errors``,
    then publishes ``script[method]`` events for the returned record."""

    def __init__(self, bus: FakeBus) -> None:
        self.bus = bus
        self.calls: list[tuple[str, Any, dict]] = []
        self.made: list[tuple[str, dict]] = []
        self.closed = False
        self.answers: dict[str, Any] = {}
        self.errors: dict[str, Exception] = {}
        self.script: dict[str, list[tuple[str, dict]]] = {}

    def factory(self, transport_url: str, **kwargs: Any) -> FakeAPI:
        self.made.append((transport_url, kwargs))
        return self

    def close(self) -> None:
        self.closed = True

    def _handle(self, method: str, ctxt: Any, **kwargs: Any) -> Any:
        self.calls.append((method, ctxt, kwargs))
        if method in self.errors:
            raise self.errors[method]
        answer = self.answers.get(method)
        base = answer or {"id": kwargs.get("checkpoint_id")}
        for event_type, changes in self.script.get(method, []):
            self.bus.publish(event_type, dict(base, **changes))
        return answer

    def __getattr__(self, method: str) -> Any:
        """ShareWorkerAPI's methods, arguments bound by their signature
        (a call the real client would refuse fails here too)."""
        if method.startswith("_"):
            raise AttributeError(method)
        signature = inspect.signature(getattr(rpcapi.ShareWorkerAPI,
                                              method))

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            del arguments["self"]
            ctxt = arguments.pop("ctxt")
            return self._handle(method, ctxt, **arguments)
        return call


class Result(NamedTuple):
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def fields(self) -> dict[str, str]:
        """The ``key: value`` lines of the output."""
        pairs = (line.split(":  ", 1) for line in self.out.splitlines()
                 if ":  " in line and not line.startswith("20"))
        return {key: value.strip() for key, value in pairs}


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus()


@pytest.fixture
def api(bus) -> FakeAPI:
    return FakeAPI(bus)


@pytest.fixture
def ctl_main(api, bus, capsys, monkeypatch):
    """Runs ``share-worker-ctl`` with the fakes; returns a Result."""
    for name in ("SHARE_WORKER_TRANSPORT_URL", "OS_PROJECT_ID", "OS_USER_ID",
                 "OS_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> Result:
        code = ctl.main(list(argv), api_factory=api.factory,
                        listener_factory=bus.listener_factory)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    return run
