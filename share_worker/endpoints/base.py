"""What every endpoint method shares: context, arguments, errors.

An endpoint is an :class:`Endpoint`; its methods are declared with
:func:`rpc_method` and receive a checked ``RequestContext`` and only the
contract's arguments::

    class RecordsEndpoint(Endpoint):
        @rpc_method("checkpoint_id", rule="checkpoint:get")
        def show_checkpoint(self, ctx, checkpoint_id):
            return self.engine.show_checkpoint(ctx, checkpoint_id)

The RPC server (:mod:`share_worker.amqp.rpc`) calls the exposed method
with the request (its context dict, whether it is a cast, its unique
id) and the message's arguments; the method the decorator wraps sees a
:class:`Call` instead, whose ``key`` names the request the same way on
every redelivery of it. A method may give a result pending on the
store's commit (:class:`share_worker.pending.Pending`); its errors are
answered as the method's own.

An endpoint has ``engine``, ``auth_strategy``, ``tokens`` (a
:class:`share_worker.clients.keystone.TokenValidator` under
``auth_strategy = keystone``, which replaces the context's identity by
its token's) and ``authorizer`` (:mod:`share_worker.authorization`):
every method names its oslo.policy rule, checked before any work. In
noauth mode there is no identity to check: the caller is a member of the
project its context names, whatever roles or ``is_admin`` it claims.

Errors are the contract's exception classes; callers see them as
``RemoteError`` with that ``exc_type``. A refused cast publishes its
``.error`` event only once its caller is authenticated, inside the
caller's project; one whose token or context can't be trusted is only
logged. Anything else (a bug) is logged
and reaches the caller as ``InvalidState`` never as a traceback; a store
that can't be reached (``StoreUnavailable``), or a Keystone that can't
validate a token for now (``IdentityUnavailable``), goes back to the server,
which keeps the request and tries it again.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

import oslo_messaging
from oslo_context import context as o_context

from share_worker import exception, rpcapi
from share_worker.authorization import NOAUTH_ROLES, RULE_NAMES, Authorizer
from share_worker.authorization import PREFIX as RULE_PREFIX
from share_worker.clients.keystone import TokenValidator
from share_worker.endpoints import limits
from share_worker.pending import Pending

LOG = logging.getLogger(__name__)

#: longest error message sent back or logged: a hostile argument echoed
#: in a message must not turn into a megabyte reply, event and log line
MAX_MESSAGE = 1024
#: longest argument name or request id quoted in a message or log line
MAX_NAME = 64

_CONTEXT_TYPES = (("project_id", str), ("user_id", str),
                  ("auth_token", str), ("request_id", str),
                  ("is_admin", bool))
_CONTEXT_KEYS = {"user_id": "user"}
_KIND_NAMES = {str: "a string", bool: "a boolean"}


class Endpoint:
    """An RPC endpoint of the contract's version (``rpcapi.
    RPC_API_VERSION``, which serves callers of earlier 1.x too): the
    engine it hands requests to, how contexts are authenticated, the
    token validator of keystone mode, and the authorizer (default: the
    rules in code)."""

    target = oslo_messaging.Target(version=rpcapi.RPC_API_VERSION)

    def __init__(self, engine: Any, auth_strategy: str,
                 tokens: TokenValidator | None = None,
                 authorizer: Authorizer | None = None) -> None:
        self.engine = engine
        self.auth_strategy = auth_strategy
        self.tokens = tokens
        self.authorizer = authorizer or Authorizer()

    def authenticate(self, ctxt: Any) -> o_context.RequestContext:
        """The caller's context (as :func:`_context` parsed it), checked:
        in keystone mode its identity is its token's; in noauth mode its
        claimed roles and is_admin are dropped. Forbidden saying what is
        wrong."""
        checked = request_context(ctxt, self.auth_strategy)
        if self.tokens is not None:
            return self.tokens.authenticate(checked)
        if self.auth_strategy == "noauth":
            # this request's own context, parsed for it: no copy needed
            checked.roles = list(NOAUTH_ROLES)
            checked.is_admin = False
        return checked

    def all_projects(self, ctx: o_context.RequestContext, filters: Any,
                     rule: str) -> bool:
        """Whether a list asks for every project (``filters``
        ``{"all_projects": true}``), which *rule* must allow; Forbidden
        naming it otherwise."""
        if not isinstance(filters, dict) or "all_projects" not in filters:
            return False
        wanted = filters["all_projects"]
        if not isinstance(wanted, bool):
            raise exception.InvalidInput(
                reason="filter all_projects must be true or false, not %s"
                       % type(wanted).__name__)
        if wanted:
            self.authorizer.authorize(rule, ctx)
        return wanted


@dataclasses.dataclass(frozen=True)
class Call:
    """What an endpoint method knows of the request besides its
    arguments: whether it is a cast (nobody waits for a reply) and its
    key (``None`` when the message carried no unique id)."""

    is_cast: bool = False
    key: str | None = None


def _context(raw: Any) -> Any:
    """The request's context as a RequestContext; anything that isn't a
    context dict is kept as is and refused by :func:`request_context`,
    so a hostile message can't break the dispatch."""
    if isinstance(raw, dict):
        try:
            # not the thread's logging context until it is authenticated
            return o_context.RequestContext.from_dict(raw, overwrite=False)
        except Exception:  # noqa: BLE001 - reported by request_context
            return raw
    return raw


def request_context(ctxt: Any, strategy: str) -> o_context.RequestContext:
    """The caller's context, or Forbidden saying what is wrong with it."""
    if not isinstance(ctxt, o_context.RequestContext):
        raise exception.Forbidden(
            reason="the request context must be a RequestContext.to_dict() "
                   "dict, not %s" % type(ctxt).__name__)
    if not ctxt.project_id:
        raise exception.Forbidden(reason="the request context names no "
                                         "project_id")
    # A context is JSON from the bus: a value of the wrong type (an
    # is_admin of "false", a project_id list) must not be taken on trust.
    for key, kinds in _CONTEXT_TYPES:
        value = getattr(ctxt, key, None)
        if value is not None and not isinstance(value, kinds):
            raise exception.Forbidden(
                reason="the request context's %s must be %s, not %s" % (
                    _CONTEXT_KEYS.get(key, key), _KIND_NAMES[kinds],
                    type(value).__name__))
    if not isinstance(ctxt.roles, list) or not all(
            isinstance(r, str) for r in ctxt.roles):
        raise exception.Forbidden(
            reason="the request context's roles must be a list of strings")
    if strategy == "keystone" and not ctxt.auth_token:
        raise exception.Forbidden(
            reason="the request context carries no auth_token (the worker "
                   "runs with auth_strategy = keystone)")
    return ctxt


def rpc_method(*names: str, rule: str,
               operation: str | None = None) -> Callable:
    """Expose an endpoint method taking exactly the contract's *names*
    (and the :class:`Call`, if it has a ``call`` parameter), allowed by
    the oslo.policy *rule* (``share_worker:<rule>``).

    For an *operation* (protect, restore, delete), a refused cast of an
    authenticated caller is reported on the bus as that operation's
    ``.error`` event.
    """
    if RULE_PREFIX + rule not in RULE_NAMES:
        raise ValueError("no policy rule %s%s" % (RULE_PREFIX, rule))

    def decorate(fn: Callable) -> Callable:
        params = inspect.signature(fn).parameters
        required = [n for n in names
                    if params[n].default is inspect.Parameter.empty]
        #: the method takes the Call after the context
        wants_call = "call" in params

        @oslo_messaging.expose
        @functools.wraps(fn)
        def method(self: Any, request: Any, /, **kwargs: Any) -> Any:
            call = Call(is_cast=bool(request.is_cast), key=request.key)
            ctxt = _context(request.ctxt)
            checked: list = []          # the context, once authenticated

            def run() -> Any:
                limits.check_context(request.ctxt)
                ctx = self.authenticate(ctxt)
                checked.append(ctx)
                ctx.update_store()      # this thread's log lines name it
                self.authorizer.authorize(rule, ctx)
                _check_arguments(fn.__name__, kwargs, names, required)
                limits.check_arguments(kwargs)
                limits.check_request_size(getattr(request, "size", 0))
                if wants_call:
                    return fn(self, ctx, call, **kwargs)
                return fn(self, ctx, **kwargs)

            def guarded(produce: Callable[[], Any]) -> Any:
                """What *produce* gives, or a pending result whose own
                errors are answered alike."""
                try:
                    value = produce()
                except exception.Unavailable:
                    raise                  # the server tries again later
                except exception.ShareWorkerError as e:
                    error = _contract_error(e)
                    LOG.warning("RPC %s %s refused: %s: %s (request %s)",
                                "cast" if call.is_cast else "call",
                                fn.__name__, error.code, error.message,
                                _request_id(ctxt))
                except Exception:
                    LOG.exception("RPC %s %s failed (request %s)",
                                  "cast" if call.is_cast else "call",
                                  fn.__name__, _request_id(ctxt))
                    error = exception.InvalidState(
                        reason="internal error in %s; see the worker's log "
                               "for request %s" % (fn.__name__,
                                                   _request_id(ctxt)))
                else:
                    if isinstance(value, Pending):
                        return Pending(
                            value.future,
                            lambda future: guarded(
                                lambda: value.then(future)),
                            value.about)
                    return value
                if call.is_cast and operation is not None and checked:
                    # only an authenticated caller's project hears of it
                    _report(self.engine, operation, checked[0], kwargs,
                            error, call)
                raise error

            return guarded(run)

        return method

    return decorate


def _report(engine: Any, operation: str, ctxt: Any, kwargs: dict,
            error: exception.ShareWorkerError, call: Call) -> None:
    """Record a refused cast's ``.error`` event; a store that can't be
    reached goes back to the server (the cast is tried again)."""
    try:
        engine.report_rejected(operation, ctxt, kwargs, error, call.key)
    except exception.StoreUnavailable:
        raise
    except Exception:
        LOG.exception("Could not report the refused %s cast (request %s)",
                      operation, _request_id(ctxt))



def _check_arguments(method: str, kwargs: dict, names: tuple,
                     required: list) -> None:
    unknown = sorted(set(kwargs) - set(names), key=str)
    if unknown:
        raise exception.InvalidInput(
            reason="%s takes no argument(s) %s; it takes %s" % (
                method, ", ".join(_short(n) for n in unknown),
                ", ".join(names) or "none"))
    missing = [n for n in required if n not in kwargs]
    if missing:
        raise exception.InvalidInput(
            reason="%s needs argument(s) %s" % (method, ", ".join(missing)))


def _contract_error(error: exception.ShareWorkerError
                    ) -> exception.ShareWorkerError:
    """*error* as one of the contract's classes, its message bounded."""
    if not isinstance(error, exception.CONTRACT_ERRORS):
        return exception.InvalidState(reason=_bounded(error.message))
    if len(error.message) > MAX_MESSAGE:
        return type(error)(_bounded(error.message))
    return error


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    suffix = "... (%d characters)" % len(message)
    return message[:MAX_MESSAGE - len(suffix)] + suffix


def _short(value: Any) -> str:
    """*value* cut short, with control characters escaped: a newline in
    a hostile request id must not forge a line of the worker's log."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > MAX_NAME:
        text = text[:MAX_NAME] + "..."
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1]
                       for c in text)
    return text


def _request_id(ctxt: Any) -> str | None:
    """The request id for a log line; a hostile one is cut short."""
    value = getattr(ctxt, "request_id", None) or (
        ctxt.get("request_id") if isinstance(ctxt, dict) else None)
    return None if value is None else _short(value)
