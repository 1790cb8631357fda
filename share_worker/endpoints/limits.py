"""Sizes a request may have (DESIGN section 3.2), checked before
anything is looked up or stored::

    limits.check_context(raw_ctxt)        # InvalidInput naming the field
    limits.check_arguments({"options": {"share_id": "x" * 300}})
    # InvalidInput: options.share_id is 300 characters long; at most 255
    limits.check_request_size(300_000)

Ids (any key named ``id`` or ending in ``_id``, and the context's
``user``, ``project``, ``tenant`` and domains) and the names Manila
bounds (``snapshot_name``, ``description``, ``restore_name``,
``restore_description``) are at most 255 characters; any other string,
object key included, at most 4 KiB; a whole request as sent at most
256 KiB.
"""

from __future__ import annotations

from typing import Any

from share_worker import exception

MAX_ID = 255
MAX_STRING = 4096
MAX_REQUEST = 256 * 1024
#: Manila's own limits on what these become
MANILA_BOUNDED = frozenset({"snapshot_name", "description", "restore_name",
                            "restore_description", "share_id"})
#: context keys that hold ids without saying so
CONTEXT_IDS = frozenset({"user", "tenant", "project", "domain",
                         "user_domain", "project_domain"})
#: longest field name quoted in an error
_MAX_PATH = 128


def _limit(key: str | None) -> int:
    if key is None:
        return MAX_STRING
    if key in MANILA_BOUNDED or key in CONTEXT_IDS or key == "id" or \
            key.endswith("_id"):
        return MAX_ID
    return MAX_STRING


def _name(path: str) -> str:
    text = path if len(path) <= _MAX_PATH else path[:_MAX_PATH] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _check(value: Any, path: str, key: str | None) -> None:
    """Walk *value* (JSON) without recursion: a deep one can't blow the
    stack."""
    stack = [(value, path, key)]
    while stack:
        item, where, name = stack.pop()
        if isinstance(item, str):
            limit = _limit(name)
            if len(item) > limit:
                raise exception.InvalidInput(
                    reason="%s is %d characters long; at most %d" % (
                        _name(where), len(item), limit))
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and len(k) > MAX_STRING:
                    raise exception.InvalidInput(
                        reason="%s has a key of %d characters; at most %d"
                               % (_name(where), len(k), MAX_STRING))
                sub = "%s.%s" % (where, k) if where else str(k)
                stack.append((v, sub, k if isinstance(k, str) else None))
        elif isinstance(item, (list, tuple)):
            for i, v in enumerate(item):
                stack.append((v, "%s[%d]" % (where, i), name))


def check_arguments(args: dict) -> None:
    """InvalidInput naming the first argument field that is too long."""
    _check(args, "", None)


def check_context(ctxt: Any) -> None:
    """InvalidInput naming the first context field that is too long."""
    if isinstance(ctxt, dict):
        _check(ctxt, "context", None)


def check_request_size(size: int) -> None:
    if size > MAX_REQUEST:
        raise exception.InvalidInput(
            reason="the request is %d bytes as sent; at most %d"
                   % (size, MAX_REQUEST))
