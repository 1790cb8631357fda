"""auth_strategy = keystone with a TokenValidator: every method acts as
the token's project; a forged context is refused before anything is
looked up, and a refused cast's event tells nothing of the records."""

import logging
import threading

import pytest
from oslo_context import context as o_context

from share_worker import exception
from share_worker.endpoints.policies import PolicyEndpoint
from tests.conftest import wait_for
from tests.unit.endpoints.conftest import PROJECT, SHARE, rpc_request
from tests.unit.endpoints.test_context import CALLS
from tests.unit.endpoints.test_refused_casts import refuse_as_cast


class Tokens:
    """Token -> (project, roles), as Keystone would validate them."""

    def __init__(self, known: dict) -> None:
        self.known = known

    def authenticate(self, ctx):
        if ctx.auth_token not in self.known:
            raise exception.Forbidden(reason="the request's token is "
                                             "invalid, expired or revoked")
        project, roles = self.known[ctx.auth_token]
        if project != ctx.project_id:
            raise exception.Forbidden(reason="the request's token is "
                                             "scoped to project %s" % project)
        values = dict(ctx.to_dict(), roles=roles, is_admin="admin" in roles)
        return o_context.RequestContext.from_dict(values)


def ctx(token, project=PROJECT, **kw):
    return o_context.RequestContext(user_id="u1", project_id=project,
                                    auth_token=token, **kw).to_dict()


def make(make_worker):
    return make_worker(strategy="keystone", tokens=Tokens({
        "tok-p1": (PROJECT, ["member", "reader"]),
        "tok-p2": ("p2", ["member", "reader"]),
        "tok-reader": (PROJECT, ["reader"])}))


def test_an_invalid_token_is_refused_by_every_method(make_worker, manila):
    worker = make(make_worker)
    for method, kwargs in CALLS.items():
        err = worker.caller.refused(ctx("bogus"), method, **kwargs)
        assert (err.exc_type, method) == ("Forbidden", method), err.value
        assert "invalid, expired or revoked" in err.value
    assert worker.clients.contexts == []


def test_a_forged_project_sees_nothing(make_worker, manila):
    worker = make(make_worker)
    share = manila.add_share(project_id=PROJECT)
    cp = worker.caller.call(ctx("tok-p1"), "protect",
                            resource={"type": SHARE, "id": share.id})
    # Project p2's user names p1 in the context, with p2's token.
    forged = ctx("tok-p2", is_admin=True, roles=["admin"])
    for method, kwargs in (("show_checkpoint", {"checkpoint_id": cp["id"]}),
                           ("list_checkpoints", {}),
                           ("delete", {"checkpoint_id": cp["id"]})):
        err = worker.caller.refused(forged, method, **kwargs)
        assert err.exc_type == "Forbidden", (method, err.value)
        assert "scoped to project p2" in err.value


def test_a_senders_is_admin_is_not_trusted(make_worker, manila):
    worker = make(make_worker)
    share = manila.add_share(project_id=PROJECT)
    worker.caller.call(ctx("tok-p1"), "protect",
                       resource={"type": SHARE, "id": share.id})
    claims_admin = ctx("tok-p2", project="p2", is_admin=True,
                       roles=["admin"])
    assert worker.caller.call(claims_admin, "list_checkpoints",
                              filters={"project_id": PROJECT}) == []
    err = worker.caller.refused(claims_admin, "list_checkpoints",
                                filters={"all_projects": True})
    assert err.exc_type == "Forbidden"
    err = worker.caller.refused(claims_admin, "list_protectable_dependents",
                                resource_type="OS::Keystone::Project",
                                resource_id=PROJECT)
    assert err.exc_type == "Forbidden"


def test_a_refused_delete_cast_reveals_no_checkpoint(make_worker, manila):
    worker = make(make_worker)
    share = manila.add_share(project_id=PROJECT)
    cp = worker.caller.call(ctx("tok-p1"), "protect",
                            resource={"type": SHARE, "id": share.id})
    forged = ctx("tok-p2")   # names p1, carries p2's token
    error = refuse_as_cast(worker, "delete", forged,
                           {"checkpoint_id": cp["id"]})
    assert error.code == "Forbidden"
    worker.drain()
    # An unauthenticated caller's refusal is only logged: no event
    # (in the project it claims or any other) names the checkpoint.
    assert worker.errors() == []
    assert worker.store.get_checkpoint(cp["id"])["status"] == "protecting"


def test_a_reader_may_look_but_not_change(make_worker, manila):
    worker = make(make_worker)
    share = manila.add_share(project_id=PROJECT)
    cp = worker.caller.call(ctx("tok-p1"), "protect",
                            resource={"type": SHARE, "id": share.id})
    reader = ctx("tok-reader")
    assert worker.caller.call(reader, "show_checkpoint",
                              checkpoint_id=cp["id"])["id"] == cp["id"]
    assert [c["id"] for c in worker.caller.call(
        reader, "list_checkpoints")] == [cp["id"]]
    for method, kwargs, rule in (
            ("protect", {"resource": {"type": SHARE, "id": share.id}},
             "checkpoint:create"),
            ("delete", {"checkpoint_id": cp["id"]}, "checkpoint:delete"),
            ("restore", {"checkpoint_id": cp["id"]}, "restore:create")):
        err = worker.caller.refused(reader, method, **kwargs)
        assert err.exc_type == "Forbidden", (method, err.value)
        assert "share_worker:" + rule in err.value


def test_policy_methods_check_the_token_too(make_worker):
    worker = make(make_worker)
    tokens = worker.endpoints[0].tokens
    endpoint = PolicyEndpoint(worker.engine, "keystone", tokens)
    for context, reason in ((ctx("bogus"), "invalid, expired or revoked"),
                            (ctx("tok-p2"), "scoped to project p2")):
        with pytest.raises(exception.Forbidden) as err:
            endpoint.list_policies(rpc_request(context))
        error = err.value
        assert error.code == "Forbidden" and reason in error.message
    assert endpoint.list_policies(rpc_request(ctx("tok-p1"))) == []


class FlakyKeystone(Tokens):
    """Tokens whose Keystone does not answer until ``back`` is set."""

    def __init__(self, known: dict) -> None:
        super().__init__(known)
        self.back = threading.Event()
        self.failed = 0

    def authenticate(self, ctx):
        if not self.back.is_set():
            self.failed += 1
            raise exception.IdentityUnavailable(reason="ConnectFailure")
        return super().authenticate(ctx)


def test_a_cast_waits_out_a_keystone_outage(make_worker, manila, caplog):
    keystone = FlakyKeystone({"tok-p1": (PROJECT, ["member", "reader"])})
    worker = make_worker(strategy="keystone", tokens=keystone)
    shares = [manila.add_share(project_id=PROJECT) for _ in range(3)]
    with caplog.at_level(logging.WARNING, logger="share_worker.amqp.rpc"):
        for share in shares:
            worker.caller.cast(ctx("tok-p1"), "protect",
                               resource={"type": SHARE, "id": share.id},
                               checkpoint_id="cp-" + share.id)
        wait_for(lambda: keystone.failed >= 6, what="retries")
        assert worker.handled() == 0          # kept in hand, not dropped
        keystone.back.set()
        wait_for(lambda: worker.handled() == 3, what="the casts handled")
    for share in shares:
        assert worker.store.get_checkpoint("cp-" + share.id)["status"] \
            != "error"
    worker.drain()
    assert worker.errors() == []
    outage = [r for r in caplog.records if "Keystone is unreachable"
              in r.getMessage()]
    assert len(outage) == 1, [r.getMessage() for r in caplog.records]
