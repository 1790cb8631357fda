"""Manila v2 request dispatch: auth, microversion, routing, fault bodies.

    >>> from share_worker.simulator import router, store
    >>> api = router.ApiRouter(store.Store(clock=lambda: 0.0))
    >>> resp = api.handle("GET", "/", {}, {}, b"", "http://h")
    >>> resp.status, resp.route
    (300, 'GET /')

:meth:`ApiRouter.handle` takes an HTTP request already parsed (method,
path, query, headers, body) and returns a :class:`Response`; it knows
nothing of sockets, so it is tested without a server.  Routes are
``(method, regex)`` table entries, found by dict lookup on the method.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Mapping

from share_worker.simulator import actions, errors, models, versions
from share_worker.simulator.routes import ROUTES, version_index
from share_worker.simulator.store import Store

_COLLECTIONS = ("shares", "snapshots", "types")
_V2 = re.compile(r"^/v2(?:/(?P<rest>.*))?$")


@dataclasses.dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    route: str = ""
    action: str | None = None


@dataclasses.dataclass
class Call:
    """One routed request, as handlers see it."""

    args: dict[str, str]
    query: dict[str, str]
    body: object


class ApiRouter:
    """Turns parsed HTTP requests into Manila responses."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        root_url: str,
    ) -> Response:
        if path in ("", "/"):
            with self.store.lock:
                max_version = self.store.max_version
            doc = versions.document(root_url, max_version)
            return _json(300, {"versions": [doc]}, route="GET /")
        match = _V2.match(path)
        if match is None:
            return _json(404, errors.fault_body(404), route="unmatched")
        url_project, route, handler, args = _resolve(method, match)
        try:
            return self._dispatch(
                method, route, handler, args, query, headers, body,
                root_url, url_project,
            )
        except errors.ApiError as exc:
            return _json(exc.code, exc.body(), exc.headers(), route=route)

    def route_name(self, method: str, path: str) -> str:
        """The counter key of a request, e.g. ``GET /shares/{id}``."""
        if path in ("", "/"):
            return f"{method} /"
        match = _V2.match(path)
        return _resolve(method, match)[1] if match else "unmatched"

    def _dispatch(self, method, route, handler, args, query, headers, body,
                  root_url, url_project) -> Response:
        store = self.store
        identity = self._authenticate(headers, url_project)
        if handler is None:
            raise errors.not_found()
        version = versions.negotiate(
            headers.get(versions.HEADER), store.max_version
        )
        version_headers = {
            versions.HEADER: versions.to_str(version),
            "Vary": versions.HEADER,
        }
        try:
            status, payload, action = self._call(
                method, route, handler, args, query, body, identity,
                version, root_url, url_project,
            )
        except errors.ApiError as exc:
            exc_headers = {**exc.headers(), **version_headers}
            return _json(exc.code, exc.body(), exc_headers, route)
        if payload is None:
            return Response(status, b"", version_headers, route, action)
        return _json(status, payload, version_headers, route, action)

    def _call(self, method, route, handler, args, query, body, identity,
              version, root_url, url_project):
        if url_project and url_project != identity.project_id:
            raise errors.bad_request("Malformed request url")
        ctx = models.RequestContext(identity, version, root_url, url_project)
        parsed = _parse_body(body) if method in ("POST", "PUT") else None
        action = None
        if route.endswith("/action"):
            action, handler = actions.resolve(route, parsed, version)
        call = Call(args, dict(query), parsed)
        store = self.store
        with store.lock:
            store.settle()
            status, payload = handler(store, ctx, call)
        return status, payload, action

    def _authenticate(self, headers: Mapping[str, str],
                      url_project: str | None) -> models.Identity:
        store = self.store
        token = headers.get("X-Auth-Token")
        if not token:
            raise errors.Unauthorized()
        with store.lock:
            known = store.tokens.get(token)
            if known is not None:
                admin = known.is_admin or known.project_id in (
                    store.admin_projects
                )
                return dataclasses.replace(known, is_admin=admin)
            if store.strict_auth:
                raise errors.Unauthorized()
            user_id, _sep, project_id = token.partition(":")
            project_id = project_id or url_project or user_id
            return models.Identity(
                user_id, project_id, project_id in store.admin_projects
            )


def _resolve(method: str, match: re.Match) -> tuple:
    rest = (match.group("rest") or "").strip("/")
    segments = rest.split("/") if rest else []
    url_project = None
    if segments and segments[0] not in _COLLECTIONS:
        url_project = segments.pop(0)
    return (url_project, *_route(method, segments, rest == ""))


def _route(method: str, segments: list[str], is_root: bool
           ) -> tuple[str, Callable | None, dict[str, str]]:
    if is_root:
        handler = version_index if method == "GET" else None
        return f"{method} /v2/", handler, {}
    path = "/" + "/".join(segments)
    for regex, name, handler in ROUTES.get(method, ()):
        match = regex.match(path)
        if match:
            return f"{method} {name}", handler, match.groupdict()
    return f"{method} unmatched", None, {}


def _parse_body(body: bytes) -> object:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        raise errors.bad_request("Malformed request body") from None


def _json(status: int, payload: object, headers: dict | None = None,
          route: str = "", action: str | None = None) -> Response:
    out = {
        "Content-Type": "application/json",
        "x-openstack-request-id": f"req-{uuid.uuid4()}",
    }
    out.update(headers or {})
    return Response(status, json_bytes(payload), out, route, action)


def json_bytes(payload: object) -> bytes:
    return json.dumps(payload).encode()
