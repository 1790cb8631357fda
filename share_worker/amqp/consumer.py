"""Consuming with manual acknowledgements and a bounded prefetch.

One thread owns the connection (kombu is not thread-safe): it receives
messages, hands each to ``handle(delivery)`` on a small pool, and
acknowledges a message only once its handler returned. At most
``prefetch`` messages are in this process's hands, so a crash loses
none (the broker redelivers what was not acknowledged) and a handler
that waits (for a store that is down) stops intake instead of piling
messages up::

    consumer = Consumer(broker, queues=lambda: [queue], handle=handle,
                        prefetch=64, workers=16, name="rpc")
    consumer.start()
    ...
    consumer.stop(timeout=2.0)     # unfinished messages go back

A handler returns to have its message acknowledged, or raises
:class:`Abandon` to leave it unacknowledged (it is redelivered when the
connection closes). A handler that would wait (for a commit) returns a
``concurrent.futures.Future`` instead and frees its thread: the message
is settled when the future is done, alike (its exception ``Abandon``
gives it back). ``consumer.submit(fn)`` runs more work on the pool,
``consumer.later(delay, fn)`` runs it there *delay* seconds later.

A broker that goes away is reconnected with backoff; messages in hand
then are redelivered by the broker, so handlers must be idempotent
(share_worker's are: a redelivered request finds its record).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

import amqp.exceptions
import kombu

from share_worker.amqp.connection import Broker, connection_errors

LOG = logging.getLogger(__name__)

#: how long a drain waits for the broker when messages are in hand (their
#: acknowledgements wait for the next wake-up) and when none are
_BUSY_WAIT = 0.002
_IDLE_WAIT = 0.2
_RECONNECT_MIN = 0.5
_RECONNECT_MAX = 10.0


class Abandon(Exception):
    """Raised by a handler that gives its message back unacknowledged
    (the consumer is stopping)."""


@dataclasses.dataclass
class Delivery:
    """One message in hand."""

    body: Any
    message: kombu.Message
    #: which connection it came on: an acknowledgement on a later one
    #: would be for another message
    generation: int

    @property
    def redelivered(self) -> bool:
        return bool(self.message.delivery_info.get("redelivered"))


class Consumer:
    """See the module docstring."""

    def __init__(self, broker: Broker,
                 queues: Callable[[], list[kombu.Queue]],
                 handle: Callable[[Delivery], None], prefetch: int,
                 workers: int, name: str,
                 on_connected: Callable[[kombu.Connection], None]
                 | None = None) -> None:
        self._broker = broker
        self._queues = queues
        self._handle = handle
        self._prefetch = prefetch
        self._name = name
        self._on_connected = on_connected
        self._pool = futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=name)
        self._settled: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        #: handlers running, waiting for a pool thread or for their future
        self._running = 0
        #: (due, sequence, fn) of :meth:`later`, due on the monotonic clock
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._in_hand = 0
        self._generation = 0
        self.stopping = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        #: set once the first connection consumes (tests wait on it)
        self.ready = threading.Event()
        #: messages acknowledged, for tests and logs
        self.acked = 0

    @property
    def in_hand(self) -> int:
        """Messages received and not yet settled."""
        return self._in_hand

    def current(self, delivery: Delivery) -> bool:
        """Whether *delivery* came on the connection in use (one that
        came on an earlier one is being delivered again)."""
        return delivery.generation == self._generation

    def submit(self, fn: Callable[[], None]) -> bool:
        """Run *fn* on the pool; whether it will (not once stopped)."""
        try:
            self._pool.submit(self._guarded, fn)
        except RuntimeError:        # the pool is shut down: stopped
            return False
        return True

    def later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run *fn* on the pool in *delay* seconds, or as soon as the
        consumer stops (*fn* then sees ``stopping`` set)."""
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay,
                                          next(self._sequence), fn))

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # noqa: BLE001 - a bug: logged, never a crash
            LOG.exception("%s: a handler's work failed", self._name)

    def _fire_timers(self, everything: bool = False) -> None:
        """Submit the timers that are due (all of them, at stop)."""
        if not self._timers:
            return
        now = time.monotonic()
        due = []
        with self._lock:
            while self._timers and (everything or self._timers[0][0] <= now):
                due.append(heapq.heappop(self._timers)[2])
        for fn in due:
            if not self.submit(fn):
                self._guarded(fn)

    # -- life cycle ---------------------------------------------------------

    def start(self, wait: float = 0.0) -> bool:
        """Start consuming; wait up to *wait* seconds for the queues to
        be declared (a message published before that would find no
        queue). Whether they are; if not, it keeps trying."""
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="%s-consumer" % self._name)
        self._thread.start()
        if wait and not self.ready.wait(wait):
            LOG.warning("%s: not consuming yet after %.0f s (is the broker "
                        "at %s up?); still trying", self._name, wait,
                        self._broker.describe())
            return False
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Stop taking messages, give handlers until *timeout* to end,
        acknowledge what they finished; the rest goes back to the
        broker when the connection closes."""
        self._deadline = time.monotonic() + timeout
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout + 2.0)
            if self._thread.is_alive():
                LOG.warning("%s: the consumer thread did not stop within "
                            "%.1f s", self._name, timeout + 2.0)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the consumer thread ----------------------------------------------

    def _run(self) -> None:
        backoff = _RECONNECT_MIN
        while not self.stopping.is_set():
            conn = self._broker.connect(purpose=self._name)
            try:
                self._consume(conn)
                backoff = _RECONNECT_MIN
            except Exception as e:  # noqa: BLE001 - any loss: reconnect
                if self.stopping.is_set():
                    break
                if isinstance(e, amqp.exceptions.PreconditionFailed):
                    LOG.error("%s: %s. A queue of that name exists with "
                              "other arguments: declare it alike everywhere "
                              "([oslo_messaging_rabbit] amqp_durable_queues, "
                              "rabbit_quorum_queue) or delete it "
                              "(rabbitmqctl delete_queue); trying again in "
                              "%.1f s", self._name, e, backoff)
                elif isinstance(e, connection_errors(conn)):
                    LOG.warning("%s: lost the broker at %s (%s); "
                                "reconnecting in %.1f s", self._name,
                                self._broker.describe(), e, backoff)
                else:
                    LOG.exception("%s: consumer failed; reconnecting in "
                                  "%.1f s", self._name, backoff)
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, _RECONNECT_MAX)
            finally:
                self._close(conn)

    def _consume(self, conn: kombu.Connection) -> None:
        conn.connect()
        channel = conn.channel()
        queues = []
        for declared in self._queues():
            channel, bound = self._declare(conn, channel, declared)
            queues.append(bound)
        # prefetch_size, prefetch_count, global (positional: the
        # transports name the last one differently)
        channel.basic_qos(0, self._prefetch, False)
        with self._lock:
            self._generation += 1
            self._in_hand = 0
            generation = self._generation
        if self._on_connected is not None:
            self._on_connected(conn)
        consumer = kombu.Consumer(
            channel, queues, no_ack=False, auto_declare=False,
            accept=["json", "text/plain", "application/data"],
            on_message=lambda message: self._received(message, generation))
        consumer.consume()
        self.ready.set()
        LOG.info("%s: consuming %s on %s (prefetch %d)", self._name,
                 ", ".join(q.name for q in queues), self._broker.describe(),
                 self._prefetch)
        heartbeat_due = time.monotonic()
        while not self.stopping.is_set():
            self._settle(generation)
            self._fire_timers()
            wait = _BUSY_WAIT if self._in_hand else _IDLE_WAIT
            try:
                conn.drain_events(timeout=wait)
            except TimeoutError:
                pass
            now = time.monotonic()
            if conn.heartbeat and now >= heartbeat_due:
                conn.heartbeat_check()
                heartbeat_due = now + max(conn.heartbeat / 4.0, 0.5)
        try:
            consumer.cancel()
        except connection_errors(conn):
            return
        self._drain_handlers(generation)

    def _drain_handlers(self, generation: int) -> None:
        """At stop: acknowledge what handlers finish before the
        deadline; what they don't goes back when the connection
        closes."""
        while True:
            self._settle(generation)
            self._fire_timers(everything=True)
            with self._idle:
                if not self._running:
                    break
                left = self._deadline - time.monotonic()
                if left <= 0:
                    LOG.warning("%s: %d message(s) still being handled at "
                                "stop; they go back to the queue",
                                self._name, self._running)
                    break
                self._idle.wait(min(left, 0.05))
        self._settle(generation)

    def _declare(self, conn: kombu.Connection, channel: Any,
                 wanted: kombu.Queue) -> tuple[Any, kombu.Queue]:
        """Declare *queue* and its exchanges; an exchange another
        service declared with other arguments (durable or not) is
        bound to as it is. (channel, bound queue): a refused declare
        closes the channel, so a new one may come back."""
        try:
            bound = wanted(channel)
            bound.declare()
            return channel, bound
        except amqp.exceptions.PreconditionFailed as e:
            if "exchange" not in str(e):
                raise       # the queue's own arguments: the operator's
            LOG.warning("%s: %s; binding queue %s to the exchange as it "
                        "is (a broker restart may lose it unless every "
                        "service declares it alike)", self._name, e,
                        wanted.name)
        channel = conn.channel()
        bound = _with_passive_exchanges(wanted)(channel)
        bound.declare()
        return channel, bound

    def _received(self, message: kombu.Message, generation: int) -> None:
        try:
            body = message.decode()
        except Exception:  # noqa: BLE001 - the handler judges the raw body
            body = message.body
        with self._lock:
            self._in_hand += 1
            self._running += 1
        self._pool.submit(self._work, Delivery(body, message, generation))

    def _work(self, delivery: Delivery) -> None:
        try:
            result = self._handle(delivery)
        except Exception as e:  # noqa: BLE001 - judged by _settled
            self._finished(delivery, e)
            return
        if isinstance(result, futures.Future):
            result.add_done_callback(
                lambda done: self._finished(delivery, _error(done)))
        else:
            self._finished(delivery, None)

    def _finished(self, delivery: Delivery,
                  error: BaseException | None) -> None:
        """Queue *delivery*'s settlement: acknowledged unless its
        handler gave it back (Abandon)."""
        ack = not isinstance(error, Abandon)
        if ack and error is not None:
            # a bug: drop, never a hot loop
            LOG.error("%s: handling a message failed; it is dropped",
                      self._name, exc_info=error)
        self._settled.put((delivery, ack))
        with self._idle:
            self._running -= 1
            self._idle.notify_all()

    def _settle(self, generation: int) -> None:
        """Acknowledge the messages whose handlers finished (on this,
        the connection's own thread)."""
        while True:
            try:
                delivery, ack = self._settled.get_nowait()
            except queue.Empty:
                return
            if delivery.generation != generation:
                continue        # its channel is gone: it was redelivered
            with self._lock:
                self._in_hand -= 1
            if ack:
                delivery.message.ack()
                self.acked += 1

    @staticmethod
    def _close(conn: kombu.Connection) -> None:
        try:
            conn.release()
        except Exception:  # noqa: BLE001 - closing a broken connection
            LOG.debug("closing the consumer connection failed",
                      exc_info=True)


def _error(future: futures.Future) -> BaseException | None:
    """What a done *future* raises (a cancelled one: given back)."""
    if future.cancelled():
        return Abandon()
    return future.exception()


def _with_passive_exchanges(queue: kombu.Queue) -> kombu.Queue:
    """*queue* with its exchanges declared passively (only checked)."""
    def passive(exchange: kombu.Exchange) -> kombu.Exchange:
        return kombu.Exchange(exchange.name, type=exchange.type,
                              passive=True)

    if queue.bindings:
        return kombu.Queue(
            queue.name, bindings=[kombu.binding(passive(b.exchange),
                                                routing_key=b.routing_key)
                                  for b in queue.bindings],
            durable=queue.durable, auto_delete=queue.auto_delete,
            queue_arguments=queue.queue_arguments)
    return kombu.Queue(queue.name, exchange=passive(queue.exchange),
                       routing_key=queue.routing_key, durable=queue.durable,
                       auto_delete=queue.auto_delete,
                       queue_arguments=queue.queue_arguments)
