"""Checks the Keystone token a request carries (``auth_strategy = keystone``).

A context arrives as JSON from the bus: its ``project_id``, ``user`` and
``is_admin`` are whatever the sender wrote. Before the worker acts on it,
the token is validated with Keystone (``GET /v3/auth/tokens`` with the
worker's service credentials) and the context's identity is replaced by
the token's::

    tokens = TokenValidator(factory.service_session, cache_seconds=60)
    ctx = tokens.authenticate(ctx)   # or Forbidden, saying why
    ctx.roles, ctx.is_admin          # from Keystone, not from the sender

A token Keystone does not know (invalid, expired, revoked), one scoped to
another project than the context names, or one without a project is
refused with ``Forbidden``. Valid tokens are remembered for
*cache_seconds* (never past their expiry), so a revoked token is refused
at most that long after its revocation.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from oslo_context import context as o_context

from share_worker import exception

LOG = logging.getLogger(__name__)

_IDENTITY = {"service_type": "identity", "version": (3, 0)}
#: failures that pass: no answer, a timeout, a 5xx while the worker gets
#: its own token; the request is kept and tried again
#: (IdentityUnavailable). A certificate that does not verify is not one.
_PASSING = (ks_exc.ConnectFailure, ks_exc.ConnectTimeout,
            ks_exc.UnknownConnectionError, ks_exc.RequestTimeout,
            ks_exc.HttpServerError, ks_exc.DiscoveryFailure)
_CACHE_SIZE = 4096


class TokenValidator:
    """Validates request tokens with Keystone, with a small cache."""

    def __init__(self, session: Callable[[], ks_session.Session],
                 cache_seconds: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._session = session
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[dict, float]] = OrderedDict()

    def authenticate(self, ctx: o_context.RequestContext
                     ) -> o_context.RequestContext:
        """*ctx* with the identity of its token, or Forbidden."""
        token = _token_info(self._info(ctx.auth_token))
        if token["project_id"] != ctx.project_id:
            raise exception.Forbidden(
                reason="the request's token is scoped to project %s, not "
                       "to the context's project_id %s"
                       % (token["project_id"], ctx.project_id))
        if ctx.user_id and ctx.user_id != token["user_id"]:
            raise exception.Forbidden(
                reason="the request's token belongs to user %s, not to "
                       "the context's user %s"
                       % (token["user_id"], ctx.user_id))
        values = ctx.to_dict()
        values.update(user=token["user_id"], user_name=token["user_name"],
                      project_name=token["project_name"],
                      roles=token["roles"],
                      is_admin="admin" in token["roles"])
        return o_context.RequestContext.from_dict(values, overwrite=False)

    def _info(self, token: str) -> dict:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[1] > now:
                self._cache.move_to_end(key)
                return cached[0]
            self._cache.pop(key, None)
        body = self._ask_keystone(token)
        if self._cache_seconds > 0:
            until = min(now + self._cache_seconds,
                        now + _seconds_left(body))
            with self._lock:
                self._cache[key] = (body, until)
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return body

    def _ask_keystone(self, token: str) -> dict:
        try:
            resp = self._session().get(
                "/auth/tokens", endpoint_filter=_IDENTITY,
                headers={"X-Subject-Token": token}, raise_exc=False)
        except exception.ShareWorkerError:
            raise
        except _PASSING as e:
            raise exception.IdentityUnavailable(
                reason="%s (%s)" % (type(e).__name__, e)) from e
        except ks_exc.ClientException as e:
            LOG.warning("Could not validate a request token: %s", e)
            raise exception.Forbidden(
                reason="the request's token could not be validated: "
                       "%s; see the worker's log" % type(e).__name__) from e
        if resp.status_code >= 500 or resp.status_code == 408:
            raise exception.IdentityUnavailable(
                reason="Keystone answered HTTP %s" % resp.status_code)
        if resp.status_code in (401, 403):
            # Keystone answers 404 for a bad subject token: this is about
            # the worker's own credentials.
            LOG.error("Keystone refused the worker's own credentials to "
                      "validate tokens (HTTP %s)", resp.status_code)
            raise exception.Forbidden(
                reason="the worker may not validate tokens (HTTP %s from "
                       "Keystone); see its [manila_client] credentials"
                       % resp.status_code)
        if resp.status_code != 200:
            raise exception.Forbidden(
                reason="the request's token is invalid, expired or revoked "
                       "(Keystone answered HTTP %s)" % resp.status_code)
        return resp.json()["token"]


def _token_info(token: dict) -> dict:
    project = token.get("project")
    if not project:
        raise exception.Forbidden(
            reason="the request's token is not scoped to a project")
    user = token.get("user") or {}
    return {"project_id": project.get("id"),
            "project_name": project.get("name"),
            "user_id": user.get("id"), "user_name": user.get("name"),
            "roles": [r.get("name") for r in token.get("roles") or []]}


def _seconds_left(token: dict) -> float:
    expires = token.get("expires_at")
    if not expires:
        return 0.0
    try:
        at = datetime.datetime.fromisoformat(expires.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    now = datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (at - now).total_seconds())
