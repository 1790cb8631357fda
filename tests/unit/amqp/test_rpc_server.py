"""The RPC server on kombu's memory transport, called by a bare
oslo.messaging RPCClient: replies and failures as oslo.messaging's own
server gives them, and a request acknowledged only once its handler
returned: in hand (at most ``prefetch`` of them) until then, given back
at stop, kept while the store can't be reached."""

from __future__ import annotations

import threading
import time
from concurrent import futures

import oslo_messaging
import pytest
from kombu.transport import memory

from share_worker import exception, messaging
from share_worker.amqp.rpc import RpcServer, version_is_compatible
from share_worker.pending import Pending
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


class Committing:
    """An endpoint whose results are pending on commits the test makes:
    ``commit(n)`` resolves the n-th request's future (an exception
    instance fails it)."""

    target = oslo_messaging.Target(version="1.1")

    def __init__(self) -> None:
        self.futures: list[futures.Future] = []
        self.dispatched = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    @oslo_messaging.expose
    def record(self, request, /, **kwargs):
        future: futures.Future = futures.Future()
        with self._lock:
            self.dispatched += 1
            self.futures.append(future)
            self.threads.add(threading.current_thread().name)

        def then(done):
            if kwargs.get("refuse"):
                raise exception.InvalidInput(reason="refused after commit")
            return {"id": kwargs["n"], "committed": done.result()}

        return Pending(future, then, "record %s" % kwargs.get("n"))

    def commit(self, n, value="yes"):
        future = self.futures[n]
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)


def test_a_pending_result_holds_no_thread(rpc):
    """One handler thread takes four requests in hand, each pending on
    its commit; each is answered and acknowledged once its commit is
    done, in the order of the commits, not of the requests."""
    serve, client = rpc
    endpoint = Committing()
    server = serve(endpoint, prefetch=8, workers=1)
    for n in range(4):
        client.cast({}, "record", n=n)
    wait_for(lambda: len(endpoint.futures) == 4, what="four in hand")
    assert endpoint.threads == {"rpc_0"} and server.consumer.acked == 0
    assert server.consumer.in_hand == 4
    endpoint.commit(2)
    wait_for(lambda: server.consumer.acked == 1, what="the third acked")
    assert server.consumer.in_hand == 3
    for n in (0, 1, 3):
        endpoint.commit(n)
    wait_for(lambda: server.consumer.acked == 4, what="all acked")
    assert server.handled == 4


def test_a_pending_call_is_answered_once_committed(rpc):
    serve, client = rpc
    endpoint = Committing()
    serve(endpoint, workers=1)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(
        client.call({}, "record", n=7)))
    caller.start()
    wait_for(lambda: endpoint.futures, what="the call in hand")
    assert not answers
    endpoint.commit(0, "done")
    caller.join(10)
    assert answers == [{"id": 7, "committed": "done"}]


def test_a_refusal_after_the_commit_is_the_callers_error(rpc):
    serve, client = rpc
    endpoint = Committing()
    serve(endpoint, workers=1)
    errors = []

    def call():
        try:
            client.call({}, "record", n=1, refuse=True)
        except oslo_messaging.RemoteError as e:
            errors.append(e)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: endpoint.futures, what="the call in hand")
    endpoint.commit(0)
    caller.join(10)
    assert [e.exc_type for e in errors] == ["InvalidInput"]
    assert "refused after commit" in errors[0].value


def test_a_commit_the_store_failed_is_dispatched_again(rpc):
    """StoreUnavailable from the commit: the request is dispatched again
    (its record made anew, with backoff on a timer) and answered by the
    commit that succeeds; acknowledged once."""
    serve, client = rpc
    endpoint = Committing()
    server = serve(endpoint, workers=1)
    answers = []
    caller = threading.Thread(target=lambda: answers.append(
        client.call({}, "record", n=3)))
    caller.start()
    for attempt in range(3):
        wait_for(lambda a=attempt: len(endpoint.futures) == a + 1,
                 what="dispatch %d" % (attempt + 1))
        assert server.consumer.acked == 0
        if attempt < 2:
            endpoint.commit(attempt, exception.StoreUnavailable(
                reason="connection lost"))
    endpoint.commit(2, "third time")
    caller.join(10)
    assert answers == [{"id": 3, "committed": "third time"}]
    wait_for(lambda: server.consumer.acked == 1, what="acknowledged")
    assert endpoint.dispatched == 3


def test_a_pending_request_at_stop_goes_back(rpc, monkeypatch):
    """A request whose commit has not ended at stop is not acknowledged:
    the next worker gets it again."""
    monkeypatch.setattr(memory.Channel, "do_restore", True)
    serve, client = rpc
    endpoint = Committing()
    first = serve(endpoint, workers=1)
    client.cast({}, "record", n=5)
    wait_for(lambda: endpoint.futures, what="in hand")
    first.stop(timeout=0.2)
    assert first.consumer.acked == 0
    second = Committing()
    server = serve(second)
    wait_for(lambda: second.futures, what="delivered again")
    second.commit(0)
    wait_for(lambda: server.consumer.acked == 1, what="acknowledged")


def test_a_store_outage_at_stop_gives_the_request_back(rpc, monkeypatch):
    """A request waiting out a store outage (on a timer) is given back at
    stop at once, not after its backoff."""
    monkeypatch.setattr(memory.Channel, "do_restore", True)
    serve, client = rpc
    down = exception.StoreUnavailable(reason="connection refused")
    endpoint = Endpoint(failures=[down] * 10)
    first = serve(endpoint, workers=1)
    client.cast({}, "echo", n=1)
    # tried at 0, 0.1, 0.3, 0.7 and 1.5 s: the next try is 1.6 s away
    wait_for(lambda: len(endpoint.requests) >= 5, what="retrying")
    began = time.monotonic()
    first.stop(timeout=5.0)
    assert time.monotonic() - began < 1.0
    assert first.consumer.acked == 0 and first.handled == 0
    second = Endpoint()
    serve(second)
    wait_for(lambda: second.requests, what="the cast redelivered")


def test_versions_compare_as_oslo_messaging_does():
    assert version_is_compatible("1.1", "1.0")
    assert version_is_compatible("1.1", "1.1")
    assert not version_is_compatible("1.1", "1.2")
    assert not version_is_compatible("1.1", "2.0")
    assert not version_is_compatible("2.0", "1.0")
    assert version_is_compatible("1.1.2", "1.1.1")
    assert not version_is_compatible("1.1", "1.1.1")
