"""Who a policy's automatic operations act as in Manila: the owner.

Scheduled and event-triggered checkpoints are made with the identity of
the policy's project, never as an admin, so their snapshots belong to
the share's project::

    actor = owner_actor(conf, clients.service_session)
    trust_id = actor.delegate(ctx)     # at create_policy, as the caller
    ctx = actor.context(policy_row)    # at each run: acts as the owner
    actor.revoke(policy_row.trust_id, ctx)   # at delete_policy

In keystone mode that is a Keystone trust from the policy's creator to
the worker's service user (from ``[manila_client]``, password auth) in
the policy's project, delegating only ``[share_worker] trust_roles``
(default ``member``: what protecting a share needs; never admin), with
no impersonation and no redelegation; in noauth mode it is simply the
policy's project. Every Keystone request waits at most ``[manila_client]
timeout`` seconds.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from keystoneauth1.identity import v3
from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import exception

LOG = logging.getLogger(__name__)
_GROUP = "manila_client"


def _request_id() -> str:
    return "req-" + str(uuid.uuid4())


class ProjectActor:
    """noauth: Manila trusts the project id; nothing to delegate."""

    def delegate(self, ctx: o_context.RequestContext) -> str | None:
        return None

    def revoke(self, trust_id: str | None,
               ctx: o_context.RequestContext | None = None) -> None:
        return None

    def context(self, policy: Any) -> o_context.RequestContext:
        return o_context.RequestContext(
            user_id=policy.user_id, project_id=policy.project_id,
            request_id=_request_id(), overwrite=False)


class TrustActor:
    """keystone: a trust from the policy's creator to the service user."""

    def __init__(self, conf: cfg.ConfigOpts,
                 service_session: Callable[[], ks_session.Session] | None
                 ) -> None:
        """*service_session*: the worker's own Keystone session (the
        Manila client factory's, from ``[manila_client]``)."""
        self._conf = conf
        self._service = service_session
        self._lock = threading.Lock()
        self._auths: dict[str, v3.Password] = {}

    def _service_session(self) -> ks_session.Session:
        if self._service is None:
            raise exception.ConfigurationError(
                reason="auth_strategy = keystone needs the worker's Keystone "
                       "session for trusts")
        return self._service()

    def _identity_url(self) -> str:
        self._service_session()          # registers the plugin's options
        url = (self._conf[_GROUP].auth_url or "").rstrip("/")
        if not url:
            raise exception.ConfigurationError(
                reason="[manila_client] auth_url is needed for Keystone "
                       "trusts")
        return url if url.endswith("/v3") else url + "/v3"

    def _timeout(self) -> float:
        return float(self._conf[_GROUP].timeout or 60)

    def _as_caller(self, ctx: o_context.RequestContext) -> ks_session.Session:
        return ks_session.Session(auth=token_endpoint.Token(
            self._identity_url(), ctx.auth_token), timeout=self._timeout())

    def _roles(self, ctx: o_context.RequestContext) -> list[str]:
        """The roles to delegate: those the policy's operations need,
        each of which the caller must hold."""
        wanted = list(self._conf.share_worker.trust_roles)
        missing = [r for r in wanted if r not in (ctx.roles or [])]
        if missing:
            raise exception.Forbidden(
                reason="a protection policy acts with role(s) %s in the "
                       "project, which this request's token does not hold"
                       % ", ".join(missing))
        return wanted

    def delegate(self, ctx: o_context.RequestContext) -> str:
        """Create the trust with the caller's token; its id. The context's
        user, project and roles are its token's (the RPC endpoints
        validate each token with Keystone), and Keystone refuses a trust
        of rights the caller does not hold."""
        url = self._identity_url()
        roles = self._roles(ctx)
        try:
            trustee = self._service_session().get_user_id()
            body = {"trust": {
                "trustor_user_id": ctx.user_id,
                "trustee_user_id": trustee, "project_id": ctx.project_id,
                "impersonation": False,
                "roles": [{"name": role} for role in roles],
                "allow_redelegation": False}}
            trust = self._as_caller(ctx).post(
                url + "/OS-TRUST/trusts", json=body).json()["trust"]
        except (ks_exc.Unauthorized, ks_exc.Forbidden, ks_exc.NotFound) as e:
            raise exception.Forbidden(
                reason="Keystone refused to delegate role(s) %s to the "
                       "worker (HTTP %s)" % (", ".join(roles),
                                             getattr(e, "http_status", None))
            ) from e
        except ks_exc.ClientException as e:
            raise exception.ManilaUnavailable(
                reason="Keystone: could not create a trust: %s"
                       % type(e).__name__) from e
        # the trust id is a credential of sorts: never logged
        LOG.info("Trust made: user %s of project %s delegates role(s) %s "
                 "to the worker", ctx.user_id, ctx.project_id,
                 ", ".join(roles))
        return trust["id"]

    def revoke(self, trust_id: str | None,
               ctx: o_context.RequestContext | None = None) -> None:
        """Delete the trust: as the caller (its trustor may delete it),
        else with the service's rights; a failure is logged."""
        if not trust_id:
            return
        with self._lock:
            self._auths.pop(trust_id, None)
        url = "%s/OS-TRUST/trusts/%s" % (self._identity_url(), trust_id)
        sessions = [self._service_session()]
        if ctx is not None and ctx.auth_token:
            sessions.insert(0, self._as_caller(ctx))
        for sess in sessions:
            try:
                sess.delete(url)
                LOG.info("A policy's trust was deleted")
                return
            except ks_exc.NotFound:
                return
            except ks_exc.ClientException as e:
                LOG.debug("A policy's trust: delete refused: %s",
                          type(e).__name__)
        LOG.warning("A policy's trust could not be deleted; list the "
                    "worker's trusts in Keystone (openstack trust list) and "
                    "delete it")

    def context(self, policy: Any) -> o_context.RequestContext:
        """A context with a trust-scoped token: acts as the creator."""
        if not policy.trust_id:
            raise exception.Forbidden(
                reason="policy %s has no Keystone trust to act with"
                       % policy.id)
        timeout = self._timeout()
        with self._lock:
            auth = self._auths.get(policy.trust_id)
        if auth is None:
            group = self._conf[_GROUP]
            self._service_session()
            auth = v3.Password(
                auth_url=self._identity_url(), username=group.username,
                user_id=getattr(group, "user_id", None),
                password=group.password,
                user_domain_name=getattr(group, "user_domain_name", None),
                user_domain_id=getattr(group, "user_domain_id", None),
                trust_id=policy.trust_id)
            with self._lock:
                self._auths[policy.trust_id] = auth
        sess = ks_session.Session(auth=auth, timeout=timeout)
        try:
            token = sess.get_token()
            user_id = sess.get_user_id()
        except (ks_exc.Unauthorized, ks_exc.Forbidden, ks_exc.NotFound) as e:
            raise exception.Forbidden(
                reason="policy %s: its Keystone trust no longer works "
                       "(HTTP %s); update or re-create the policy"
                       % (policy.id, getattr(e, "http_status", None))
            ) from e
        except ks_exc.ClientException as e:
            raise exception.ManilaUnavailable(
                reason="Keystone: trust token: %s" % type(e).__name__
            ) from e
        return o_context.RequestContext(
            auth_token=token, user_id=user_id,
            project_id=policy.project_id, request_id=_request_id(),
            overwrite=False)


def owner_actor(conf: cfg.ConfigOpts,
                service_session: Callable[[], ks_session.Session] | None
                ) -> ProjectActor | TrustActor:
    """The actor for ``[share_worker] auth_strategy``; *service_session*
    is used in keystone mode only."""
    if conf.share_worker.auth_strategy == "noauth":
        return ProjectActor()
    return TrustActor(conf, service_session)
