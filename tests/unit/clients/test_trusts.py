"""A policy's trust delegates only ``trust_roles`` (never the creator's
admin), without impersonation; its id is never logged."""

import logging
import types

import pytest
from oslo_context import context as o_context

from share_worker import exception
from share_worker.clients.trusts import TrustActor


class FakeSession:
    def __init__(self):
        self.posted = []
        self.timeout = None

    def post(self, url, json):
        self.posted.append((url, json))
        return types.SimpleNamespace(
            json=lambda: {"trust": {"id": "trust-secret-id-42"}})

    def get_user_id(self):
        return "svc-user"


@pytest.fixture
def actor(conf, monkeypatch):
    caller = FakeSession()
    service = FakeSession()
    made = TrustActor(conf, lambda: service)
    monkeypatch.setattr(made, "_identity_url",
                        lambda: "http://keystone:5000/v3")
    monkeypatch.setattr(made, "_as_caller", lambda ctx: caller)
    made.caller = caller
    return made


def ctx(roles):
    return o_context.RequestContext(user_id="u1", project_id="p1",
                                    auth_token="tok", roles=roles,
                                    overwrite=False)


def test_only_the_needed_roles_are_delegated(actor, caplog):
    caplog.set_level(logging.DEBUG)
    trust_id = actor.delegate(ctx(["admin", "member", "reader"]))
    assert trust_id == "trust-secret-id-42"
    [(url, body)] = actor.caller.posted
    assert url.endswith("/OS-TRUST/trusts")
    trust = body["trust"]
    assert trust["roles"] == [{"name": "member"}]
    assert trust["impersonation"] is False
    assert trust["allow_redelegation"] is False
    assert trust["project_id"] == "p1" and trust["trustee_user_id"] == \
        "svc-user"
    assert "trust-secret-id-42" not in caplog.text


def test_a_creator_without_the_roles_is_refused(actor):
    with pytest.raises(exception.Forbidden) as err:
        actor.delegate(ctx(["reader"]))
    assert "member" in err.value.message
    assert actor.caller.posted == []


def test_the_roles_are_configurable(actor, conf):
    conf.set_override("trust_roles", ["member", "backup"],
                      group="share_worker")
    actor.delegate(ctx(["member", "backup", "reader"]))
    assert actor.caller.posted[0][1]["trust"]["roles"] == [
        {"name": "member"}, {"name": "backup"}]
