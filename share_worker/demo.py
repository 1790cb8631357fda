"""Demo mode of ``share-worker``: a newcomer's first run.

``share-worker --demo`` starts the bundled Manila simulator beside the
worker (noauth, project ``demo`` with one share), then, over the real
message bus, protects that share, restores it to a new share and deletes
the checkpoint, printing each status event as an independent listener
receives it. The worker keeps serving afterwards until Ctrl-C.

The production worker never starts the simulator on its own: without
``--demo`` a missing Manila configuration is a start-up error.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from typing import Any

import oslo_messaging
from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import messaging, rpcapi
from share_worker.simulator import ManilaSimulator
from share_worker.simulator.server import SimulatorServer

PROJECT = "demo"
SHARE = "OS::Manila::Share"
WAIT = 60.0


#: one line at a time on the demo's output: the listener's thread and
#: the scenario's print side by side
_OUT_LOCK = threading.Lock()


def _line(out: Any, text: str) -> None:
    with _OUT_LOCK:
        out.write(text + "\n")
        out.flush()


class _Printer:
    """Notification endpoint: prints share_worker events, queues them."""

    def __init__(self, out: Any) -> None:
        self.events: queue.Queue = queue.Queue()
        self._out = out

    def _event(self, ctxt: Any, publisher_id: str, event_type: str,
               payload: dict, metadata: Any) -> None:
        if not event_type.startswith("share_worker."):
            return
        error = payload.get("error") or {}
        _line(self._out, "  event %-42s %s status=%s%s" % (
            event_type, payload.get("id"), payload.get("status"),
            " error=%s" % error.get("code") if error else ""))
        self.events.put((event_type, payload))

    info = error = _event


class Demo:
    """Runs the simulator and the demo scenario for ``share-worker``."""

    def __init__(self, conf: cfg.ConfigOpts, out: Any = sys.stdout) -> None:
        self.conf = conf
        self.out = out
        self.sim = ManilaSimulator()
        self.sim.set_delays(snapshot_create=1.0, share_create=1.0,
                            snapshot_delete=0.5)
        self.share_id = self.sim.create_share(PROJECT, size=1,
                                              name="demo-share")
        self._server = SimulatorServer(self.sim, "127.0.0.1", 0)
        self._listener: Any = None
        self._transport: Any = None
        self._printer = _Printer(out)

    def start_simulator(self) -> None:
        self._server.start()
        # Its own topic: another worker on the same broker must not take
        # the demo's requests (and the demo none of theirs).
        self.conf.set_override("topic", "share_worker_demo_%d" % os.getpid(),
                               group="share_worker")
        self.conf.set_override("auth_strategy", "noauth",
                               group="share_worker")
        # Engine processes would not see these overrides: one process.
        self.conf.set_override("engine_processes", 0, group="share_worker")
        self.conf.set_override("endpoint_override", self._server.url,
                               group="manila_client")
        self._say("Manila simulator at %s (project %s, share %s)"
                  % (self._server.url, PROJECT, self.share_id))

    def start_listener(self) -> None:
        """Listen before the worker starts, so no event is missed."""
        self._transport = messaging.notification_transport(self.conf)
        self._printer = _Printer(self.out)
        targets = [oslo_messaging.Target(
            exchange=self.conf.control_exchange, topic=topic)
            for topic in self.conf.oslo_messaging_notifications.topics]
        self._listener = oslo_messaging.get_notification_listener(
            self._transport, targets, [self._printer],
            pool="share_worker_demo")
        self._listener.start()

    def run_in_background(self, stopping: threading.Event) -> None:
        def run() -> None:
            try:
                self.scenario()
            except Exception as e:  # noqa: BLE001 - shown to the user
                self._say("demo failed: %s: %s" % (type(e).__name__, e))
        threading.Thread(target=run, name="demo", daemon=True).start()

    def scenario(self) -> None:
        printer = self._printer
        api = rpcapi.ShareWorkerAPI(messaging.rpc_transport(self.conf),
                                    topic=self.conf.share_worker.topic,
                                    exchange=self.conf.control_exchange)
        ctx = o_context.RequestContext(user_id="demo-user",
                                       project_id=PROJECT)
        self._say("protect share %s (RPC call)" % self.share_id)
        cp = api.protect(ctx, {"type": SHARE, "id": self.share_id})
        self._wait(printer, cp["id"], ".protect.")
        restore = api.restore(ctx, cp["id"], {"restore_name": "demo-copy"})
        self._say("restore checkpoint %s to a new share (RPC call)"
                  % cp["id"])
        done = self._wait(printer, restore["id"], "restore.")
        self._say("restored share: %s" % done["target"]["share_id"])
        self._say("delete checkpoint %s (RPC cast)" % cp["id"])
        api.cast_delete(ctx, cp["id"])
        self._wait(printer, cp["id"], ".delete.")
        self._say("demo done: the share was protected, restored and its "
                  "checkpoint deleted. The worker keeps serving topic %r; "
                  "Ctrl-C stops it." % self.conf.share_worker.topic)

    def _wait(self, printer: _Printer, record_id: str, kind: str) -> dict:
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no end event for %s within %ds"
                                   % (record_id, WAIT))
            event_type, payload = printer.events.get(timeout=left)
            if payload.get("id") != record_id or kind not in event_type:
                continue
            if event_type.endswith(".error"):
                raise RuntimeError("%s failed: %s" % (record_id,
                                                      payload["error"]))
            if event_type.endswith(".end"):
                return payload

    def _say(self, text: str) -> None:
        _line(self.out, "[demo] %s" % text)

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener.wait()
        if self._transport is not None:
            self._transport.cleanup()
        self._server.stop()
