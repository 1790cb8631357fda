"""What every endpoint method shares: context, arguments, errors.

An endpoint method is declared with :func:`rpc_method`; it receives a
checked ``RequestContext`` and only the contract's arguments::

    class Endpoint:
        target = oslo_messaging.Target(version="1.0")

        @rpc_method("checkpoint_id")
        def show_checkpoint(self, ctx, checkpoint_id):
            return self.engine.show_checkpoint(ctx, checkpoint_id)

Errors are the contract's exception classes; callers see them as
``RemoteError`` with that ``exc_type``. Anything else (a bug) is logged
and reaches the caller as ``InvalidState`` never as a traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

import oslo_messaging
from oslo_context import context as o_context
from oslo_serialization import jsonutils

from share_worker import exception

LOG = logging.getLogger(__name__)

_dispatch = threading.local()


def set_dispatching_cast(is_cast: bool) -> None:
    """Called by the RPC dispatcher around each message it dispatches."""
    _dispatch.is_cast = is_cast


def dispatching_cast() -> bool:
    """True while an endpoint runs for a cast (nobody waits for a reply)."""
    return bool(getattr(_dispatch, "is_cast", False))


class ContextSerializer(oslo_messaging.NoOpSerializer):
    """Contexts travel as ``RequestContext.to_dict()``; payloads as JSON
    primitives. A context that isn't a dict is kept as is and refused by
    the endpoint, so a hostile message can't break the dispatcher."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return jsonutils.to_primitive(entity, convert_instances=True)

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt.to_dict() if hasattr(ctxt, "to_dict") else ctxt

    def deserialize_context(self, ctxt: Any) -> Any:
        if isinstance(ctxt, dict):
            try:
                return o_context.RequestContext.from_dict(ctxt)
            except Exception:  # noqa: BLE001 - reported by the endpoint
                return ctxt
        return ctxt


def request_context(ctxt: Any, strategy: str) -> o_context.RequestContext:
    """The caller's context, or Forbidden saying what is missing."""
    if not isinstance(ctxt, o_context.RequestContext):
        raise exception.Forbidden(
            reason="the request context must be a RequestContext.to_dict() "
                   "dict, not %s" % type(ctxt).__name__)
    if not ctxt.project_id:
        raise exception.Forbidden(reason="the request context names no "
                                         "project_id")
    if strategy == "keystone" and not ctxt.auth_token:
        raise exception.Forbidden(
            reason="the request context carries no auth_token (the worker "
                   "runs with auth_strategy = keystone)")
    return ctxt


def rpc_method(*names: str, operation: str | None = None) -> Callable:
    """Expose an endpoint method taking exactly the contract's *names*.

    For an *operation* (protect, restore, delete), a refused cast is
    reported on the bus as that operation's ``.error`` event.
    """

    def decorate(fn: Callable) -> Callable:
        params = inspect.signature(fn).parameters
        required = [n for n in names
                    if params[n].default is inspect.Parameter.empty]

        @oslo_messaging.expose
        @oslo_messaging.expected_exceptions(*exception.CONTRACT_ERRORS)
        @functools.wraps(fn)
        def method(self: Any, ctxt: Any, **kwargs: Any) -> Any:
            cast = dispatching_cast()
            try:
                unknown = sorted(set(kwargs) - set(names))
                if unknown:
                    raise exception.InvalidInput(
                        reason="%s takes no argument(s) %s; it takes %s" % (
                            fn.__name__, ", ".join(unknown),
                            ", ".join(names) or "none"))
                missing = [n for n in required if n not in kwargs]
                if missing:
                    raise exception.InvalidInput(
                        reason="%s needs argument(s) %s" % (
                            fn.__name__, ", ".join(missing)))
                ctx = request_context(ctxt, self.auth_strategy)
                return fn(self, ctx, **kwargs)
            except exception.ShareWorkerError as e:
                if not isinstance(e, exception.CONTRACT_ERRORS):
                    e = exception.InvalidState(reason=e.message)
                LOG.warning("RPC %s %s refused: %s: %s (request %s)",
                            "cast" if cast else "call", fn.__name__,
                            e.code, e.message, _request_id(ctxt))
                if cast and operation is not None:
                    self.engine.report_rejected(operation, ctxt, kwargs, e)
                raise e from None
            except Exception:
                LOG.exception("RPC %s failed (request %s)", fn.__name__,
                              _request_id(ctxt))
                raise exception.InvalidState(
                    reason="internal error in %s; see the worker's log "
                           "for request %s" % (fn.__name__,
                                               _request_id(ctxt))
                ) from None

        return method

    return decorate


def _request_id(ctxt: Any) -> Any:
    return getattr(ctxt, "request_id", None) or (
        ctxt.get("request_id") if isinstance(ctxt, dict) else None)
