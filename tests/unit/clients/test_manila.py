"""Manila client factory: configuration checks, versions, identities."""

import pytest
from manilaclient import api_versions
from manilaclient.common.apiclient import exceptions as m_exc
from oslo_context import context as o_context

from share_worker import exception
from share_worker.clients import manila

V = api_versions.APIVersion


def versions(max_v, min_v="2.0"):
    return {"versions": [{"id": "v2.0", "status": "CURRENT",
                          "version": max_v, "min_version": min_v}]}


@pytest.mark.parametrize("server_max, cap, expected", [
    ("2.98", "2.73", "2.73"),
    ("2.26", "2.73", "2.26"),
    ("2.73", "2.73", "2.73"),
])
def test_version_is_the_lower_of_cap_and_server(server_max, cap, expected):
    assert manila._pick_version(versions(server_max), V(cap)) == V(expected)


def test_single_version_document_is_understood():
    body = {"version": {"id": "v2.0", "version": "2.50",
                        "min_version": "2.0"}}
    assert manila._pick_version(body, V("2.73")) == V("2.50")


def test_server_without_v2_is_a_clear_error():
    with pytest.raises(exception.ManilaError) as err:
        manila._pick_version({"versions": [{"id": "v1.0"}]}, V("2.73"))
    assert "no v2" in str(err.value)


def test_version_root():
    assert manila._version_root("http://h:8786/v2/abc") == "http://h:8786"
    assert manila._version_root("http://h/share/v2") == "http://h/share"


@pytest.mark.parametrize("raised, expected", [
    (m_exc.NotFound(404, "gone"), exception.ResourceNotFound),
    (m_exc.RequestEntityTooLarge(413, "quota"), exception.QuotaExceeded),
    (m_exc.Forbidden(403, "no"), exception.Forbidden),
    (m_exc.Unauthorized(401, "who"), exception.Forbidden),
    (m_exc.InternalServerError(500, "boom"), exception.ManilaUnavailable),
    (m_exc.HttpServerError(503, "busy"), exception.ManilaUnavailable),
    (m_exc.BadRequest(400, "bad"), exception.ManilaError),
    (m_exc.Conflict(409, "conflict"), exception.ManilaError),
])
def test_errors_are_translated(raised, expected):
    with pytest.raises(expected) as err:
        with manila.manila_errors("do a thing"):
            raise raised
    assert "do a thing" in str(err.value)


def test_connection_errors_are_retryable():
    from keystoneauth1 import exceptions as ks_exc
    with pytest.raises(exception.ManilaUnavailable):
        with manila.manila_errors("x"):
            raise ks_exc.ConnectFailure("refused")


def test_noauth_needs_an_endpoint(conf):
    conf.set_override("auth_strategy", "noauth", group="share_worker")
    with pytest.raises(exception.ConfigurationError) as err:
        manila.ManilaClientFactory(conf).check_config()
    assert "endpoint_override" in str(err.value)


def test_keystone_needs_service_credentials(conf):
    with pytest.raises(exception.ConfigurationError) as err:
        manila.ManilaClientFactory(conf).check_config()
    assert "auth_type" in str(err.value)


def test_keystone_without_token_is_forbidden(conf):
    conf.set_override("endpoint_override", "http://127.0.0.1:1/v2",
                      group="manila_client")
    factory = manila.ManilaClientFactory(conf)
    ctx = o_context.RequestContext(project_id="p1")
    with pytest.raises(exception.Forbidden) as err:
        factory.for_context(ctx)
    assert "auth_token" in str(err.value)


def test_context_without_project_is_forbidden(conf):
    factory = manila.ManilaClientFactory(conf)
    with pytest.raises(exception.Forbidden):
        factory.for_context(o_context.RequestContext(auth_token="t"))


def test_unreachable_manila_is_retryable(conf):
    conf.set_override("auth_strategy", "noauth", group="share_worker")
    conf.set_override("endpoint_override", "http://127.0.0.1:9/v2",
                      group="manila_client")
    factory = manila.ManilaClientFactory(conf)
    ctx = o_context.RequestContext(project_id="p1", user_id="u")
    with pytest.raises(exception.ManilaUnavailable):
        factory.for_context(ctx)
