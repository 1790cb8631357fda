"""TokenValidator: the identity of a request comes from Keystone's answer
for its token, never from what the sender wrote in the context."""

from __future__ import annotations

import datetime

import pytest
from keystoneauth1 import exceptions as ks_exc
from oslo_context import context as o_context

from share_worker import exception
from share_worker.clients.keystone import TokenValidator


def _expiry(seconds: float = 3600) -> str:
    at = (datetime.datetime.now(datetime.timezone.utc)
          + datetime.timedelta(seconds=seconds))
    return at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def token_body(project="p1", user="u1", roles=("member",), expires=3600):
    body = {"user": {"id": user, "name": user + "-name"},
            "roles": [{"id": "r-" + r, "name": r} for r in roles],
            "expires_at": _expiry(expires)}
    if project:
        body["project"] = {"id": project, "name": project + "-name"}
    return {"token": body}


class Response:
    def __init__(self, status: int, body: dict | None = None) -> None:
        self.status_code = status
        self._body = body or {}

    def json(self) -> dict:
        return self._body


class FakeKeystone:
    """A keystoneauth1 session stand-in answering GET /auth/tokens."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict] = {}
        self.asked: list[str] = []
        self.status: int | None = None
        self.fail: Exception | None = None

    def get(self, path, endpoint_filter=None, headers=None, raise_exc=True):
        assert path == "/auth/tokens"
        assert endpoint_filter["service_type"] == "identity"
        assert raise_exc is False
        token = headers["X-Subject-Token"]
        self.asked.append(token)
        if self.fail is not None:
            raise self.fail
        if self.status is not None:
            return Response(self.status)
        if token not in self.tokens:
            return Response(404, {"error": {"code": 404}})
        return Response(200, self.tokens[token])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keystone():
    ks = FakeKeystone()
    ks.tokens["tok-a"] = token_body()
    ks.tokens["tok-admin"] = token_body(roles=("admin", "member"))
    return ks


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def tokens(keystone, clock):
    return TokenValidator(lambda: keystone, cache_seconds=60, clock=clock)


def ctx(token="tok-a", project="p1", user="u1", **kw):
    return o_context.RequestContext(user_id=user, project_id=project,
                                    auth_token=token, **kw)


def test_identity_comes_from_the_token(tokens):
    # The sender claims admin: Keystone's roles decide.
    checked = tokens.authenticate(ctx(is_admin=True, roles=["admin"],
                                      request_id="req-1"))
    assert checked.is_admin is False
    assert checked.roles == ["member"]
    assert (checked.project_id, checked.user_id) == ("p1", "u1")
    assert checked.project_name == "p1-name"
    assert checked.auth_token == "tok-a"
    assert checked.request_id == "req-1"


def test_an_admin_token_makes_an_admin_context(tokens):
    assert tokens.authenticate(ctx("tok-admin")).is_admin is True


def test_a_context_without_a_user_takes_the_tokens(tokens):
    assert tokens.authenticate(ctx(user=None)).user_id == "u1"


@pytest.mark.parametrize("token", ["garbage", "tok-revoked"])
def test_an_unknown_token_is_forbidden(tokens, token):
    with pytest.raises(exception.Forbidden, match="invalid, expired or "
                                                  "revoked"):
        tokens.authenticate(ctx(token))


def test_another_projects_context_is_forbidden(tokens):
    with pytest.raises(exception.Forbidden, match="scoped to project p1, "
                                                  "not .* p2"):
        tokens.authenticate(ctx(project="p2"))


def test_another_users_context_is_forbidden(tokens):
    with pytest.raises(exception.Forbidden, match="user u1, not .* u2"):
        tokens.authenticate(ctx(user="u2"))


def test_a_token_without_a_project_is_forbidden(tokens, keystone):
    keystone.tokens["tok-domain"] = token_body(project=None)
    with pytest.raises(exception.Forbidden, match="not scoped to a "
                                                  "project"):
        tokens.authenticate(ctx("tok-domain"))


@pytest.mark.parametrize("failure", [
    ks_exc.ConnectFailure("refused"),
    ks_exc.ConnectTimeout("timed out"),
    ks_exc.DiscoveryFailure("no endpoint answered"),
    ks_exc.ServiceUnavailable(),          # getting the worker's own token
])
def test_keystone_unreachable_is_a_passing_failure(tokens, keystone,
                                                   failure):
    keystone.fail = failure
    with pytest.raises(exception.IdentityUnavailable) as info:
        tokens.authenticate(ctx())
    assert type(failure).__name__ in info.value.message
    # it passes: once Keystone answers, the same token is served
    keystone.fail = None
    assert tokens.authenticate(ctx()).project_id == "p1"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_a_keystone_5xx_is_a_passing_failure(tokens, keystone, status):
    keystone.status = status
    with pytest.raises(exception.IdentityUnavailable,
                       match="HTTP %d" % status):
        tokens.authenticate(ctx())


def test_a_certificate_failure_is_forbidden(tokens, keystone):
    keystone.fail = ks_exc.SSLError("certificate verify failed")
    with pytest.raises(exception.Forbidden, match="SSLError"):
        tokens.authenticate(ctx())


@pytest.mark.parametrize("status", [401, 403])
def test_the_workers_own_credentials_refused(tokens, keystone, status):
    keystone.status = status
    with pytest.raises(exception.Forbidden, match="may not validate"):
        tokens.authenticate(ctx())


def test_a_valid_token_is_cached_for_cache_seconds(tokens, keystone, clock):
    tokens.authenticate(ctx())
    tokens.authenticate(ctx())
    assert keystone.asked == ["tok-a"]
    # Revoked in Keystone: refused once the cache entry is older than 60s.
    del keystone.tokens["tok-a"]
    clock.now += 61
    with pytest.raises(exception.Forbidden):
        tokens.authenticate(ctx())
    assert keystone.asked == ["tok-a", "tok-a"]


def test_a_project_mismatch_is_refused_from_the_cache_too(tokens):
    tokens.authenticate(ctx())
    with pytest.raises(exception.Forbidden):
        tokens.authenticate(ctx(project="p2"))


def test_refusals_are_not_cached(tokens, keystone):
    with pytest.raises(exception.Forbidden):
        tokens.authenticate(ctx("tok-new"))
    keystone.tokens["tok-new"] = token_body()
    assert tokens.authenticate(ctx("tok-new")).project_id == "p1"


def test_no_cache_past_the_tokens_expiry(keystone, clock):
    tokens = TokenValidator(lambda: keystone, cache_seconds=600,
                            clock=clock)
    keystone.tokens["tok-short"] = token_body(expires=30)
    tokens.authenticate(ctx("tok-short"))
    clock.now += 40
    tokens.authenticate(ctx("tok-short"))
    assert keystone.asked == ["tok-short", "tok-short"]


def test_cache_seconds_zero_asks_every_time(keystone, clock):
    tokens = TokenValidator(lambda: keystone, cache_seconds=0, clock=clock)
    tokens.authenticate(ctx())
    tokens.authenticate(ctx())
    assert keystone.asked == ["tok-a", "tok-a"]
