"""A hostile caller on the real RabbitMQ, written only from DESIGN
section 3: a bare ``oslo_messaging.RPCClient`` on
``Target(exchange='share_worker', topic=..., version='1.0')``.

Every bad call is answered with a ``RemoteError`` whose ``exc_type`` is
one of the contract's names and whose message says what is wrong; every
bad cast is an ``.error`` event; nothing crashes the worker or sticks
in its queue (invariant 6)."""

from __future__ import annotations

import json
import subprocess
import uuid

import kombu
import oslo_messaging
import pytest

from share_worker.testing import rabbitmq
from tests.conftest import validate_event, wait_for
from tests.functional.conftest import PROJECT, user_ctx

SHARE = "OS::Manila::Share"
PROJECT_TYPE = "OS::Keystone::Project"
CONTRACT_ERRORS = {"InvalidInput", "UnsupportedResourceType",
                   "ResourceNotFound", "CheckpointNotFound",
                   "RestoreNotFound", "PolicyNotFound", "InvalidState",
                   "Forbidden", "Busy"}
PROTECT_END = "share_worker.checkpoint.protect.end"
LONG = "x" * 10000
HUGE = "y" * 1000000
GARBAGE = {"a": [1, {"b": None, "c": [[], {}]}], "d": {"e": {"f": 1.5}}}


#: (value, what the message must name) for any argument that must be a
#: record id (checkpoint_id, restore_id, marker)
BAD_IDS = [(5, "5"), ([], "[]"), (None, "None"), ("", "''"),
           (True, "True"), ({"id": "cp"}, "{'id'"), (LONG, "characters"),
           ("../../etc/passwd", "../../etc/passwd"), ("a/b", "a/b"),
           ("ünïcode", "ünïcode"), ("cp-1\n", "cp-1\\n"),
           ("cp 1", "cp 1"), (GARBAGE, "{'a'")]


def remote_error(client, ctxt, method, **kwargs):
    with pytest.raises(oslo_messaging.RemoteError) as err:
        client.call(ctxt, method, **kwargs)
    return err.value


def check_refusals(client, ctxt, cases):
    """Call each (method, kwargs, exc_type, needle); return the ones that
    weren't refused as expected, so one run shows them all."""
    wrong = []
    for method, kwargs, exc_type, needle in cases:
        try:
            result = client.call(ctxt, method, **kwargs)
        except oslo_messaging.RemoteError as e:
            if (e.exc_type != exc_type or needle not in e.value
                    or len(e.value) > 1024):
                wrong.append((method, _short(kwargs), exc_type, needle,
                              e.exc_type, e.value[:300]))
        except Exception as e:  # noqa: BLE001 - reported below
            wrong.append((method, _short(kwargs), exc_type, needle,
                          type(e).__name__, str(e)[:300]))
        else:
            wrong.append((method, _short(kwargs), exc_type, needle,
                          "no error", str(result)[:300]))
    return wrong


def _short(value):
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


@pytest.fixture
def client(worker_conf, rabbit_vhost):
    transport = oslo_messaging.get_rpc_transport(worker_conf,
                                                 url=rabbit_vhost.url)
    yield oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(
        exchange="share_worker", topic=worker_conf.share_worker.topic,
        version="1.0"), timeout=30)
    transport.cleanup()


@pytest.fixture
def available(client, events, sim):
    """protect() a share of PROJECT and wait for it; the checkpoint."""
    def make(checkpoint_id=None):
        share_id = sim.sim.create_share(PROJECT)
        cp = client.call(user_ctx().to_dict(), "protect",
                         resource={"type": SHARE, "id": share_id},
                         checkpoint_id=checkpoint_id)
        return events.wait(cp["id"], PROTECT_END)
    return make


# -- calls: every method, every kind of bad argument ------------------------

def id_cases(method, name, extra=None, not_found="CheckpointNotFound"):
    cases = [(method, dict(extra or {}, **{name: value}), "InvalidInput",
              needle) for value, needle in BAD_IDS]
    cases.append((method, dict(extra or {}, **{name: "nope"}), not_found,
                  "nope"))
    return cases


def protect_cases(share_id):
    ok = {"type": SHARE, "id": share_id}
    cases = [("protect", {"resource": value}, "InvalidInput", "resource")
             for value in (5, [], None, HUGE, "OS::Manila::Share", [ok],
                           True, {}, GARBAGE)]
    cases += [("protect", {"resource": dict(ok, type=value)},
               "InvalidInput", "resource.type")
              for value in (5, None, [], "", "  ", LONG, {"x": 1})]
    cases += [("protect", {"resource": dict(ok, type=value)},
               "UnsupportedResourceType", SHARE)
              for value in ("OS::Nova::Server", PROJECT_TYPE,
                            "os::manila::share")]
    cases += [("protect", {"resource": dict(ok, id=value)},
               "InvalidInput", "resource.id")
              for value in (5, None, [], "", " ", "x" * 256, "../../etc",
                            "a/b", "a?b=c", "%2e%2e", "é", "id with space",
                            share_id + "\n", GARBAGE)]
    cases += [("protect", {"resource": dict(ok, **extra)}, "InvalidInput",
               needle)
              for extra, needle in (({"colour": 1}, "colour"),
                                    ({"name": 5}, "resource.name"),
                                    ({"name": "n" * 256}, "resource.name"),
                                    ({"extra_info": "x"},
                                     "resource.extra_info"),
                                    ({"extra_info": {"k": HUGE}},
                                     "resource.extra_info"))]
    cases += [("protect", {"resource": ok, "options": value},
               "InvalidInput", needle)
              for value, needle in (
                  ("fast", "options"), (5, "options"), ([], "options"),
                  (True, "options"),
                  ({"snapshot_name": 5}, "snapshot_name"),
                  ({"snapshot_name": None}, "snapshot_name"),
                  ({"snapshot_name": ["a"]}, "snapshot_name"),
                  ({"snapshot_name": LONG}, "snapshot_name"),
                  ({"description": 5}, "description"),
                  ({"description": GARBAGE}, "description"),
                  ({"description": "d" * 256}, "description"),
                  ({"force": "yes"}, "force"), ({"force": 1}, "force"),
                  ({"force": None}, "force"), ({"force": [True]}, "force"),
                  ({"colour": "red"}, "colour"), ({"": 1}, "unknown"),
                  (GARBAGE, "unknown"))]
    cases += [("protect", {"resource": ok, "checkpoint_id": value},
               "InvalidInput", needle)
              for value, needle in BAD_IDS if value is not None]
    return cases


def restore_cases(cp_id, share_id):
    cases = id_cases("restore", "checkpoint_id")
    cases += [("restore", {"checkpoint_id": cp_id, "options": value},
               "InvalidInput", needle)
              for value, needle in (
                  ("x", "options"), (5, "options"), ([], "options"),
                  ({"share_id": 5}, "share_id"),
                  ({"share_id": []}, "share_id"),
                  ({"restore_name": 5}, "restore_name"),
                  ({"restore_name": LONG}, "restore_name"),
                  ({"restore_description": []}, "restore_description"),
                  ({"restore_description": "d" * 256},
                   "restore_description"),
                  ({"colour": 1}, "colour"), (GARBAGE, "unknown"),
                  ({"share_id": share_id, "bogus": True}, "bogus"))]
    return cases


def listing_cases(method, not_found):
    cases = [(method, {"filters": value}, "InvalidInput", "filter")
             for value in ("x", 5, [], True, [["status", "available"]])]
    cases += [(method, {"filters": {"colour": "red"}}, "InvalidInput",
               "colour")]
    cases += [(method, {"filters": {"status": value}}, "InvalidInput",
               "status")
              for value in (["available"], 5, {"a": 1}, True, 1.5)]
    cases += [(method, {"limit": value}, "InvalidInput", "limit")
              for value in (-1, 0, True, False, "5", 5.5, [],
                            {"n": 5}, -(10 ** 20))]
    cases += [(method, {"marker": value}, "InvalidInput", "marker")
              for value, _ in BAD_IDS if value is not None]
    cases += [(method, {"marker": "nope"}, not_found, "nope")]
    return cases


def protectable_cases(share_id):
    cases = []
    for method in ("show_protectable_type", "list_protectable_instances",
                   "show_plugin_schemas"):
        cases += [(method, {"resource_type": value},
                   "UnsupportedResourceType", needle)
                  for value, needle in (("OS::Nova::Server",
                                         "OS::Nova::Server"),
                                        (5, "5"), (None, "None"),
                                        ([], "[]"), ("", "supported"),
                                        (GARBAGE, "'a'"))]
        cases += [(method, {"resource_type": LONG}, "InvalidInput",
                   "resource_type is 10000 characters long; at most 4096")]
    cases += [("show_plugin_schemas", {"resource_type": PROJECT_TYPE},
               "UnsupportedResourceType", PROJECT_TYPE)]
    cases += [("list_protectable_instances",
               {"resource_type": SHARE, "parameters": value},
               "InvalidInput", needle)
              for value, needle in (("x", "parameters"), (5, "parameters"),
                                    ([], "parameters"),
                                    ({"colour": 1}, "colour"),
                                    ({"metadata": "k=v"}, "metadata"),
                                    (GARBAGE, "unknown"))]
    cases += [("list_protectable_instances",
               {"resource_type": PROJECT_TYPE, "parameters": {"a": 1}},
               "InvalidInput", "parameters")]
    for method in ("show_protectable_instance",
                   "list_protectable_dependents"):
        cases += [(method, {"resource_type": SHARE, "resource_id": value},
                   "InvalidInput", "resource_id")
                  for value in (5, None, [], "", "../shares/detail",
                                "a?all_tenants=1", "x" * 256, GARBAGE)]
    cases += [("show_protectable_instance",
               {"resource_type": SHARE, "resource_id": "nope"},
               "ResourceNotFound", "nope"),
              ("show_protectable_instance",
               {"resource_type": PROJECT_TYPE, "resource_id": "proj-b"},
               "ResourceNotFound", "proj-b"),
              ("show_protectable_instance",
               {"resource_type": "OS::Nova::Server", "resource_id": "x"},
               "UnsupportedResourceType", "OS::Nova::Server"),
              ("list_protectable_dependents",
               {"resource_type": PROJECT_TYPE, "resource_id": "proj-b"},
               "Forbidden", "share_worker:protectable:get_all_projects"),
              ("list_protectable_dependents",
               {"resource_type": "OS::Nova::Server", "resource_id": "x"},
               "UnsupportedResourceType", "OS::Nova::Server")]
    return cases


def missing_and_unknown_cases(cp_id, share_id):
    required = {"protect": {"resource": {"type": SHARE, "id": share_id}},
                "restore": {"checkpoint_id": cp_id},
                "delete": {"checkpoint_id": cp_id},
                "show_checkpoint": {"checkpoint_id": cp_id},
                "show_restore": {"restore_id": "r-1"},
                "show_protectable_type": {"resource_type": SHARE},
                "list_protectable_instances": {"resource_type": SHARE},
                "show_protectable_instance": {"resource_type": SHARE,
                                              "resource_id": share_id},
                "list_protectable_dependents": {
                    "resource_type": PROJECT_TYPE, "resource_id": PROJECT},
                "show_plugin_schemas": {"resource_type": SHARE},
                "list_checkpoints": {}, "list_restores": {},
                "list_protectable_types": {}}
    cases = []
    for method, args in required.items():
        cases.append((method, dict(args, bogus=1), "InvalidInput", "bogus"))
        cases.append((method, dict(args, **{LONG: 1}), "InvalidInput",
                      "takes no argument"))
        for name in args:
            less = {k: v for k, v in args.items() if k != name}
            cases.append((method, less, "InvalidInput", name))
    return cases


def test_every_bad_argument_is_a_contract_error(start_service, client,
                                                available, sim, events):
    start_service()
    cp = available()
    share_id = sim.sim.create_share(PROJECT)
    cases = (protect_cases(share_id) + restore_cases(cp["id"], share_id)
             + id_cases("delete", "checkpoint_id")
             + id_cases("show_checkpoint", "checkpoint_id")
             + id_cases("show_restore", "restore_id",
                        not_found="RestoreNotFound")
             + listing_cases("list_checkpoints", "CheckpointNotFound")
             + listing_cases("list_restores", "RestoreNotFound")
             + protectable_cases(share_id)
             + missing_and_unknown_cases(cp["id"], share_id))
    assert len(cases) > 250
    assert check_refusals(client, user_ctx().to_dict(), cases) == []
    # nothing was recorded, nothing changed in Manila, nothing published
    ctxt = user_ctx().to_dict()
    assert [c["id"] for c in client.call(ctxt, "list_checkpoints")] == [
        cp["id"]]
    assert client.call(ctxt, "list_restores") == []
    assert len(sim.sim.snapshots()) == 1
    assert {e for _, e, _, _ in events.events} == {
        "share_worker.checkpoint.protect.start", PROTECT_END}
    assert client.call(ctxt, "show_checkpoint",
                       checkpoint_id=cp["id"])["status"] == "available"


BAD_CONTEXTS = [
    ({}, "project_id"), ({"user": "u1"}, "project_id"),
    ({"project_id": ""}, "project_id"), ({"project_id": None}, "project_id"),
    ({"project_id": 5}, "project_id"), ({"project_id": ["p"]}, "project_id"),
    ({"project_id": {"id": PROJECT}}, "project_id"),
    (dict(user_ctx().to_dict(), is_admin="false"), "is_admin"),
    (dict(user_ctx().to_dict(), roles="admin"), "roles"),
    (dict(user_ctx().to_dict(), user=["u"]), "user"),
]
#: too long: InvalidInput naming the field (DESIGN 3.2)
LONG_CONTEXTS = [
    ({"project_id": "p" * 256}, "context.project_id"),
    (dict(user_ctx().to_dict(), user="u" * 256), "context.user"),
    (dict(user_ctx().to_dict(), roles=["r" * 4097]), "context.roles[0]"),
]


def test_bad_contexts_are_forbidden(start_service, client, sim):
    start_service()
    share_id = sim.sim.create_share(PROJECT)
    calls = [("protect", {"resource": {"type": SHARE, "id": share_id}}),
             ("restore", {"checkpoint_id": "cp-1"}),
             ("delete", {"checkpoint_id": "cp-1"}),
             ("show_checkpoint", {"checkpoint_id": "cp-1"}),
             ("list_checkpoints", {}), ("show_restore", {"restore_id": "r"}),
             ("list_restores", {}), ("list_protectable_types", {}),
             ("show_protectable_type", {"resource_type": SHARE}),
             ("list_protectable_instances", {"resource_type": SHARE}),
             ("show_protectable_instance", {"resource_type": SHARE,
                                            "resource_id": share_id}),
             ("list_protectable_dependents", {
                 "resource_type": PROJECT_TYPE, "resource_id": PROJECT}),
             ("show_plugin_schemas", {"resource_type": SHARE})]
    wrong = []
    for expected, contexts in (("Forbidden", BAD_CONTEXTS),
                               ("InvalidInput", LONG_CONTEXTS)):
        for ctxt, needle in contexts:
            for method, kwargs in calls:
                err = remote_error(client, ctxt, method, **kwargs)
                if err.exc_type != expected or needle not in err.value:
                    wrong.append((ctxt, method, err.exc_type, err.value))
    assert wrong == []
    assert sim.sim.snapshots() == []


@pytest.mark.parametrize("ctxt", [None, "proj-a", ["proj-a"], 5])
def test_a_context_that_is_not_a_dict_cannot_be_sent(start_service, client,
                                                     ctxt):
    """oslo.messaging's AMQP drivers spread the context dict into the
    message; anything else fails in the caller, never in the worker."""
    start_service()
    with pytest.raises(AttributeError):
        client.call(ctxt, "list_checkpoints")
    with pytest.raises(AttributeError):
        client.cast(ctxt, "list_checkpoints")
    assert client.call(user_ctx().to_dict(), "list_checkpoints") == []


def test_keystone_strategy_without_a_token_is_forbidden(
        start_service, worker_conf, client, sim):
    # the worker's own credentials are needed to start; "none" loads
    # without a Keystone
    worker_conf.set_override("auth_type", "none", group="manila_client")
    start_service(auth_strategy="keystone")
    share_id = sim.sim.create_share(PROJECT)
    for token in (None, ""):
        ctxt = user_ctx().to_dict()
        ctxt["auth_token"] = token
        for method, kwargs in (
                ("protect", {"resource": {"type": SHARE, "id": share_id}}),
                ("list_checkpoints", {}),
                ("list_protectable_instances", {"resource_type": SHARE})):
            err = remote_error(client, ctxt, method, **kwargs)
            assert err.exc_type == "Forbidden"
            assert "auth_token" in err.value
    assert sim.sim.snapshots() == []


# -- state errors -------------------------------------------------------------

def test_restore_and_delete_in_the_wrong_state(start_service, client,
                                               available, events, sim):
    start_service()
    ctxt = user_ctx().to_dict()
    # error: the share does not exist
    failed = client.call(ctxt, "protect", resource={"type": SHARE,
                                                    "id": "no-such-share"})
    events.wait(failed["id"], "share_worker.checkpoint.protect.error")
    # deleted
    gone = available()
    client.call(ctxt, "delete", checkpoint_id=gone["id"])
    events.wait(gone["id"], "share_worker.checkpoint.delete.end")
    # protecting: the snapshot takes 30s
    sim.sim.set_delays(snapshot_create=30)
    busy = client.call(ctxt, "protect", resource={
        "type": SHARE, "id": sim.sim.create_share(PROJECT)})
    assert busy["status"] == "protecting"
    for cp, status in ((failed, "error"), (gone, "deleted"),
                       (busy, "protecting")):
        err = remote_error(client, ctxt, "restore", checkpoint_id=cp["id"])
        assert err.exc_type == "InvalidState"
        assert cp["id"] in err.value and status in err.value
    err = remote_error(client, ctxt, "delete", checkpoint_id=busy["id"])
    assert err.exc_type == "InvalidState"
    assert busy["id"] in err.value and "protecting" in err.value
    # deleting a deleted checkpoint again is not an error
    assert client.call(ctxt, "delete", checkpoint_id=gone["id"])[
        "status"] == "deleted"
    assert client.call(ctxt, "list_restores") == []


def test_another_projects_records_are_not_found(start_service, client,
                                                available, events):
    start_service()
    cp = available()
    ctxt = user_ctx().to_dict()
    restore = client.call(ctxt, "restore", checkpoint_id=cp["id"])
    events.wait(restore["id"], "share_worker.restore.end")
    other = user_ctx("proj-b").to_dict()
    for method, kwargs, exc_type in (
            ("show_checkpoint", {"checkpoint_id": cp["id"]},
             "CheckpointNotFound"),
            ("restore", {"checkpoint_id": cp["id"]}, "CheckpointNotFound"),
            ("delete", {"checkpoint_id": cp["id"]}, "CheckpointNotFound"),
            ("show_restore", {"restore_id": restore["id"]},
             "RestoreNotFound"),
            ("list_checkpoints", {"marker": cp["id"]}, "CheckpointNotFound"),
            ("list_restores", {"marker": restore["id"]}, "RestoreNotFound"),
            ("list_checkpoints", {"filters": {"all_projects": True}},
             "Forbidden")):
        err = remote_error(client, other, method, **kwargs)
        assert err.exc_type == exc_type, (method, err.value)
    assert client.call(other, "list_checkpoints") == []
    # a project_id filter narrows the caller's own project, never widens
    assert client.call(other, "list_checkpoints",
                       filters={"project_id": PROJECT}) == []
    assert client.call(other, "list_restores") == []
    assert client.call(ctxt, "show_checkpoint", checkpoint_id=cp["id"])[
        "status"] == "available"


def test_a_page_is_at_most_max_page_size(start_service, client, available):
    start_service(max_page_size=2)
    made = {available()["id"] for _ in range(3)}
    ctxt = user_ctx().to_dict()
    for limit in (None, 3, 10 ** 9):
        page = client.call(ctxt, "list_checkpoints", limit=limit)
        assert len(page) == 2, limit
    rest = client.call(ctxt, "list_checkpoints", marker=page[-1]["id"])
    assert {c["id"] for c in page + rest} == made


def test_busy_when_max_in_flight_is_reached(start_service, client, sim,
                                            events):
    start_service(max_in_flight=1)
    sim.sim.set_delays(snapshot_create=30)
    ctxt = user_ctx().to_dict()
    first = client.call(ctxt, "protect", resource={
        "type": SHARE, "id": sim.sim.create_share(PROJECT)})
    assert first["status"] == "protecting"
    second = sim.sim.create_share(PROJECT)
    err = remote_error(client, ctxt, "protect",
                       resource={"type": SHARE, "id": second},
                       checkpoint_id="cp-busy")
    assert err.exc_type == "Busy"
    assert "max_in_flight=1" in err.value
    # nothing recorded for the refused one; the first one goes on
    err = remote_error(client, ctxt, "show_checkpoint",
                       checkpoint_id="cp-busy")
    assert err.exc_type == "CheckpointNotFound"
    assert client.call(ctxt, "show_checkpoint", checkpoint_id=first["id"])[
        "status"] == "protecting"
    # the same id again is idempotent, not Busy
    assert client.call(ctxt, "protect", resource=first["resource"],
                       checkpoint_id=first["id"])["id"] == first["id"]


def test_a_busy_cast_is_an_error_event(start_service, client, sim, events):
    start_service(max_in_flight=1)
    sim.sim.set_delays(snapshot_create=30)
    ctxt = user_ctx().to_dict()
    client.call(ctxt, "protect", resource={
        "type": SHARE, "id": sim.sim.create_share(PROJECT)})
    client.cast(ctxt, "protect", resource={
        "type": SHARE, "id": sim.sim.create_share(PROJECT)},
        checkpoint_id="cp-busy")
    err = events.wait("cp-busy", "share_worker.checkpoint.protect.error",
                      timeout=5)
    assert err["error"]["code"] == "Busy"


# -- casts ------------------------------------------------------------------

def bad_casts(cp_id):
    """(method, context, kwargs, event type, correlating field, value,
    error code): each refused, each with an id to find its event by."""
    ctxt = user_ctx().to_dict()
    protect_error = "share_worker.checkpoint.protect.error"
    delete_error = "share_worker.checkpoint.delete.error"
    restore_error = "share_worker.restore.error"
    ok = {"type": SHARE, "id": "some-share"}
    return [
        ("protect", ctxt, {"resource": None, "checkpoint_id": "bc-1"},
         protect_error, "id", "bc-1", "InvalidInput"),
        ("protect", ctxt, {"resource": {"type": "OS::Nova::Server",
                                        "id": "vm"},
                           "checkpoint_id": "bc-2"},
         protect_error, "id", "bc-2", "UnsupportedResourceType"),
        ("protect", ctxt, {"resource": ok, "checkpoint_id": "bc-3",
                           "options": {"force": "yes"}},
         protect_error, "id", "bc-3", "InvalidInput"),
        ("protect", ctxt, {"resource": ok, "checkpoint_id": "bc-4",
                           "bogus": GARBAGE},
         protect_error, "id", "bc-4", "InvalidInput"),
        ("restore", ctxt, {"checkpoint_id": "bc-6"},
         restore_error, "checkpoint_id", "bc-6", "CheckpointNotFound"),
        ("restore", ctxt, {"checkpoint_id": cp_id,
                           "options": {"colour": 1}},
         restore_error, "checkpoint_id", cp_id, "InvalidInput"),
        ("delete", ctxt, {"checkpoint_id": "bc-7"},
         delete_error, "id", "bc-7", "CheckpointNotFound"),
    ]


def test_each_bad_cast_is_an_error_event(start_service, client, available,
                                         events):
    start_service()
    cp = available()
    for method, ctxt, kwargs, event_type, field, value, code in bad_casts(
            cp["id"]):
        client.cast(ctxt, method, **kwargs)
        found = wait_for(lambda: [  # noqa: B023 - waited for at once
            p for _, e, _, p in events.events
            if e == event_type and p[field] == value],  # noqa: B023
            timeout=5, what="%s for %s" % (event_type, value))
        assert len(found) == 1
        assert found[0]["error"]["code"] == code
        validate_event(event_type, "ERROR", found[0])
    assert client.call(user_ctx().to_dict(), "show_checkpoint",
                       checkpoint_id=cp["id"])["status"] == "available"


def test_an_unauthenticated_cast_publishes_nothing(start_service, client,
                                                  sim, events, worker_conf,
                                                  rabbit_vhost):
    """A cast whose context can't be trusted is refused with a log line
    only: no project may be told of it, the one it claims included."""
    start_service()
    ok = {"type": SHARE, "id": sim.sim.create_share(PROJECT)}
    for ctxt, kwargs in (
            ({"user": "u1"}, {"resource": ok, "checkpoint_id": "bc-5"}),
            ({"project_id": 5}, {"checkpoint_id": "bc-8"}),
            (dict(user_ctx().to_dict(), is_admin="yes"),
             {"checkpoint_id": "bc-9"})):
        client.cast(ctxt, "delete" if "resource" not in kwargs
                    else "protect", **kwargs)
    topic = worker_conf.share_worker.topic
    wait_for(lambda: all(n == 0 for q, n in queue_depths(rabbit_vhost)
                         .items() if q.startswith(topic)),
             timeout=20, what="the casts to be handled")
    client.cast(user_ctx().to_dict(), "protect", resource=ok,
                checkpoint_id="cp-after")
    events.wait("cp-after", "share_worker.checkpoint.protect.start")
    assert [p for _, _, _, p in events.events
            if p.get("id") in ("bc-5", "bc-8", "bc-9")] == []
    assert {e for _, e, _, _ in events.events} == {
        "share_worker.checkpoint.protect.start"}


def queue_depths(vhost):
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p",
                          vhost.name, "name", "messages"],
                         capture_output=True, text=True, timeout=60,
                         check=True).stdout
    rows = (line.split("\t") for line in out.splitlines() if "\t" in line)
    return {name: int(count) for name, count in rows
            if count.isdigit()}


def test_fifty_bad_casts_then_a_good_protect(start_service, client, sim,
                                             events, worker_conf,
                                             rabbit_vhost):
    start_service()
    ctxt = user_ctx().to_dict()
    garbage = [
        ("protect", ctxt, {"resource": HUGE}),
        ("protect", ctxt, {"resource": GARBAGE, "options": GARBAGE}),
        ("protect", {}, {"resource": {"type": SHARE, "id": "x"}}),
        ("protect", ctxt, {"resource": {"type": SHARE, "id": "../x"},
                           "checkpoint_id": LONG}),
        ("restore", ctxt, {"checkpoint_id": [GARBAGE]}),
        ("restore", {"project_id": ["p"]}, {"checkpoint_id": "cp"}),
        ("delete", ctxt, {"checkpoint_id": None, LONG: 1}),
        ("delete", ctxt, {}),
        ("list_checkpoints", ctxt, {"limit": 10 ** 9}),
        ("no_such_method", ctxt, {"a": 1}),
    ]
    for i in range(50):
        method, bad_ctxt, kwargs = garbage[i % len(garbage)]
        client.cast(bad_ctxt, method, **kwargs)
    share_id = sim.sim.create_share(PROJECT)
    client.cast(ctxt, "protect", resource={"type": SHARE, "id": share_id},
                checkpoint_id="cp-good")
    end = events.wait("cp-good", PROTECT_END)
    assert end["saved_info"]["share_id"] == share_id
    assert client.call(ctxt, "show_checkpoint",
                       checkpoint_id="cp-good")["status"] == "available"
    topic = worker_conf.share_worker.topic
    wait_for(lambda: all(n == 0 for q, n in queue_depths(rabbit_vhost)
                         .items() if q.startswith(topic)),
             timeout=20, what="the worker's queues to be empty")
    assert [c["id"] for c in client.call(ctxt, "list_checkpoints")] == [
        "cp-good"]


# -- messages the dispatcher refuses ------------------------------------------

def test_unknown_method_and_unsupported_version(start_service, client,
                                                events, sim):
    start_service()
    ctxt = user_ctx().to_dict()
    for method in ("no_such_method", "_private", "__init__", "engine",
                   "report_rejected", "on_share_event", "run_policy"):
        err = remote_error(client, ctxt, method, checkpoint_id="cp")
        assert err.exc_type == "NoSuchMethod" and method in err.value
        client.cast(ctxt, method, checkpoint_id="cp")
    for version in ("2.0", "1.99"):
        newer = client.prepare(version=version)
        err = remote_error(newer, ctxt, "list_checkpoints")
        assert err.exc_type == "UnsupportedVersion"
        assert version in err.value
        newer.cast(ctxt, "protect", resource={"type": SHARE, "id": "x"})
    share_id = sim.sim.create_share(PROJECT)
    cp = client.call(ctxt, "protect", resource={"type": SHARE,
                                                "id": share_id})
    events.wait(cp["id"], PROTECT_END)
    assert client.call(ctxt, "list_checkpoints")[0]["id"] == cp["id"]


def _amqp_url(vhost):
    return "amqp://%s:%s@%s:%d/%s" % (rabbitmq.USER, rabbitmq.PASSWORD,
                                      rabbitmq.HOST, rabbitmq.PORT,
                                      vhost.name)


def test_raw_poison_messages_do_not_stick(start_service, client, sim,
                                          events, worker_conf, rabbit_vhost):
    """Messages no oslo.messaging client would send, published with kombu
    straight to the worker's topic."""
    start_service()
    topic = worker_conf.share_worker.topic

    def envelope(message):
        message.setdefault("_unique_id", uuid.uuid4().hex)
        return {"oslo.version": "2.0", "oslo.message": json.dumps(message)}

    bodies = [
        "not json at all", b"\xff\xfe\x00binary", "[]", "{}", "null",
        {"oslo.version": "2.0", "oslo.message": "{broken"},
        {"oslo.version": "9.9", "oslo.message": "{}"},
        envelope({}),
        envelope({"method": 5, "args": {}}),
        envelope({"method": "protect", "args": []}),
        envelope({"method": "protect", "args": "x"}),
        envelope({"method": "protect", "args": {"resource": GARBAGE},
                  "version": 2}),
        envelope({"method": "protect",
                  "args": {"resource": {"type": SHARE, "id": "x"}}}),
        envelope({"method": "protect", "args": {"resource": None},
                  "_context_project_id": PROJECT}),
        envelope({"method": "list_checkpoints", "args": {},
                  "_context_project_id": PROJECT, "namespace": "other"}),
    ]
    with kombu.Connection(_amqp_url(rabbit_vhost)) as conn:
        producer = conn.Producer()
        for body in bodies:
            if isinstance(body, dict):
                body = json.dumps(body)
            producer.publish(body, exchange="share_worker",
                             routing_key=topic,
                             content_type="application/json",
                             content_encoding="utf-8"
                             if isinstance(body, str) else "binary")
    ctxt = user_ctx().to_dict()
    share_id = sim.sim.create_share(PROJECT)
    cp = client.call(ctxt, "protect", resource={"type": SHARE,
                                                "id": share_id})
    events.wait(cp["id"], PROTECT_END)
    wait_for(lambda: all(n == 0 for q, n in queue_depths(rabbit_vhost)
                         .items() if q.startswith(topic)),
             timeout=20, what="the worker's queues to be empty")
    assert [c["id"] for c in client.call(ctxt, "list_checkpoints")] == [
        cp["id"]]
