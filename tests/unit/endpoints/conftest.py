"""The endpoints behind a real ``messaging.rpc_server`` on kombu's
in-process ``memory://`` transport (``kombu+memory:////``), over the real
Engine (FakeClients + SQLite), called by a bare oslo.messaging RPCClient
on the same transport: what a caller on a real broker gets
(``oslo_messaging.RemoteError`` for our exceptions).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import oslo_messaging
import pytest
from oslo_context import context as o_context

from share_worker import exception, messaging
from share_worker.amqp import wire
from share_worker.authorization import Authorizer
from share_worker.db.store import Store
from share_worker.endpoints.protectables import ProtectablesEndpoint
from share_worker.endpoints.protection import ProtectionEndpoint
from share_worker.engine.service import Engine
from share_worker.plugins.loader import PluginRegistry
from tests.conftest import RecordingSink, wait_for
from tests.unit import fakes

SHARE = "OS::Manila::Share"
PROJECT_TYPE = "OS::Keystone::Project"
PROJECT = "p1"

#: DESIGN section 3, version 1.0: method -> (required, optional) arguments
CONTRACT = {
    "protect": (("resource",), ("options", "checkpoint_id")),
    "restore": (("checkpoint_id",), ("options",)),
    "delete": (("checkpoint_id",), ()),
    "show_checkpoint": (("checkpoint_id",), ()),
    "list_checkpoints": ((), ("filters", "limit", "marker")),
    "show_restore": (("restore_id",), ()),
    "list_restores": ((), ("filters", "limit", "marker")),
    "list_protectable_types": ((), ()),
    "show_protectable_type": (("resource_type",), ()),
    "list_protectable_instances": (("resource_type",), ("parameters",)),
    "show_protectable_instance": (("resource_type", "resource_id"), ()),
    "list_protectable_dependents": (("resource_type", "resource_id"), ()),
    "show_plugin_schemas": (("resource_type",), ()),
}
CONTRACT_ERRORS = {"InvalidInput", "UnsupportedResourceType",
                   "ResourceNotFound", "CheckpointNotFound",
                   "RestoreNotFound", "PolicyNotFound", "InvalidState",
                   "Forbidden", "Busy", "QuotaExceeded"}
OPERATION_EVENTS = {
    "protect": "share_worker.checkpoint.protect.error",
    "restore": "share_worker.restore.error",
    "delete": "share_worker.checkpoint.delete.error",
}


def ctx_dict(project: str | None = PROJECT, **kw: Any) -> dict:
    """A ``RequestContext.to_dict()`` as a caller sends it."""
    return o_context.RequestContext(user_id="u1", project_id=project,
                                    request_id="req-unit", **kw).to_dict()


def rpc_request(ctxt: Any, cast: bool = False,
                key: str | None = None) -> wire.RpcRequest:
    """What the RPC server hands an endpoint method for a request with
    context *ctxt* (as sent: a dict, or anything a hostile caller
    sends)."""
    return wire.RpcRequest(method="m", args={}, version="1.0",
                           namespace=None, ctxt=ctxt, unique_id=key,
                           msg_id=None if cast else "msg-1",
                           reply_q=None if cast else "reply-1")


class Caller:
    """A bare RPC client written from the contract (no serializer: it
    sends the context it is given as is, like a hostile caller may)."""

    def __init__(self, transport: Any, topic: str, endpoints: list,
                 version: str = "1.0") -> None:
        self.client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(
                exchange="share_worker", topic=topic, version=version),
            timeout=10)
        self._endpoints = endpoints

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        if not isinstance(ctxt, dict):
            # The wire carries a context as _context_* keys: no client
            # can send one that isn't a dict. The endpoint still refuses
            # it, as a caller would see it.
            endpoint = next(ep for ep in self._endpoints
                            if hasattr(ep, method))
            try:
                return getattr(endpoint, method)(rpc_request(ctxt),
                                                 **kwargs)
            except exception.ShareWorkerError as e:
                raise oslo_messaging.RemoteError(
                    type(e).__name__, e.message, []) from None
        return self.client.call(ctxt, method, **kwargs)

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        # A context that isn't a dict arrives as no context at all.
        self.client.cast(ctxt if isinstance(ctxt, dict) else {}, method,
                         **kwargs)

    def refused(self, ctxt: Any, method: str, **kwargs: Any
                ) -> oslo_messaging.RemoteError:
        """The RemoteError a call is refused with; fails otherwise."""
        with pytest.raises(oslo_messaging.RemoteError) as err:
            self.call(ctxt, method, **kwargs)
        assert err.value.exc_type in CONTRACT_ERRORS, (
            err.value.exc_type, err.value.value)
        assert err.value.value, "an empty error message"
        return err.value


@pytest.fixture
def manila():
    return fakes.FakeManila()


@pytest.fixture
def msg_conf(conf):
    messaging.register_opts(conf)
    conf.set_override("transport_url", "kombu+memory:////")
    conf.set_override("topic", "sw-unit-%s" % uuid.uuid4().hex[:8],
                      group="share_worker")
    conf.set_override("auth_strategy", "noauth", group="share_worker")
    conf.set_override("poll_interval", 0.05, group="share_worker")
    conf.set_override("retry_backoff", 0.01, group="share_worker")
    return conf


class Worker:
    """Engine + endpoints + RPC server on the memory transport."""

    def __init__(self, conf: Any, sqlite_url: str, manila: Any,
                 strategy: str, tokens: Any = None,
                 authorizer: Any = None) -> None:
        self.clients = fakes.FakeClients(manila)
        self.store = Store.from_url(sqlite_url)
        self.store.upgrade()
        self.sink = RecordingSink()
        self.engine = Engine(conf, self.store,
                             PluginRegistry.load(self.clients),
                             self.clients, sink=self.sink)
        self.transport = messaging.rpc_transport(conf)
        self.endpoints = [
            cls(self.engine, strategy, tokens, authorizer)
            for cls in (ProtectionEndpoint, ProtectablesEndpoint)]
        self.server = messaging.rpc_server(conf, self.endpoints)
        self.caller = Caller(self.transport, conf.share_worker.topic,
                             self.endpoints)
        self._stopped = False
        self.engine.start()
        assert self.server.start(wait=10), "the RPC server never consumed"

    def handled(self) -> int:
        """Requests the RPC server has handled (answered or refused)."""
        return self.server.handled

    def errors(self, event_type: str | None = None) -> list[dict]:
        """Payloads of the ``.error`` events published so far."""
        return [p for e, _, p in self.sink.events
                if e.endswith(".error") and event_type in (None, e)]

    def drain(self) -> None:
        """Stop consuming, let running handlers end, publish every
        pending event; afterwards ``sink.events`` is complete."""
        if self._stopped:
            return
        self._stopped = True
        self.server.stop()
        self.engine.stop()

    def stop(self) -> None:
        self.drain()
        self.store.dispose()
        self.transport.cleanup()


@pytest.fixture
def make_worker(msg_conf, sqlite_url, manila):
    workers = []

    def make(strategy: str = "noauth", tokens: Any = None,
             policy_file: str | None = None, **overrides: Any) -> Worker:
        for key, value in overrides.items():
            msg_conf.set_override(key, value, group="share_worker")
        authorizer = None
        if policy_file is not None:
            authorizer = Authorizer(msg_conf)     # registers the group
            msg_conf.set_override("policy_file", policy_file,
                                  group="oslo_policy")
            authorizer = Authorizer(msg_conf)
        worker = Worker(msg_conf, sqlite_url, manila, strategy, tokens,
                        authorizer)
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


@pytest.fixture
def worker(make_worker):
    return make_worker()


@pytest.fixture
def caller(worker):
    return worker.caller


def available_checkpoint(worker: Worker, manila: Any,
                         checkpoint_id: str = "cp-ok") -> dict:
    """A checkpoint of PROJECT that reached ``available``."""
    share = manila.add_share(project_id=PROJECT)
    worker.caller.call(ctx_dict(), "protect",
                       resource={"type": SHARE, "id": share.id},
                       checkpoint_id=checkpoint_id)
    snap = wait_for(lambda: [s for s in manila.snapshots.items.values()
                             if s.share_id == share.id],
                    what="the snapshot to be created")[0]
    snap.status = "available"
    return worker.sink.wait(checkpoint_id,
                            "share_worker.checkpoint.protect.end")


@pytest.fixture
def quiet_server_log(caplog):
    """Fails the test if the RPC server logged an exception (a failure
    that escaped the endpoints)."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    escaped = [r for r in caplog.records
               if r.name.startswith(("oslo_messaging",
                                     "share_worker.amqp.consumer"))
               and r.levelno >= logging.ERROR]
    assert not escaped, [r.getMessage() for r in escaped]
