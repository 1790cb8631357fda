"""An independent listener of share_worker's status events, for tests
and benchmarks: a plain oslo.messaging notification listener (its own
pool, a durable queue when the broker is to be restarted) that keeps
``(event_type, payload)`` in arrival order::

    events = EventListener(url, "notifications", durable=True)
    ...
    events.of(".protect.end")       # ids of the records it was seen for
    events.events()                 # [(event_type, payload), ...]
    events.stop()

*check(event_type, priority, payload)*, if given, sees every event
first (a test validates each against the published schemas).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import oslo_messaging
from oslo_config import cfg


class EventListener:
    """See the module docstring."""

    def __init__(self, url: str, topic: str, durable: bool = False,
                 exchange: str = "share_worker", pool: str = "sw-events",
                 check: Callable[[str, str, dict], None] | None = None
                 ) -> None:
        from share_worker import conf as sw_conf
        from share_worker import messaging

        conf = cfg.ConfigOpts()
        sw_conf.register_opts(conf)
        messaging.register_opts(conf)
        conf([], default_config_files=[], default_config_dirs=[])
        conf.set_override("amqp_durable_queues", durable,
                          group="oslo_messaging_rabbit")
        self._check = check
        self.seen: list[tuple[str, dict]] = []
        self._cond = threading.Condition()
        self.transport = messaging.notification_transport(conf, url)
        self.listener = oslo_messaging.get_notification_listener(
            self.transport, [oslo_messaging.Target(exchange=exchange,
                                                   topic=topic)],
            # a queue of this topic's own: oslo.messaging names a pool's
            # queue after the pool alone, so listeners of other topics
            # with the same pool would share it (and get each other's
            # events, a stopped one's left in it included)
            [self], executor="threading", pool="%s.%s" % (pool, topic))
        self.listener.start()

    def _keep(self, event_type: str, priority: str, payload: dict) -> None:
        if self._check is not None:
            self._check(event_type, priority, payload)
        with self._cond:
            self.seen.append((event_type, payload))
            self._cond.notify_all()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep(event_type, "INFO", payload)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._keep(event_type, "ERROR", payload)

    def of(self, suffix: str) -> set[str]:
        """Ids of the records an event ending with *suffix* was seen for."""
        with self._cond:
            return {p["id"] for e, p in self.seen if e.endswith(suffix)}

    def events(self) -> list[tuple[str, dict]]:
        with self._cond:
            return list(self.seen)

    def stop(self) -> None:
        self.listener.stop()
        self.listener.wait()
        self.transport.cleanup()
