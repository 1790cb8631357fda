"""oslo.messaging's wire format (message format 2.0), read and written
without oslo.messaging's drivers, so share_worker can consume and publish
with kombu on its own terms (acknowledgements, publisher confirms) while
any ``oslo_messaging.RPCClient`` or notification listener sees no
difference::

    >>> body = encode({"method": "protect", "args": {}, "version": "1.0",
    ...                "_unique_id": "u1", "_context_project_id": "p1"})
    >>> sorted(body)
    ['oslo.message', 'oslo.version']
    >>> request = parse_request(decode(body))
    >>> request.method, request.ctxt, request.is_cast
    ('protect', {'project_id': 'p1'}, True)

A message that is not in this format raises :class:`BadMessage` naming
what is wrong; nothing here raises anything else on input.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

ENVELOPE_VERSION = "2.0"
_VERSION_KEY = "oslo.version"
_MESSAGE_KEY = "oslo.message"
_CONTEXT_PREFIX = "_context_"
_VERSION_RE = re.compile(r"\d+\.\d+(\.\d+)?")
#: longest method name, id or queue name taken from a message
_MAX_NAME = 255
#: oslo.messaging's own failures, as its RPC server reports them
NO_SUCH_METHOD = ("NoSuchMethod", "oslo_messaging.rpc.dispatcher")
UNSUPPORTED_VERSION = ("UnsupportedVersion", "oslo_messaging.rpc.dispatcher")


class BadMessage(Exception):
    """Raised when a message is not in oslo.messaging's wire format; it
    says what is wrong, and keeps the reply address when one was read
    (so a caller waiting for an answer still gets one)."""

    def __init__(self, reason: str, msg_id: str | None = None,
                 reply_q: str | None = None) -> None:
        super().__init__(reason)
        self.msg_id = msg_id
        self.reply_q = reply_q


@dataclasses.dataclass
class RpcRequest:
    """One RPC request: a call has a ``msg_id`` and a ``reply_q``."""

    method: str
    args: dict
    version: str
    namespace: str | None
    ctxt: dict
    unique_id: str | None
    msg_id: str | None = None
    reply_q: str | None = None
    #: the caller's call-monitor timeout (seconds), if it asked for one
    call_monitor: float | None = None
    #: bytes of the message as it came off the wire
    size: int = 0

    @property
    def is_cast(self) -> bool:
        return self.reply_q is None

    @property
    def key(self) -> str | None:
        """What tells this request from any other, the same on every
        redelivery of it: its ``_unique_id``."""
        return self.unique_id


@dataclasses.dataclass
class Notification:
    """One notification as oslo.messaging's notifiers send it."""

    message_id: str
    publisher_id: str
    event_type: str
    priority: str
    payload: Any
    timestamp: str
    ctxt: dict


def encode(message: dict) -> dict:
    """*message* in the 2.0 envelope."""
    return {_VERSION_KEY: ENVELOPE_VERSION,
            _MESSAGE_KEY: json.dumps(message)}


def decode(body: Any) -> dict:
    """The message inside *body* (the 2.0 envelope, or a bare 1.0 dict)."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            raise BadMessage("the body is not UTF-8 text") from None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            raise BadMessage("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadMessage("the body is JSON %s, not an object"
                         % type(body).__name__)
    if _VERSION_KEY not in body and _MESSAGE_KEY not in body:
        return body                         # message format 1.0
    if body.get(_VERSION_KEY) != ENVELOPE_VERSION:
        raise BadMessage("envelope version %s is not %s" % (
            _quote(body.get(_VERSION_KEY)), ENVELOPE_VERSION))
    inner = body.get(_MESSAGE_KEY)
    if not isinstance(inner, str):
        raise BadMessage("the envelope's oslo.message is not a string")
    try:
        message = json.loads(inner)
    except ValueError:
        raise BadMessage("the envelope's oslo.message is not JSON") from None
    if not isinstance(message, dict):
        raise BadMessage("the envelope's oslo.message is %s, not an object"
                         % type(message).__name__)
    return message


def context_of(message: dict) -> dict:
    """The ``_context_*`` keys of *message*, without their prefix."""
    return {key[len(_CONTEXT_PREFIX):]: value
            for key, value in message.items()
            if isinstance(key, str) and key.startswith(_CONTEXT_PREFIX)}


def parse_request(message: dict) -> RpcRequest:
    """An RPC request from a decoded message, or BadMessage."""
    msg_id = _name_or_none(message.get("_msg_id"))
    reply_q = _name_or_none(message.get("_reply_q"))
    if msg_id is None or reply_q is None:
        msg_id = reply_q = None         # nowhere to answer: a cast

    def bad(reason: str) -> BadMessage:
        return BadMessage(reason, msg_id, reply_q)

    method = message.get("method")
    if not isinstance(method, str):
        raise bad("the message names no method (method is %s)"
                  % _quote(method))
    if len(method) > _MAX_NAME:
        raise bad("the method name is longer than %d characters"
                  % _MAX_NAME)
    args = message.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, dict) or not all(isinstance(k, str)
                                             for k in args):
        raise bad("%s: args must be an object of named arguments, not %s"
                  % (method, type(args).__name__))
    version = message.get("version") or "1.0"
    if not isinstance(version, str) or not _VERSION_RE.fullmatch(version):
        raise bad("%s: version must be a string like \"1.0\", not %s"
                  % (method, _quote(version)))
    namespace = message.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise bad("%s: namespace must be a string or null" % method)
    monitor = message.get("_timeout")
    if isinstance(monitor, bool) or not isinstance(monitor, (int, float)) \
            or monitor <= 0:
        monitor = None
    return RpcRequest(
        method=method, args=args, version=version, namespace=namespace,
        ctxt=context_of(message),
        unique_id=_name_or_none(message.get("_unique_id")),
        msg_id=msg_id, reply_q=reply_q, call_monitor=monitor)


def reply(msg_id: str, result: Any = None, failure: str | None = None,
          ending: bool = True, unique_id: str | None = None) -> dict:
    """The reply to call *msg_id*, in its envelope; *failure* is one
    :func:`failure` made. ``ending=False`` is a call-monitor heartbeat."""
    message = {"result": result, "failure": failure, "ending": ending,
               "_msg_id": msg_id}
    if unique_id is not None:
        message["_unique_id"] = unique_id
    return encode(message)


def failure(class_name: str, module: str, message: str) -> str:
    """A failure as oslo.messaging serialises one: a caller rebuilds it
    as ``RemoteError(exc_type=class_name, value=message)``. No server
    traceback is sent, only the exception's own line."""
    return json.dumps({
        "class": class_name, "module": module, "message": message,
        "tb": ["%s: %s\n" % (class_name, message)],
        "args": [message], "kwargs": {}})


def parse_notification(message: dict) -> Notification:
    """A notification from a decoded message, or BadMessage naming the
    field that is missing or of the wrong type."""
    fields = {}
    for name in ("message_id", "publisher_id", "event_type", "priority",
                 "timestamp"):
        value = message.get(name)
        if not isinstance(value, str) or not value:
            raise BadMessage("%s is %s, not a non-empty string"
                             % (name, _quote(value)))
        if len(value) > _MAX_NAME:
            raise BadMessage("%s is longer than %d characters"
                             % (name, _MAX_NAME))
        fields[name] = value
    if "payload" not in message:
        raise BadMessage("the notification has no payload")
    return Notification(payload=message["payload"],
                        ctxt=context_of(message), **fields)


def notification(message_id: str, publisher_id: str, event_type: str,
                 priority: str, payload: Any, timestamp: str,
                 ctxt: dict, version: float = 2.0) -> dict:
    """A notification as oslo.messaging's ``messagingv2`` driver sends
    it (``messaging``, format 1.0, without the envelope)."""
    message = dict(message_id=message_id, publisher_id=publisher_id,
                   event_type=event_type, priority=priority,
                   payload=payload, timestamp=timestamp,
                   _unique_id=message_id)
    message.update((_CONTEXT_PREFIX + key, value)
                   for key, value in ctxt.items())
    return encode(message) if version == 2.0 else message


def _name_or_none(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_NAME:
        return value
    return None


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 64 else text[:64] + "..."
