"""The request context: a ``RequestContext.to_dict()`` dict naming a
project, with an ``auth_token`` under ``auth_strategy = keystone``."""

import pytest

from tests.unit.endpoints.conftest import (
    CONTRACT,
    PROJECT,
    SHARE,
    available_checkpoint,
    ctx_dict,
)

#: one valid call per method (ids need not exist: the context is refused
#: before anything is looked up)
CALLS = {
    "protect": {"resource": {"type": SHARE, "id": "share-x"}},
    "restore": {"checkpoint_id": "cp-x"},
    "delete": {"checkpoint_id": "cp-x"},
    "show_checkpoint": {"checkpoint_id": "cp-x"},
    "list_checkpoints": {},
    "show_restore": {"restore_id": "r-x"},
    "list_restores": {},
    "list_protectable_types": {},
    "show_protectable_type": {"resource_type": SHARE},
    "list_protectable_instances": {"resource_type": SHARE},
    "show_protectable_instance": {"resource_type": SHARE,
                                  "resource_id": "share-x"},
    "list_protectable_dependents": {"resource_type": "OS::Keystone::Project",
                                    "resource_id": PROJECT},
    "show_plugin_schemas": {"resource_type": SHARE},
}

BAD_CONTEXTS = [
    pytest.param(None, "NoneType", id="none"),
    pytest.param("p1", "str", id="string"),
    pytest.param(["p1"], "list", id="list"),
    pytest.param(42, "int", id="int"),
    pytest.param({}, "project_id", id="empty"),
    pytest.param({"user": "u1", "roles": ["admin"], "is_admin": True},
                 "project_id", id="no-project"),
    pytest.param({"project_id": ""}, "project_id", id="empty-project"),
    pytest.param({"project_id": None}, "project_id", id="null-project"),
    pytest.param({"project_id": 5}, "project_id", id="int-project"),
    pytest.param({"project_id": ["p1"]}, "project_id", id="list-project"),
    pytest.param({"project_id": {"id": "p1"}}, "project_id",
                 id="dict-project"),
    pytest.param(ctx_dict(is_admin="false"), "is_admin", id="str-admin"),
    pytest.param(dict(ctx_dict(), user=["u1"]), "user", id="list-user"),
    pytest.param(dict(ctx_dict(), roles="admin"), "roles", id="str-roles"),
    pytest.param(dict(ctx_dict(), roles=[1]), "roles", id="int-roles"),
    pytest.param(dict(ctx_dict(), request_id=7), "request_id",
                 id="int-request-id"),
]

#: (context, the field named): too long, InvalidInput (DESIGN 3.2)
LONG_CONTEXTS = [
    pytest.param({"project_id": "p" * 256}, "context.project_id",
                 id="long-project"),
    pytest.param(dict(ctx_dict(), user="u" * 256), "context.user",
                 id="long-user"),
    pytest.param(dict(ctx_dict(), request_id="r" * 256),
                 "context.request_id", id="long-request-id"),
    pytest.param(dict(ctx_dict(), roles=["member", "r" * 5000]),
                 "context.roles[1]", id="long-role"),
    pytest.param(dict(ctx_dict(), user_name="n" * 4097),
                 "context.user_name", id="long-name"),
]


def test_every_method_is_covered():
    assert set(CALLS) == set(CONTRACT)


@pytest.mark.parametrize("ctxt, named", BAD_CONTEXTS)
def test_a_bad_context_is_forbidden(worker, manila, ctxt, named):
    for method, kwargs in CALLS.items():
        err = worker.caller.refused(ctxt, method, **kwargs)
        assert (err.exc_type, method) == ("Forbidden", method), err.value
        assert named in err.value, (method, err.value)
    assert manila.snapshots.calls == [] and manila.shares.calls == []
    assert worker.clients.contexts == []


@pytest.mark.parametrize("ctxt, named", LONG_CONTEXTS)
def test_a_context_too_long_is_invalid_input(worker, manila, ctxt, named):
    for method, kwargs in CALLS.items():
        err = worker.caller.refused(ctxt, method, **kwargs)
        assert (err.exc_type, method) == ("InvalidInput", method), err.value
        assert named in err.value, (method, err.value)
    assert manila.snapshots.calls == [] and manila.shares.calls == []


def test_a_context_for_another_project_sees_nothing(worker, manila):
    cp = available_checkpoint(worker, manila)
    other = ctx_dict("p2")
    err = worker.caller.refused(other, "show_checkpoint",
                                checkpoint_id=cp["id"])
    assert err.exc_type == "CheckpointNotFound"
    assert worker.caller.call(other, "list_checkpoints") == []
    # the project_id filter narrows the caller's own project, never widens
    assert worker.caller.call(other, "list_checkpoints",
                              filters={"project_id": PROJECT}) == []
    err = worker.caller.refused(other, "list_checkpoints",
                                filters={"all_projects": True})
    assert err.exc_type == "Forbidden"
    assert "share_worker:checkpoint:get_all_projects" in err.value
    for method in ("restore", "delete"):
        err = worker.caller.refused(other, method, checkpoint_id=cp["id"])
        assert err.exc_type == "CheckpointNotFound"
    # taking its id is answered like any unavailable id
    share = manila.add_share(project_id="p2")
    err = worker.caller.refused(other, "protect",
                                resource={"type": SHARE, "id": share.id},
                                checkpoint_id=cp["id"])
    assert err.exc_type == "InvalidInput"
    assert "checkpoint_id is not available; choose a new id" in err.value
    assert PROJECT not in err.value and cp["resource"]["id"] not in \
        err.value
    assert worker.caller.call(ctx_dict(), "show_checkpoint",
                              checkpoint_id=cp["id"])["status"] == \
        "available"


def test_noauth_ignores_a_claimed_admin(worker, manila):
    available_checkpoint(worker, manila)
    admin = ctx_dict("p2", is_admin=True, roles=["admin", "member"])
    assert worker.caller.call(admin, "list_checkpoints",
                              filters={"project_id": PROJECT}) == []
    for method in ("list_checkpoints", "list_restores"):
        err = worker.caller.refused(admin, method,
                                    filters={"all_projects": True})
        assert err.exc_type == "Forbidden", err.value


def test_a_policy_file_may_open_all_projects(make_worker, manila, tmp_path):
    rules = tmp_path / "policy.yaml"
    rules.write_text('"share_worker:checkpoint:get_all_projects": "@"\n')
    worker = make_worker(policy_file=str(rules))
    cp = available_checkpoint(worker, manila)
    other = ctx_dict("p2")
    listed = worker.caller.call(other, "list_checkpoints",
                                filters={"all_projects": True,
                                         "project_id": PROJECT})
    assert [c["id"] for c in listed] == [cp["id"]]
    # restores follow the checkpoints' rule by default
    assert worker.caller.call(other, "list_restores",
                              filters={"all_projects": True}) == []
    assert worker.caller.call(other, "list_checkpoints",
                              filters={"all_projects": False}) == []
    err = worker.caller.refused(other, "list_checkpoints",
                                filters={"all_projects": "yes"})
    assert err.exc_type == "InvalidInput" and "all_projects" in err.value


@pytest.mark.parametrize("token", [None, "", 12345, ["tok"]])
def test_keystone_strategy_without_a_token_is_forbidden(make_worker, manila,
                                                        token):
    worker = make_worker(strategy="keystone")
    for method, kwargs in CALLS.items():
        err = worker.caller.refused(ctx_dict(auth_token=token), method,
                                    **kwargs)
        assert (err.exc_type, method) == ("Forbidden", method), err.value
        assert "auth_token" in err.value, (method, err.value)
    assert worker.clients.contexts == []


def test_keystone_strategy_with_a_token_is_served(make_worker, manila):
    worker = make_worker(strategy="keystone")
    share = manila.add_share(project_id=PROJECT)
    member = ctx_dict(auth_token="tok", roles=["member", "reader"])
    cp = worker.caller.call(member, "protect",
                            resource={"type": SHARE, "id": share.id})
    assert cp["status"] == "protecting"
    listed = worker.caller.call(member,
                                "list_protectable_instances",
                                resource_type=SHARE)
    assert [r["id"] for r in listed] == [share.id]
    assert worker.clients.contexts[-1].auth_token == "tok"


def test_noauth_strategy_needs_no_token(worker, manila):
    share = manila.add_share(project_id=PROJECT)
    listed = worker.caller.call(ctx_dict(), "list_protectable_instances",
                                resource_type=SHARE)
    assert [r["id"] for r in listed] == [share.id]
