"""An RPC server on oslo.messaging's queues and wire format whose
requests are acknowledged only once they are handled (recorded in the
store or refused): oslo.messaging's own ``RPCServer`` acknowledges a
request before dispatching it, so a crash loses what it had taken::

    server = RpcServer(broker, exchange="share_worker",
                       topic="share_worker", server="host-1",
                       endpoints=[ProtectionEndpoint(...), ...],
                       prefetch=64, workers=16)
    server.start()
    ...
    server.stop(timeout=2.0)

It consumes what an oslo.messaging RPC server would (the topic queue,
``topic.server`` and this process's fanout queue), so an
``oslo_messaging.RPCClient`` sees no difference: calls are answered on
their ``_reply_q``, failures are serialised as oslo.messaging does (the
caller gets ``RemoteError`` with the exception's class name as
``exc_type``), casts get no answer.

Endpoint methods are the ones marked ``exposed`` (``oslo_messaging.
expose``) on endpoints whose ``target`` version is compatible with the
request's; each is called as ``method(request, **args)`` with the
:class:`~share_worker.amqp.wire.RpcRequest` (context dict, cast or call,
the request's unique id). A method raises ``ShareWorkerError`` subclasses
for refusals; ``Unavailable`` (the store, or Keystone validating a token)
keeps the request in hand and tries it again with backoff until that
service answers (intake stops meanwhile: at most ``prefetch`` requests
are held), or gives it back at stop. A method may give a result pending
on a commit (:class:`~share_worker.pending.Pending`): no thread waits
for it, the request is answered and acknowledged once it is there, so a
few threads serve ``prefetch`` requests in hand.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

from oslo_serialization import jsonutils

from share_worker import exception
from share_worker.amqp import wire
from share_worker.amqp.connection import Broker
from share_worker.amqp.consumer import Abandon, Consumer, Delivery
from share_worker.amqp.publisher import Publisher, PublishError
from share_worker.pending import Pending

LOG = logging.getLogger(__name__)

_RETRY_FIRST = 0.1
_RETRY_MAX = 5.0
_SCALARS = (str, int, float, bool, type(None))


class RpcServer:
    """See the module docstring."""

    def __init__(self, broker: Broker, exchange: str, topic: str,
                 server: str, endpoints: Sequence[Any], prefetch: int = 64,
                 workers: int = 16) -> None:
        self._broker = broker
        self._endpoints = list(endpoints)
        self.topic = topic
        exch = broker.topic_exchange(exchange)
        self._queues = [broker.queue(topic, exch, topic),
                        broker.queue("%s.%s" % (topic, server), exch,
                                     "%s.%s" % (topic, server)),
                        broker.fanout_queue(topic)]
        self._replies = Publisher(broker, confirm=False, name="rpc-reply")
        self.consumer = Consumer(broker, lambda: self._queues, self._handle,
                                 prefetch=prefetch, workers=workers,
                                 name="rpc")
        #: since when each unavailable service (by its exception's
        #: ``service``) has failed requests: one warning per outage
        self._down_since: dict[str, float] = {}
        self._down_lock = threading.Lock()
        #: requests handled (answered or refused) since the start
        self.handled = 0
        self._handled_lock = threading.Lock()

    def start(self, wait: float = 10.0) -> bool:
        """Start consuming; see :meth:`Consumer.start`."""
        return self.consumer.start(wait)

    def stop(self, timeout: float = 2.0) -> None:
        self.consumer.stop(timeout)
        self._replies.close()

    # -- one message ----------------------------------------------------------

    def _handle(self, delivery: Delivery) -> futures.Future | None:
        try:
            request = wire.parse_request(wire.decode(delivery.body))
        except wire.BadMessage as e:
            LOG.warning("RPC message on %s dropped: %s", self.topic, e)
            if e.reply_q and e.msg_id:
                self._reply(e.reply_q, e.msg_id, failure=_failure(
                    exception.InvalidInput(reason=str(e))))
            self._count()
            return None
        request.size = _size(delivery)
        return _Handling(self, delivery, request).begin()

    def _count(self) -> None:
        with self._handled_lock:
            self.handled += 1

    def _method(self, request: wire.RpcRequest) -> Any:
        compatible = False
        for endpoint in self._endpoints:
            target = getattr(endpoint, "target", None)
            if getattr(target, "namespace", None) != request.namespace:
                continue
            if not version_is_compatible(
                    getattr(target, "version", None) or "1.0",
                    request.version):
                continue
            compatible = True
            fn = getattr(type(endpoint), request.method, None)
            if callable(fn) and getattr(fn, "exposed", False):
                return getattr(endpoint, request.method)
        if compatible:
            raise _DispatchError(*wire.NO_SUCH_METHOD,
                                 "Endpoint does not support RPC method %s"
                                 % request.method)
        raise _DispatchError(*wire.UNSUPPORTED_VERSION,
                             "Endpoint does not support RPC version %s. "
                             "Attempted method: %s" % (request.version,
                                                       request.method))

    def _reply(self, reply_q: str, msg_id: str, result: Any = None,
               failure: Any = None, ending: bool = True) -> None:
        try:
            self._replies.publish(wire.reply(msg_id, result, failure,
                                             ending=ending),
                                  exchange="", routing_key=reply_q)
        except PublishError as e:
            LOG.warning("The reply to call %s could not be sent (%s); the "
                        "caller will time out", _quote(msg_id), e)

    # -- outages: one warning when one starts, one when it ends --------

    def _service_failed(self, request: wire.RpcRequest,
                        error: exception.Unavailable, delay: float) -> None:
        with self._down_lock:
            first = error.service not in self._down_since
            if first:
                self._down_since[error.service] = time.monotonic()
        if first:
            LOG.warning("%s is unreachable (%s): RPC requests are kept in "
                        "the queue and handled once it answers",
                        _capitalized(error.service), error.message)
        LOG.debug("RPC %s (request %s) waits %.1f s for %s",
                  request.method, _quote(request.ctxt.get("request_id")),
                  delay, error.service)

    def _services_back(self) -> None:
        if not self._down_since:
            return
        with self._down_lock:
            back, self._down_since = self._down_since, {}
        for service, since in back.items():
            LOG.info("%s answers again after %.1f s", _capitalized(service),
                     time.monotonic() - since)


class _Handling:
    """One request from its dispatch to its answer. The handler's thread
    is not held while a pending result (a commit) is awaited: the rest
    runs on the pool once it is there. A store or Keystone that is
    unavailable has the request dispatched again with backoff (on a
    timer, no thread waits) until it answers, or given back at stop."""

    def __init__(self, server: RpcServer, delivery: Delivery,
                 request: wire.RpcRequest) -> None:
        self.server = server
        self.delivery = delivery
        self.request = request
        #: done once the request is answered (or given back: Abandon)
        self.done: futures.Future = futures.Future()
        self.delay = _RETRY_FIRST
        self.monitor = _Monitor(server, request)

    def begin(self) -> futures.Future:
        self._step(self._dispatch)
        return self.done

    def _dispatch(self) -> Any:
        request = self.request
        return self.server._method(request)(request, **request.args)

    def _step(self, produce: Callable[[], Any]) -> None:
        """Answer with what *produce* gives, or go on once it is there."""
        while True:
            value, failure = self._outcome(produce)
            if value is _AGAIN:
                return
            if not isinstance(value, Pending):
                self._answer(value, failure)
                return
            pending = value
            if not pending.future.done():
                pending.future.add_done_callback(
                    functools.partial(self._resume, pending))
                return
            produce = functools.partial(pending.then, pending.future)

    def _resume(self, pending: Pending, _: futures.Future) -> None:
        """On the thread that resolved *pending* (the committer's): go
        on on the pool."""
        if not self.server.consumer.submit(functools.partial(
                self._step, functools.partial(pending.then,
                                              pending.future))):
            self._give_back()

    def _outcome(self, produce: Callable[[], Any]) -> tuple[Any, Any]:
        """(result, failure) of *produce*; (_AGAIN, None) when it is
        dispatched again later."""
        request = self.request
        server = self.server
        try:
            return produce(), None
        except exception.Unavailable as e:
            server._service_failed(request, e, self.delay)
            self._retry()
            return _AGAIN, None
        except _DispatchError as e:
            LOG.warning("RPC %s %s (version %s) refused: %s (request "
                        "%s)", "cast" if request.is_cast else "call",
                        _quote(request.method), request.version, e,
                        _quote(request.ctxt.get("request_id")))
            return None, wire.failure(e.class_name, e.module, str(e))
        except exception.ShareWorkerError as e:
            return None, _failure(e)
        except Exception:  # a bug the endpoint did not catch
            return None, _internal_error(
                request, "RPC %s failed (request %s)",
                "internal error in %s; see the worker's log for request %s")

    def _retry(self) -> None:
        consumer = self.server.consumer
        if consumer.stopping.is_set() or not consumer.current(self.delivery):
            self._give_back()       # at stop, or delivered again already
            return
        delay, self.delay = self.delay, min(self.delay * 2, _RETRY_MAX)
        consumer.later(delay, self._again)

    def _again(self) -> None:
        if self.server.consumer.stopping.is_set():
            self._give_back()
            return
        self._step(self._dispatch)

    def _give_back(self) -> None:
        self.monitor.stop()
        self.done.set_exception(Abandon())

    def _answer(self, result: Any, failure: Any) -> None:
        request = self.request
        server = self.server
        try:
            if failure is None:
                server._services_back()
            if not request.is_cast:
                if failure is None:
                    result, failure = _serialised(request, result)
                server._reply(request.reply_q, request.msg_id, result,
                              failure)
        finally:
            self.monitor.stop()
            server._count()
            self.done.set_result(None)


#: the outcome of a request that is dispatched again later
_AGAIN = object()


def _serialised(request: wire.RpcRequest, result: Any) -> tuple[Any, Any]:
    """(*result* as JSON, None), or (None, the failure saying it is
    not JSON)."""
    try:
        return _primitive(result), None
    except Exception:  # noqa: BLE001 - a result that isn't JSON
        return None, _internal_error(
            request, "The result of RPC %s is not JSON (request %s)",
            "internal error: the result of %s could not be serialised; "
            "see the worker's log for request %s")


def _internal_error(request: wire.RpcRequest, log_line: str,
                    reason: str) -> str:
    """Log the exception being handled (*log_line*) and give the
    caller's failure, an InvalidState of *reason*; both name the method
    and the request id."""
    method = _quote(request.method)
    request_id = _quote(request.ctxt.get("request_id"))
    LOG.exception(log_line, method, request_id)
    return _failure(exception.InvalidState(
        reason=reason % (method, request_id)))


def _capitalized(text: str) -> str:
    """*text* with its first letter upper case ("the store" starts a
    log line as "The store")."""
    return text[:1].upper() + text[1:]


class _DispatchError(Exception):
    """Raised for a request no endpoint method serves."""

    def __init__(self, class_name: str, module: str, message: str) -> None:
        super().__init__(message)
        self.class_name = class_name
        self.module = module


class _Monitor:
    """Call-monitor heartbeats (``call_monitor_timeout`` callers) while a
    call is handled: an empty reply every half of its timeout."""

    def __init__(self, server: RpcServer, request: wire.RpcRequest) -> None:
        self._done = threading.Event()
        if request.is_cast or not request.call_monitor:
            return
        interval = max(request.call_monitor / 2.0, 0.5)

        def beat() -> None:
            while not self._done.wait(interval):
                server._reply(request.reply_q, request.msg_id, ending=False)

        threading.Thread(target=beat, daemon=True, name="rpc-monitor").start()

    def stop(self) -> None:
        self._done.set()


def _size(delivery: Delivery) -> int:
    """Bytes of the message as sent (its body before decoding)."""
    raw = getattr(delivery.message, "body", None)
    if isinstance(raw, (bytes, bytearray, str)):
        return len(raw)
    body = delivery.body
    if isinstance(body, (bytes, bytearray, str)):
        return len(body)
    try:
        return len(jsonutils.dumps(body))
    except (TypeError, ValueError):
        return 0


def version_is_compatible(served: str, asked: str) -> bool:
    """Whether an endpoint of version *served* takes a request of
    version *asked* (same major, minor not newer), as oslo.messaging
    decides."""
    def parts(version: str) -> list[int]:
        numbers = [int(p) for p in version.split(".")]
        return numbers + [0] * (3 - len(numbers))

    have, want = parts(served), parts(asked)
    return have[0] == want[0] and want[1:] <= have[1:]


def _failure(error: exception.ShareWorkerError) -> str:
    return wire.failure(type(error).__name__, "share_worker.exception",
                        error.message)


def _primitive(value: Any) -> Any:
    """*value* as JSON: records already are (sent as is), anything else
    goes through oslo.serialization's conversion."""
    if _is_primitive(value):
        return value
    return jsonutils.to_primitive(value, convert_instances=True)


def _is_primitive(value: Any, depth: int = 0) -> bool:
    if isinstance(value, _SCALARS):
        return True
    if depth > 32:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_primitive(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, list):
        return all(_is_primitive(v, depth + 1) for v in value)
    return False


def _quote(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 64 else text[:64] + "..."
