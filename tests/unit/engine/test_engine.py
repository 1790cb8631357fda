"""The engine end to end over a fake Manila: records, phases, events."""

import datetime

import pytest
from manilaclient.common.apiclient import exceptions as m_exc
from oslo_context import context as o_context

from share_worker import exception
from share_worker.db.store import Store
from share_worker.engine import admission
from share_worker.engine.service import Engine
from share_worker.plugins.loader import PluginRegistry
from tests.conftest import RecordingSink, wait_for
from tests.unit import fakes

SHARE = "OS::Manila::Share"


def ctx(project="p1", **kw):
    return o_context.RequestContext(user_id="u1", project_id=project,
                                    auth_token="tok", **kw)


def become(manila, kind, status):
    manager = manila.snapshots if kind == "snapshot" else manila.shares
    for item in manager.items.values():
        if item.status in ("creating", "deleting", "reverting"):
            if status is None:
                manager.items.pop(item.id)
            else:
                item.status = status
            return item.id
    return None


def status_of(engine, cid, project="p1"):
    return engine.show_checkpoint(ctx(project), cid)["status"]


def test_protect_returns_protecting_then_becomes_available(engine, manila):
    share = manila.add_share()
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    assert cp["status"] == "protecting" and cp["trigger"] == "rpc"
    assert cp["options"]["snapshot_name"] == "share_worker-" + cp["id"]
    wait_for(lambda: manila.snapshots.items, what="snapshot created")
    become(manila, "snapshot", "available")
    end = engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end")
    assert end["status"] == "available"
    assert end["saved_info"]["snapshot_id"] in manila.snapshots.items
    assert engine.sink.for_record(cp["id"]) == [
        "share_worker.checkpoint.protect.start",
        "share_worker.checkpoint.protect.end"]
    assert status_of(engine, cp["id"]) == "available"


def test_a_new_wait_is_first_looked_at_after_the_shortest_pause(
        make_engine, manila):
    """A lone protect's snapshot is looked at poll_min_interval after its
    create, not at the next scan planned before the wait began (once a
    whole poll_interval, here 5 s, too late)."""
    engine = make_engine(poll_interval=5.0, poll_min_interval=0.05)
    share = manila.add_share()
    # the snapshot is ready as soon as it is made
    real_create = manila.snapshots.create

    def ready_at_once(*args, **kwargs):
        snap = real_create(*args, **kwargs)
        snap.status = "available"
        return snap

    manila.snapshots.create = ready_at_once
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end",
                     timeout=2.5)


def test_protect_with_existing_checkpoint_id_returns_it(engine, manila):
    share = manila.add_share()
    ref = {"type": SHARE, "id": share.id}
    first = engine.protect(ctx(), ref, checkpoint_id="cp-fixed")
    again = engine.protect(ctx(), ref, checkpoint_id="cp-fixed")
    assert again["id"] == first["id"] == "cp-fixed"
    wait_for(lambda: manila.snapshots.items)
    become(manila, "snapshot", "available")
    engine.sink.wait("cp-fixed", "share_worker.checkpoint.protect.end")
    assert len(manila.snapshots.items) == 1
    with pytest.raises(exception.InvalidInput):
        engine.protect(ctx(), {"type": SHARE, "id": "other"},
                       checkpoint_id="cp-fixed")
    with pytest.raises(exception.InvalidInput):
        engine.protect(ctx("p2"), ref, checkpoint_id="cp-fixed")


def test_snapshot_error_is_cleaned_up(engine, manila):
    share = manila.add_share()
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    wait_for(lambda: manila.snapshots.items)
    snap_id = become(manila, "snapshot", "error")
    # The cleanup deletes it (status deleting); then it disappears.
    wait_for(lambda: ("delete", snap_id) in manila.snapshots.calls)
    manila.snapshots.items.pop(snap_id)
    err = engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.error")
    assert err["status"] == "error"
    assert err["error"]["code"] == "ResourceError"
    assert snap_id in err["error"]["message"]


def test_missing_share_fails_with_resource_not_found(engine):
    cp = engine.protect(ctx(), {"type": SHARE, "id": "nope"})
    err = engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.error")
    assert err["error"]["code"] == "ResourceNotFound"
    assert "nope" in err["error"]["message"]


def test_manila_5xx_is_retried_then_succeeds(engine, manila):
    share = manila.add_share()
    manila.snapshots.fail_next.extend(
        [m_exc.InternalServerError(500, "x")] * 2)
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    wait_for(lambda: manila.snapshots.items)
    become(manila, "snapshot", "available")
    engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end")


def test_manila_5xx_past_the_retries_fails(make_engine, manila):
    engine = make_engine(retry_attempts=2)
    share = manila.add_share()
    manila.snapshots.fail_next.extend(
        [m_exc.InternalServerError(503, "x")] * 5)
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    err = engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.error")
    assert err["error"]["code"] == "ManilaUnavailable"
    assert "503" in err["error"]["message"]


def test_wait_past_its_timeout_fails_and_cleans_up(make_engine, manila):
    engine = make_engine(protect_timeout=1)
    share = manila.add_share()
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    snap_id = wait_for(lambda: list(manila.snapshots.items))[0]
    wait_for(lambda: ("delete", snap_id) in manila.snapshots.calls,
             what="cleanup of the timed-out snapshot")
    manila.snapshots.items.pop(snap_id)
    err = engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.error")
    assert err["error"]["code"] == "OperationTimeout"
    assert "within 1 seconds" in err["error"]["message"]
    assert "was removed" in err["error"]["message"]


def test_delete_then_restore_refused(engine, manila):
    share = manila.add_share()
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    with pytest.raises(exception.InvalidState):
        engine.delete(ctx(), cp["id"])      # still protecting
    with pytest.raises(exception.InvalidState):
        engine.restore(ctx(), cp["id"])
    wait_for(lambda: manila.snapshots.items)
    become(manila, "snapshot", "available")
    engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end")
    deleting = engine.delete(ctx(), cp["id"])
    assert deleting["status"] == "deleting"
    assert engine.delete(ctx(), cp["id"])["status"] == "deleting"
    wait_for(lambda: become(manila, "snapshot", None))
    engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end")
    assert status_of(engine, cp["id"]) == "deleted"
    with pytest.raises(exception.CheckpointNotFound):
        engine.delete(ctx("p2"), cp["id"])


def test_restore_new_share(engine, manila):
    share = manila.add_share()
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    wait_for(lambda: manila.snapshots.items)
    become(manila, "snapshot", "available")
    engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end")
    restore = engine.restore(ctx(), cp["id"], {"restore_name": "back"})
    assert restore["status"] == "in_progress"
    assert restore["target"] == {"share_id": None, "mode": "new"}
    new_id = wait_for(lambda: become(manila, "share", "available"))
    end = engine.sink.wait(restore["id"], "share_worker.restore.end")
    assert end["status"] == "success"
    assert end["target"] == {"share_id": new_id, "mode": "new"}
    assert engine.show_restore(ctx(), restore["id"])["status"] == "success"
    assert [r["id"] for r in engine.list_restores(ctx())] == [restore["id"]]
    with pytest.raises(exception.RestoreNotFound):
        engine.show_restore(ctx("p2"), restore["id"])


def test_busy_when_max_in_flight(make_engine, manila):
    engine = make_engine(max_in_flight=1)
    share = manila.add_share()
    engine.protect(ctx(), {"type": SHARE, "id": share.id})
    with pytest.raises(exception.Busy) as err:
        engine.protect(ctx(), {"type": SHARE, "id": share.id})
    assert "max_in_flight=1" in str(err.value)


def test_repeated_protect_is_answered_even_when_busy(make_engine, manila):
    engine = make_engine(max_in_flight=1)
    share = manila.add_share()
    ref = {"type": SHARE, "id": share.id}
    first = engine.protect(ctx(), ref, checkpoint_id="cp-busy")
    assert engine.protect(ctx(), ref, checkpoint_id="cp-busy")["id"] == \
        first["id"]
    with pytest.raises(exception.Busy):
        engine.protect(ctx(), ref, checkpoint_id="cp-other")


def test_one_project_cannot_fill_the_worker(make_engine, manila):
    engine = make_engine(max_in_flight_per_project=2)
    share = manila.add_share()
    ref = {"type": SHARE, "id": share.id}
    engine.protect(ctx(), ref, checkpoint_id="cp-1")
    engine.protect(ctx(), ref, checkpoint_id="cp-2")
    with pytest.raises(exception.QuotaExceeded) as err:
        engine.protect(ctx(), ref, checkpoint_id="cp-3")
    assert "max_in_flight_per_project=2" in err.value.message
    # a repeated request is still answered, another project still served
    assert engine.protect(ctx(), ref, checkpoint_id="cp-2")["id"] == "cp-2"
    other = manila.add_share(project_id="p2")
    engine.protect(ctx("p2"), {"type": SHARE, "id": other.id})
    # once one ends, the project may go on
    snapshot = wait_for(lambda: next(
        (s for s in manila.snapshots.items.values()
         if s.name == "share_worker-cp-1"), None), what="cp-1's snapshot")
    snapshot.status = "available"
    wait_for(lambda: engine.show_checkpoint(ctx(), "cp-1")["status"] ==
             "available", what="cp-1 available")
    wait_for(lambda: engine.ops.count_unfinished("p1") < 2,
             what="an operation of p1 finished")
    engine.protect(ctx(), ref, checkpoint_id="cp-3")


def test_two_workers_see_each_others_quota_use(make_engine, manila):
    clock = {"now": 0.0}
    first = make_engine(max_in_flight_per_project=3)
    second = make_engine()
    for engine in (first, second):
        engine.admission._clock = lambda: clock["now"]
    ref = {"type": SHARE, "id": manila.add_share().id}
    first.protect(ctx(), ref, checkpoint_id="cp-1")
    first.protect(ctx(), ref, checkpoint_id="cp-2")
    second.protect(ctx(), ref, checkpoint_id="cp-3")   # counts 2 + 1
    with pytest.raises(exception.QuotaExceeded):
        second.protect(ctx(), ref, checkpoint_id="cp-4")
    # the first worker's count is trusted for PROJECT_RECOUNT seconds,
    # then counted in the store again: the second's accept is seen
    clock["now"] += admission.PROJECT_RECOUNT
    with pytest.raises(exception.QuotaExceeded) as err:
        first.protect(ctx(), ref, checkpoint_id="cp-4")
    assert "has 3 operations in flight" in err.value.message
    assert first.ops.count_unfinished("p1") == 3


@pytest.mark.parametrize("resource, error", [
    ("share", exception.InvalidInput),
    ({"type": SHARE}, exception.InvalidInput),
    ({"type": SHARE, "id": ""}, exception.InvalidInput),
    ({"type": "OS::Nova::Server", "id": "x"},
     exception.UnsupportedResourceType),
    ({"type": SHARE, "id": "x", "colour": 1}, exception.InvalidInput),
])
def test_bad_resources(engine, resource, error):
    with pytest.raises(error):
        engine.protect(ctx(), resource)


def test_bad_ids_and_contexts(engine):
    with pytest.raises(exception.InvalidInput):
        engine.protect(ctx(), {"type": SHARE, "id": "x"}, checkpoint_id=7)
    with pytest.raises(exception.InvalidInput):
        engine.show_checkpoint(ctx(), "../etc")
    with pytest.raises(exception.Forbidden):
        engine.protect(o_context.RequestContext(),
                       {"type": SHARE, "id": "x"})
    with pytest.raises(exception.InvalidInput):
        engine.list_checkpoints(ctx(), limit=0)
    # a project_id filter narrows the caller's project, never widens it
    assert engine.list_checkpoints(ctx(), {"project_id": "p2"}) == []


def test_protectables_and_schemas(engine, manila):
    manila.add_share(id="ok")
    manila.add_share(id="bad", status="error")
    assert engine.list_protectable_types() == ["OS::Keystone::Project",
                                               SHARE]
    assert engine.show_protectable_type("OS::Keystone::Project") == {
        "name": "OS::Keystone::Project", "dependent_types": [SHARE]}
    listed = engine.list_protectable_instances(ctx(), SHARE)
    assert [r["id"] for r in listed] == ["ok"]
    shown = engine.show_protectable_instance(ctx(), SHARE, "bad")
    assert shown["extra_info"]["protectable"] is False
    assert "status error" in shown["extra_info"]["reason"]
    deps = engine.list_protectable_dependents(ctx(), "OS::Keystone::Project",
                                              "p1")
    assert [r["id"] for r in deps] == ["ok"]
    with pytest.raises(exception.Forbidden):
        engine.list_protectable_dependents(ctx(), "OS::Keystone::Project",
                                           "p2")
    schemas = engine.show_plugin_schemas(SHARE)
    assert set(schemas) == {"options_schema", "restore_schema",
                            "saved_info_schema"}
    with pytest.raises(exception.UnsupportedResourceType):
        engine.show_plugin_schemas("OS::Nope")


def test_a_checkpoint_being_restored_from_is_not_deleted(engine, manila):
    share = manila.add_share()
    cp = engine.protect(ctx(), {"type": SHARE, "id": share.id})
    wait_for(lambda: manila.snapshots.items)
    become(manila, "snapshot", "available")
    engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end")
    restore = engine.restore(ctx(), cp["id"])
    wait_for(lambda: [s for s in manila.shares.items.values()
                      if s.status == "creating"], what="the new share")
    with pytest.raises(exception.InvalidState) as err:
        engine.delete(ctx(), cp["id"])
    assert restore["id"] in err.value.message
    assert "restore in progress" in err.value.message
    assert status_of(engine, cp["id"]) == "available"
    become(manila, "share", "available")
    engine.sink.wait(restore["id"], "share_worker.restore.end")
    assert engine.delete(ctx(), cp["id"])["status"] == "deleting"


def test_a_redelivered_protect_or_restore_finds_its_first_record(engine,
                                                                 manila):
    """Without a checkpoint_id the id comes from the request's own
    unique id: the same message twice makes one checkpoint."""
    share = manila.add_share()
    resource = {"type": SHARE, "id": share.id}
    first = engine.protect(ctx(), resource, request_key="msg-1")
    again = engine.protect(ctx(), resource, request_key="msg-1")
    assert again["id"] == first["id"]
    other = engine.protect(ctx(), resource, request_key="msg-2")
    assert other["id"] != first["id"]
    # another project replaying the key gets an id of its own
    theirs = engine.protect(ctx("p2"), {"type": SHARE, "id": "s-p2"},
                            request_key="msg-1")
    assert theirs["id"] != first["id"]
    wait_for(lambda: len([s for s in manila.snapshots.items.values()
                          if s.share_id == share.id]) == 2)
    become(manila, "snapshot", "available")
    become(manila, "snapshot", "available")
    engine.sink.wait(first["id"], "share_worker.checkpoint.protect.end")
    restore = engine.restore(ctx(), first["id"], request_key="msg-3")
    # the same record, which the engine may have advanced meanwhile
    assert engine.restore(ctx(), first["id"], request_key="msg-3")[
        "id"] == restore["id"]
    assert [r["id"] for r in engine.list_restores(ctx())] == [restore["id"]]


def test_the_accepting_engine_publishes_what_an_engine_process_records(
        conf, sqlite_url, manila):
    """With engine processes, the share-worker process's engine accepts
    and publishes, they only advance: the events an engine process
    records go out through the accepting engine's outbox, and an engine
    process that stops deletes none of them."""
    conf.set_override("poll_interval", 0.05, group="share_worker")

    def engine(sink):
        clients = fakes.FakeClients(manila)
        store = Store.from_url(sqlite_url)
        store.upgrade()
        return Engine(conf, store, PluginRegistry.load(clients), clients,
                      sink=sink)

    class AnySink:
        """Takes anything: an event published here is seen, never kept
        back by a failed check."""

        def __init__(self):
            self.events = []

        def publish(self, event_type, priority, payload):
            self.events.append((event_type, payload))

    published, unused = RecordingSink(), AnySink()
    accepting, advancing = engine(published), engine(unused)
    accepting.start(run_operations=False, event_interval=0.05)
    advancing.start(publish=False, claim_interval=0.05)
    try:
        share = manila.add_share()
        accepting.protect(ctx(), {"type": SHARE, "id": share.id},
                          checkpoint_id="cp-split")
        published.wait("cp-split", "share_worker.checkpoint.protect.start")
        wait_for(lambda: become(manila, "snapshot", "available"),
                 what="the engine process's snapshot create")
        published.wait("cp-split", "share_worker.checkpoint.protect.end")
    finally:
        accepting.stop()
    try:
        # recorded once the accepting engine stopped: the stopping engine
        # process leaves it in the store
        advancing.ops.add_event("share_worker.checkpoint.protect.end",
                                "INFO", {"id": "cp-later"},
                                datetime.datetime(2026, 1, 1))
    finally:
        advancing.stop()
    assert unused.events == []
    assert [e["payload"]["id"] for e in
            advancing.ops.pending_events(10)] == ["cp-later"]


def test_an_engine_process_acts_on_what_it_claims_at_once(
        conf, sqlite_url, manila):
    """An operation another process accepted is acted on in the cycle
    that claims it, every claim_interval: not at the next status scan,
    which a long poll_interval puts seconds away."""
    conf.set_override("poll_interval", 6.0, group="share_worker")

    def engine():
        clients = fakes.FakeClients(manila)
        store = Store.from_url(sqlite_url)
        store.upgrade()
        return Engine(conf, store, PluginRegistry.load(clients), clients,
                      sink=RecordingSink())

    accepting, advancing = engine(), engine()
    accepting.start(run_operations=False)
    advancing.start(publish=False, claim_interval=0.05)
    try:
        share = manila.add_share()
        accepting.protect(ctx(), {"type": SHARE, "id": share.id},
                          checkpoint_id="cp-claimed")
        # a scan is at least poll_interval / 2 = 3 s away
        wait_for(lambda: any(s.share_id == share.id for s in
                             manila.snapshots.items.values()),
                 timeout=1.5, what="the snapshot create of the claim")
    finally:
        accepting.stop()
        advancing.stop()
