"""Manila clients, built through keystoneauth1 from ``[manila_client]``.

The factory hands out python-manilaclient clients that act either as the
requesting user (their token in keystone mode, their project in noauth
mode) or as the worker's service identity (status polling). The API
microversion is negotiated once per endpoint::

    factory = ManilaClientFactory(conf)
    factory.check_config()                   # clear start-up errors
    client = factory.for_context(ctx)        # acts as the caller
    client.shares.get(share_id)
    poller = factory.for_polling("project-1")  # lists that project's objects
    poller.list_snapshots()

Errors from manilaclient and keystoneauth1 are translated into
share_worker's exceptions by :func:`manila_errors`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from manilaclient import api_versions
from manilaclient import client as manila_client
from manilaclient.common.apiclient import exceptions as m_exc
from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import exception
from share_worker.conf import manila_client as manila_conf

LOG = logging.getLogger(__name__)

REVERT_VERSION = api_versions.APIVersion("2.27")
SNAPSHOT_METADATA_VERSION = api_versions.APIVersion("2.73")
MIN_VERSION = api_versions.APIVersion("2.0")
_CLIENT_CACHE_SIZE = 512


@contextlib.contextmanager
def manila_errors(what: str) -> Iterator[None]:
    """Translate manilaclient/keystoneauth1 errors raised while doing *what*.

    404 -> ResourceNotFound, 413 -> QuotaExceeded, 401/403 -> Forbidden,
    5xx and connection failures -> ManilaUnavailable (retryable), any other
    4xx -> ManilaError.
    """
    try:
        yield
    except m_exc.NotFound as e:
        raise exception.ResourceNotFound(
            "%s: not found in Manila (%s)" % (what, _msg(e))) from e
    except m_exc.RequestEntityTooLarge as e:
        raise exception.QuotaExceeded(reason="%s: %s" % (what, _msg(e))) from e
    except (m_exc.Unauthorized, m_exc.Forbidden, ks_exc.Unauthorized) as e:
        raise exception.Forbidden(reason="%s: %s" % (what, _msg(e))) from e
    except m_exc.HttpServerError as e:
        raise exception.ManilaUnavailable(
            reason="%s: HTTP %s %s" % (what, e.http_status, _msg(e))) from e
    except m_exc.HttpError as e:
        raise exception.ManilaError(
            reason="%s: HTTP %s %s" % (what, e.http_status, _msg(e))) from e
    except (ks_exc.ConnectionError, requests.RequestException,
            m_exc.ConnectionError) as e:
        raise exception.ManilaUnavailable(
            reason="%s: %s" % (what, type(e).__name__)) from e
    except ks_exc.ClientException as e:
        raise exception.ManilaUnavailable(reason="%s: %s" % (what, e)) from e


def _msg(e: Exception) -> str:
    return getattr(e, "message", None) or str(e)


def _no_completion_cache(*_args: Any, **_kwargs: Any) -> Any:
    return contextlib.nullcontext()


def _disable_completion_cache(client: Any) -> None:
    """Stop manilaclient writing its shell completion cache.

    Every create and list appends ids to files under ~/.cache (for the
    CLI's tab completion), and the open file is kept on the manager
    object, which races when threads share a client. A service wants
    neither.
    """
    for name in ("shares", "share_snapshots", "share_types"):
        manager = getattr(client, name, None)
        if manager is not None and hasattr(manager, "completion_cache"):
            manager.completion_cache = _no_completion_cache


class ManilaClient:
    """A manilaclient ``Client`` plus what the worker needs to know of it."""

    def __init__(self, client: Any, version: api_versions.APIVersion,
                 project_id: str | None, all_tenants: bool) -> None:
        _disable_completion_cache(client)
        self.client = client
        self.version = version
        self.project_id = project_id
        self._all_tenants = all_tenants

    @property
    def shares(self) -> Any:
        return self.client.shares

    @property
    def snapshots(self) -> Any:
        return self.client.share_snapshots

    @property
    def share_types(self) -> Any:
        return self.client.share_types

    def supports_revert(self) -> bool:
        return self.version >= REVERT_VERSION

    def supports_snapshot_metadata(self) -> bool:
        return self.version >= SNAPSHOT_METADATA_VERSION

    def _scope(self, search_opts: dict | None) -> dict:
        opts = dict(search_opts or {})
        if self._all_tenants and self.project_id:
            opts.update(all_tenants=1, project_id=self.project_id)
        return opts

    def list_shares(self, search_opts: dict | None = None) -> list:
        with manila_errors("list shares of project %s" % self.project_id):
            return self.shares.list(detailed=True,
                                    search_opts=self._scope(search_opts))

    def list_snapshots(self, search_opts: dict | None = None) -> list:
        with manila_errors("list snapshots of project %s" % self.project_id):
            return self.snapshots.list(detailed=True,
                                       search_opts=self._scope(search_opts))


class ManilaClientFactory:
    """Builds :class:`ManilaClient` objects from one ``ConfigOpts``."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self._conf = conf
        self._group = manila_conf.GROUP.name
        self._mconf = conf[self._group]
        self._strategy = conf.share_worker.auth_strategy
        self._cap = api_versions.APIVersion(self._mconf.api_microversion)
        self._lock = threading.Lock()
        self._versions: dict[str, api_versions.APIVersion] = {}
        self._clients: OrderedDict[tuple, ManilaClient] = OrderedDict()
        self._http = _HTTPSession()
        adapter = requests.adapters.HTTPAdapter(pool_connections=4,
                                                pool_maxsize=64)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self._service_session: ks_session.Session | None = None

    # -- configuration ------------------------------------------------------

    def check_config(self) -> None:
        """Fail with ConfigurationError when Manila can't be reached."""
        if self._strategy == "noauth":
            if not self._mconf.endpoint_override:
                raise exception.ConfigurationError(
                    reason="[share_worker] auth_strategy = noauth needs "
                           "[manila_client] endpoint_override (the Manila "
                           "v2 endpoint, e.g. http://manila:8786/v2)")
            return
        if not self._mconf.auth_type:
            raise exception.ConfigurationError(
                reason="[share_worker] auth_strategy = keystone needs the "
                       "worker's service credentials in [manila_client] "
                       "(auth_type = password, auth_url, username, ...)")
        self.service_session()

    def service_session(self) -> ks_session.Session:
        """The keystoneauth1 session of the worker's service user."""
        with self._lock:
            if self._service_session is None:
                try:
                    auth = ks_loading.load_auth_from_conf_options(
                        self._conf, self._group)
                except ks_exc.ClientException as e:
                    raise exception.ConfigurationError(
                        reason="[manila_client] auth options: %s" % e) from e
                self._service_session = (
                    ks_loading.load_session_from_conf_options(
                        self._conf, self._group, auth=auth,
                        session=self._http))
            return self._service_session

    def _session(self, auth: Any) -> ks_session.Session:
        sess = ks_loading.load_session_from_conf_options(
            self._conf, self._group, auth=auth, session=self._http)
        return sess

    # -- endpoints and versions --------------------------------------------

    def _endpoint(self, project_id: str | None) -> str:
        if self._mconf.endpoint_override:
            endpoint = self._mconf.endpoint_override
        else:
            sess = self.service_session()
            with manila_errors("find the sharev2 endpoint in the catalog"):
                endpoint = sess.get_endpoint(
                    service_type=self._mconf.service_type,
                    interface=self._mconf.valid_interfaces,
                    region_name=self._mconf.region_name)
                own = sess.get_project_id()
            if not endpoint:
                raise exception.ConfigurationError(
                    reason="no %s endpoint in the Keystone catalog"
                           % self._mconf.service_type)
            # Old-style endpoints embed the project: act in the caller's.
            if own and project_id and endpoint.rstrip("/").endswith(own):
                endpoint = endpoint.rstrip("/")[: -len(own)] + project_id
        return endpoint.rstrip("/")

    def negotiated_version(self, endpoint: str) -> api_versions.APIVersion:
        """The microversion to use at *endpoint*: min(server max, cap)."""
        base = _version_root(endpoint)
        with self._lock:
            if base in self._versions:
                return self._versions[base]
        with manila_errors("discover Manila API versions at %s" % base):
            resp = self._http.get(base + "/", timeout=self._timeout())
            resp.raise_for_status()
            body = resp.json()
        version = _pick_version(body, self._cap)
        LOG.info("Manila at %s: using API microversion %s",
                 base, version.get_string())
        with self._lock:
            self._versions[base] = version
        return version

    def _timeout(self) -> float:
        return float(self._mconf.timeout or 60)

    # -- clients ------------------------------------------------------------

    def for_context(self, ctx: o_context.RequestContext) -> ManilaClient:
        """A client acting in Manila as the requesting user."""
        if not ctx.project_id:
            raise exception.Forbidden(reason="the request context names no "
                                             "project_id")
        if self._strategy == "noauth":
            token = "%s:%s" % (ctx.user_id or "share_worker", ctx.project_id)
        else:
            token = ctx.auth_token
            if not token:
                raise exception.Forbidden(
                    reason="the request context carries no auth_token "
                           "(auth_strategy = keystone)")
        return self._cached(("user", ctx.project_id, token),
                            ctx.project_id, token, all_tenants=False)

    def for_polling(self, project_id: str) -> ManilaClient:
        """A client listing *project_id*'s objects with service rights."""
        if self._strategy == "noauth":
            token = "share_worker:%s" % project_id
            return self._cached(("poll", project_id), project_id, token,
                                all_tenants=False)
        return self._cached(("poll", project_id), project_id, None,
                            all_tenants=True)

    def for_service(self) -> ManilaClient:
        """A client with the worker's own (admin) rights, e.g. to
        force-delete what a failed operation left in a busy status."""
        if self._strategy == "noauth":
            project = self._mconf.noauth_admin_project
            return self._cached(("service",), project,
                                "share_worker:%s" % project,
                                all_tenants=False)
        return self._cached(("service",), None, None, all_tenants=False)

    def _cached(self, key: tuple, project_id: str | None,
                token: str | None,
                all_tenants: bool) -> ManilaClient:
        with self._lock:
            client = self._clients.get(key)
            if client is not None:
                self._clients.move_to_end(key)
                return client
        client = self._build(project_id, token, all_tenants)
        with self._lock:
            self._clients[key] = client
            while len(self._clients) > _CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
        return client

    def _build(self, project_id: str | None, token: str | None,
               all_tenants: bool) -> ManilaClient:
        endpoint = self._endpoint(None if token is None else project_id)
        version = self.negotiated_version(endpoint)
        if token is None:
            sess = self.service_session()
        else:
            sess = self._session(token_endpoint.Token(endpoint, token))
        client = manila_client.Client(
            version, session=sess, service_catalog_url=endpoint,
            region_name=self._mconf.region_name,
            service_type=self._mconf.service_type)
        return ManilaClient(client, version, project_id, all_tenants)


class _HTTPSession(requests.Session):
    """A requests.Session that reads the environment (proxies, CA bundle)
    once per host instead of on every request: requests rescans os.environ
    and looks for ~/.netrc each time, a third of a Manila call's CPU."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False     # we apply the environment ourselves
        self._env: dict[tuple, tuple[dict, Any]] = {}

    def merge_environment_settings(self, url: str, proxies: Any,
                                   stream: Any, verify: Any,
                                   cert: Any) -> dict:
        parts = urllib.parse.urlsplit(url)
        no_proxy = (proxies or {}).get("no_proxy")
        key = (parts.scheme, parts.netloc, no_proxy)
        env = self._env.get(key)
        if env is None:
            env_proxies = requests.utils.get_environ_proxies(
                url, no_proxy=no_proxy)
            env_verify = None
            if parts.scheme == "https":
                env_verify = (os.environ.get("REQUESTS_CA_BUNDLE")
                              or os.environ.get("CURL_CA_BUNDLE"))
            env = (env_proxies, env_verify)
            if len(self._env) < 256:
                self._env[key] = env
        proxies = dict(proxies or {})
        for name, value in env[0].items():
            proxies.setdefault(name, value)
        if env[1] and (verify is True or verify is None):
            verify = env[1]
        return super().merge_environment_settings(url, proxies, stream,
                                                  verify, cert)


def _version_root(endpoint: str) -> str:
    """``http://h:8786/v2/abc`` -> ``http://h:8786``."""
    head, sep, _ = endpoint.partition("/v2")
    return head if sep else endpoint.rstrip("/")


def _pick_version(body: dict, cap: api_versions.APIVersion
                  ) -> api_versions.APIVersion:
    versions = body.get("versions") or [body.get("version") or {}]
    best = None
    for v in versions:
        if not isinstance(v, dict) or not str(v.get("id", "")).startswith(
                "v2"):
            continue
        max_v = v.get("version") or ""
        min_v = v.get("min_version") or "2.0"
        if not max_v:
            best = MIN_VERSION
            continue
        server_max = api_versions.APIVersion(max_v)
        server_min = api_versions.APIVersion(min_v)
        chosen = cap if cap <= server_max else server_max
        if chosen < server_min:
            raise exception.ManilaError(
                reason="Manila's API versions %s-%s don't include %s"
                       % (min_v, max_v, cap.get_string()))
        best = chosen
    if best is None:
        raise exception.ManilaError(
            reason="Manila's version document lists no v2 API")
    return best
