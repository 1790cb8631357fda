"""The RPC server on kombu's memory transport, called by a bare
oslo.messaging RPCClient: replies and failures as oslo.messaging's own
server gives them, and a request acknowledged only once its handler
returned: in hand (at most ``prefetch`` of them) until then, given back
at stop, kept while the store can't be reached."""

from __future__ import annotations

import threading

import oslo_messaging
import pytest
from kombu.transport import memory

from share_worker import exception, messaging
from share_worker.amqp.rpc import RpcServer, version_is_compatible
from tests.conftest import wait_for


class Endpoint:
    target = oslo_messaging.Target(version="1.1")

    def __init__(self, block: threading.Event | None = None,
                 failures: list | None = None) -> None:
        self.requests = []
        self.block = block
        self.failures = failures or []
        self.running = 0
        self._lock = threading.Lock()

    @oslo_messaging.expose
    def echo(self, request, /, **kwargs):
        with self._lock:
            self.requests.append((request, kwargs))
            self.running += 1
            failure = self.failures.pop(0) if self.failures else None
        try:
            if self.block is not None:
                self.block.wait(10)
            if failure is not None:
                raise failure
            return {"args": kwargs, "cast": request.is_cast,
                    "key": request.key}
        finally:
            with self._lock:
                self.running -= 1

    def hidden(self, request, /, **kwargs):
        return "never"


@pytest.fixture
def rpc(broker, conf, unique):
    servers = []
    transport = messaging.rpc_transport(conf)
    client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(
        exchange="share_worker", topic="t_%s" % unique, version="1.0"),
        timeout=10)

    def serve(endpoint, prefetch=8, workers=4):
        server = RpcServer(broker, "share_worker", "t_%s" % unique, "h1",
                           [endpoint], prefetch=prefetch, workers=workers)
        assert server.start(wait=5)
        servers.append(server)
        return server

    yield serve, client
    for server in servers:
        server.stop(timeout=0.5)
    transport.cleanup()


def test_call_and_cast(rpc):
    serve, client = rpc
    endpoint = Endpoint()
    serve(endpoint)
    got = client.call({"project_id": "p1"}, "echo", a=1)
    assert got["args"] == {"a": 1} and got["cast"] is False
    assert got["key"]          # the message's _unique_id
    client.cast({"project_id": "p1"}, "echo", b=2)
    wait_for(lambda: len(endpoint.requests) == 2, what="the cast")
    request, kwargs = endpoint.requests[1]
    assert request.is_cast and kwargs == {"b": 2}
    assert request.ctxt == {"project_id": "p1"}


def test_failures_are_remote_errors_without_our_traceback(rpc):
    serve, client = rpc
    serve(Endpoint(failures=[exception.InvalidInput(reason="bad a"),
                             KeyError("bug")]))
    with pytest.raises(oslo_messaging.RemoteError) as err:
        client.call({}, "echo")
    assert err.value.exc_type == "InvalidInput"
    assert err.value.value == "Invalid input: bad a"
    assert "Traceback" not in str(err.value)
    with pytest.raises(oslo_messaging.RemoteError) as err:
        client.call({"request_id": "req-9"}, "echo")
    assert err.value.exc_type == "InvalidState"
    assert "internal error in echo" in err.value.value
    assert "req-9" in err.value.value


def test_unknown_methods_and_versions_are_refused(rpc):
    serve, client = rpc
    serve(Endpoint())
    for method in ("hidden", "nope", "__init__", "target"):
        with pytest.raises(oslo_messaging.RemoteError) as err:
            client.call({}, method)
        assert err.value.exc_type == "NoSuchMethod", method
    with pytest.raises(oslo_messaging.RemoteError) as err:
        client.prepare(version="1.2").call({}, "echo")
    assert err.value.exc_type == "UnsupportedVersion"
    assert client.prepare(version="1.1").call({}, "echo")["args"] == {}


def test_a_request_is_acknowledged_only_once_handled(rpc, monkeypatch):
    monkeypatch.setattr(memory.Channel, "do_restore", True)
    serve, client = rpc
    block = threading.Event()
    first = serve(Endpoint(block=block))
    client.cast({}, "echo", n=1)
    wait_for(lambda: first.consumer._in_hand == 1, what="in hand")
    assert first.consumer.acked == 0
    first.stop(timeout=0.2)            # still being handled: not acked
    assert first.consumer.acked == 0
    block.set()
    second = Endpoint()
    serve(second)
    wait_for(lambda: second.requests, what="the cast redelivered")
    assert second.requests[0][1] == {"n": 1}


def test_at_most_prefetch_requests_are_in_hand(rpc):
    serve, client = rpc
    block = threading.Event()
    endpoint = Endpoint(block=block)
    server = serve(endpoint, prefetch=2, workers=4)
    for n in range(5):
        client.cast({}, "echo", n=n)
    wait_for(lambda: endpoint.running == 2, what="two handlers running")
    assert server.consumer._in_hand == 2
    block.set()
    wait_for(lambda: server.consumer.acked == 5, what="all five handled")


def test_a_store_outage_keeps_the_request_until_it_is_recorded(rpc):
    serve, client = rpc
    down = exception.StoreUnavailable(reason="connection refused")
    endpoint = Endpoint(failures=[down, down, down])
    server = serve(endpoint)
    got = client.call({}, "echo", a=1)
    assert got["args"] == {"a": 1}
    assert len(endpoint.requests) == 4
    wait_for(lambda: server.consumer.acked == 1, what="acknowledged")


def test_versions_compare_as_oslo_messaging_does():
    assert version_is_compatible("1.1", "1.0")
    assert version_is_compatible("1.1", "1.1")
    assert not version_is_compatible("1.1", "1.2")
    assert not version_is_compatible("1.1", "2.0")
    assert not version_is_compatible("2.0", "1.0")
    assert version_is_compatible("1.1.2", "1.1.1")
    assert not version_is_compatible("1.1", "1.1.1")
