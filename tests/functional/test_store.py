"""The store on SQLite and on PostgreSQL: records, leases, outbox."""

import datetime
import threading
from concurrent import futures

import pytest
import sqlalchemy as sa

from share_worker import exception
from share_worker.db import acceptance, models
from share_worker.db.acceptance import Acceptance
from share_worker.db.operations import (
    Advance,
    Operation,
    OperationStore,
    RecordChange,
)
from share_worker.db.store import Store, Writer, utcnow
from tests.conftest import wait_for

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture
def store(any_db_url):
    s = Store.from_url(any_db_url)
    s.upgrade()
    yield s
    s.dispose()


def checkpoint(cid, project="p1", created=T0, status="protecting"):
    return dict(id=cid, project_id=project, user_id="u",
                resource_type="OS::Manila::Share", resource_id="share-1",
                resource_name=None, resource_extra={}, status=status,
                options={"force": False}, saved_info={}, trigger="rpc",
                policy_id=None, error=None, created_at=created,
                updated_at=created)


def operation(record_id, owner="w1", kind="protect", now=T0):
    return Operation(id="op-" + record_id, kind=kind, record_id=record_id,
                     project_id="p1", resource_type="OS::Manila::Share",
                     phase="start", state={"k": 1}, context={"user": "u"},
                     auth_token="secret", attempt=0, not_before=now,
                     deadline=now + datetime.timedelta(hours=1),
                     created_at=now, lease_owner=owner,
                     lease_until=now + datetime.timedelta(seconds=30))


def test_upgrade_is_idempotent_and_matches_models(store):
    store.upgrade()
    inspector = sa.inspect(store.engine)
    for table in models.metadata.sorted_tables:
        got = {c["name"] for c in inspector.get_columns(table.name)}
        assert got == {c.name for c in table.columns}, table.name


def test_accept_writes_record_operation_and_start_event(store):
    ops = OperationStore(store)
    cp, created = ops.accept("checkpoint", checkpoint("cp-1"),
                             operation("cp-1"), "x.protect.start")
    assert created and cp["status"] == "protecting"
    assert cp["resource"]["id"] == "share-1"
    assert cp["created_at"] == "2026-01-01T12:00:00.000000Z"
    events = ops.pending_events(10)
    assert [e["event_type"] for e in events] == ["x.protect.start"]
    # the record as it was, its event's id and its first sequence number
    assert events[0]["payload"]["id"] == "cp-1"
    assert events[0]["sequence"] == 1 and events[0]["event_id"]


def test_accept_of_an_existing_id_changes_nothing(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("cp-1"), operation("cp-1"), "e")
    again = checkpoint("cp-1", status="available")
    cp, created = ops.accept("checkpoint", again, operation("cp-1b"), "e")
    assert not created and cp["status"] == "protecting"
    assert ops.count_unfinished() == 1
    assert len(ops.pending_events(10)) == 1


def test_accept_many_writes_new_records_in_one_go_in_order(store):
    """Group commit: new ids are written with their operation and start
    event (events in the batch's order); an id already stored, or asked
    for twice in the batch, is answered with the stored (or first)
    record and writes nothing more."""
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("old"), operation("old"), "e-old")

    def item(cid, op_id=None, status="protecting"):
        op = operation(cid)
        op.id = op_id or op.id
        return Acceptance("checkpoint", checkpoint(cid, status=status), op,
                          "e-" + cid)

    got = ops.accept_many([item("a"), item("old", "op-old-2"), item("b"),
                           item("a", "op-a-2", status="available")])
    assert [(cp["id"], created) for cp, created in got] == [
        ("a", True), ("old", False), ("b", True), ("a", False)]
    assert got[3][0] == got[0][0] and got[3][0]["status"] == "protecting"
    assert ops.count_unfinished() == 3
    assert [e["event_type"] for e in ops.pending_events(10)] == [
        "e-old", "e-a", "e-b"]


def item(cid, op_id=None):
    op = operation(cid)
    op.id = op_id or op.id
    return Acceptance("checkpoint", checkpoint(cid), op, "e-" + cid)


def test_a_writer_keeps_its_connection_and_replaces_a_dropped_one(store):
    """The accept committer's writer: one connection for every
    transaction; when the database drops it (PostgreSQL restarted, here
    its backend terminated) the next transaction runs on a new one."""
    ops = OperationStore(store)
    writer = Writer(store)

    def dbapi_connection(conn):
        return conn.connection.dbapi_connection

    try:
        assert ops.accept_many([item("a")], writer)[0][1] is True
        first = writer.run(dbapi_connection)
        assert ops.accept_many([item("b")], writer)[0][1] is True
        assert writer.run(dbapi_connection) is first
        if not store.is_sqlite:
            with store.engine.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                              {"pid": first.info.backend_pid})
            assert ops.accept_many([item("c")], writer)[0][1] is True
            assert writer.run(dbapi_connection) is not first
    finally:
        writer.close()
    assert ops.count_unfinished() == (2 if store.is_sqlite else 3)
    # a repeat of an id is answered from the store, on the writer too
    again = ops.accept_many([item("a", "op-a-2")], writer)
    assert again[0][0]["id"] == "a" and again[0][1] is False
    writer.close()


def test_concurrent_accepts_of_one_id_write_it_once(store):
    """A second transaction inserting an id the first has not committed
    yet waits for it, then answers with the stored record instead of
    failing on the duplicate key."""
    if store.is_sqlite:
        pytest.skip("SQLite has one writer at a time")
    ops = OperationStore(store)
    inside, release = threading.Event(), threading.Event()

    def first(conn):
        result = acceptance.accept_many(conn, [item("x")])
        inside.set()
        assert release.wait(30)
        return result

    def lock_waiters():
        with store.engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE "
                "datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar_one()

    writer = Writer(store)
    with futures.ThreadPoolExecutor(2) as pool:
        one = pool.submit(writer.run, first)
        assert inside.wait(30)
        two = pool.submit(ops.accept_many, [item("x", "op-x-2")])
        wait_for(lambda: lock_waiters() == 1, timeout=30,
                 what="the second insert of x to wait for the first")
        release.set()
        assert one.result(30)[0][1] is True
        record, created = two.result(30)[0]
    writer.close()
    assert (record["id"], created) == ("x", False)
    assert ops.count_unfinished() == 1
    assert [e["event_type"] for e in ops.pending_events(10)] == ["e-x"]


def test_a_failing_accept_many_writes_nothing(store):
    ops = OperationStore(store)
    bad = checkpoint("bad")
    bad["resource_type"] = None          # NOT NULL
    with pytest.raises(sa.exc.IntegrityError):
        ops.accept_many([
            Acceptance("checkpoint", checkpoint("a"), operation("a"), "e"),
            Acceptance("checkpoint", bad, operation("bad"), "e")])
    assert store.list_checkpoints("p1", {}, None, None) == []
    assert ops.count_unfinished() == 0 and ops.pending_events(10) == []


def test_checkpoints_are_per_project(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("cp-1"), operation("cp-1"), "e")
    assert store.get_checkpoint("cp-1", "p1")["id"] == "cp-1"
    with pytest.raises(exception.CheckpointNotFound):
        store.get_checkpoint("cp-1", "p2")
    assert store.list_checkpoints("p2", {}, None, None) == []


def test_list_pages_newest_first_with_marker(store):
    ops = OperationStore(store)
    for i in range(5):
        cid = "cp-%d" % i
        ops.accept("checkpoint", checkpoint(
            cid, created=T0 + datetime.timedelta(seconds=i)),
            operation(cid), "e")
    first = store.list_checkpoints("p1", {}, 2, None)
    assert [c["id"] for c in first] == ["cp-4", "cp-3"]
    rest = store.list_checkpoints("p1", {}, None, first[-1]["id"])
    assert [c["id"] for c in rest] == ["cp-2", "cp-1", "cp-0"]
    with pytest.raises(exception.CheckpointNotFound):
        store.list_checkpoints("p1", {}, None, "nope")
    with pytest.raises(exception.InvalidInput) as err:
        store.list_checkpoints("p1", {"colour": "red"}, None, None)
    assert "colour" in str(err.value)
    assert store.list_checkpoints("p1", {"status": "available"}, None,
                                  None) == []


def test_claim_takes_free_and_expired_leases_only(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a", owner=None),
               "e")
    ops.accept("checkpoint", checkpoint("b"), operation("b", owner="w2"),
               "e")
    now = T0 + datetime.timedelta(seconds=1)
    got = ops.claim("w1", now, now + datetime.timedelta(seconds=30), 10)
    assert [o.record_id for o in got] == ["a"]
    assert got[0].auth_token == "secret" and got[0].state == {"k": 1}
    later = T0 + datetime.timedelta(minutes=5)   # w2's lease expired
    got = ops.claim("w1", later, later + datetime.timedelta(seconds=30), 10,
                    exclude={"op-a"})
    assert [o.record_id for o in got] == ["b"]


def test_claim_never_takes_the_callers_own_operations(store):
    """An operation is leased to its acceptor before the acceptor hands
    it to its reconciler; the reconciler's claim must not race for it
    (that made the same operation run twice)."""
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a", owner="w1"),
               "e")
    now = T0 + datetime.timedelta(seconds=1)
    assert ops.claim("w1", now, now + datetime.timedelta(seconds=30),
                     10) == []
    assert [o.record_id for o in ops.claim(
        "w2", T0 + datetime.timedelta(minutes=5),
        T0 + datetime.timedelta(minutes=6), 10)] == ["a"]


def test_apply_is_fenced_by_the_lease(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a", owner="w1"),
               "e")
    op = operation("a")
    op.phase, op.finished = "done", True
    change = RecordChange({"status": "available"},
                          [("x.protect.end", "INFO")])
    assert ops.apply("w2", [Advance(op, change)]) == ["op-a"]
    assert store.get_checkpoint("a")["status"] == "protecting"
    assert ops.apply("w1", [Advance(op, change)]) == []
    assert store.get_checkpoint("a")["status"] == "available"
    assert ops.count_unfinished() == 0
    with store.read() as conn:
        token = conn.execute(sa.select(models.operations.c.auth_token)
                             ).scalar_one()
    assert token is None  # the caller's token is not kept after the end
    kinds = [e["event_type"] for e in ops.pending_events(10)]
    assert kinds == ["e", "x.protect.end"]


def test_a_batch_of_steps_with_a_lost_lease_writes_the_others(store):
    """One apply of many steps (written together where the driver
    counts an executemany's rows): the step whose lease is another
    worker's is named and changes nothing; the others are written, each
    record's events numbered after its own earlier ones."""
    ops = OperationStore(store)
    names = ["b%02d" % n for n in range(12)]
    for name in names:
        ops.accept("checkpoint", checkpoint(name),
                   operation(name, owner="w2" if name == "b05" else "w1"),
                   "x.protect.start")
    advances = []
    for number, name in enumerate(names):
        op = operation(name)
        if number % 2:          # half of them finish, half go on waiting
            op.phase, op.finished = "done", True
            change = RecordChange({"status": "available"},
                                  [("x.protect.end", "INFO")])
        else:
            op.phase, op.state = "wait", {"wait": {"id": "s-" + name}}
            change = RecordChange({"saved_info": {"snapshot": "s-" + name}})
        advances.append(Advance(op, change))
    now = T0 + datetime.timedelta(seconds=5)
    assert ops.apply("w1", list(reversed(advances)), now) == ["op-b05"]
    statuses = {n: store.get_checkpoint(n)["status"] for n in names}
    assert statuses == {n: "available" if i % 2 and n != "b05"
                        else "protecting" for i, n in enumerate(names)}
    assert store.get_checkpoint("b04")["saved_info"] == {"snapshot": "s-b04"}
    with store.read() as conn:
        rows = conn.execute(sa.select(
            models.operations.c.record_id, models.operations.c.phase,
            models.operations.c.lease_owner)).all()
    phases = {r.record_id: (r.phase, r.lease_owner) for r in rows}
    assert phases["b05"] == ("start", "w2")
    assert phases["b04"] == ("wait", "w1") and phases["b03"] == ("done", None)
    events = [(e["record_id"], e["event_type"], e["sequence"])
              for e in ops.pending_events(100)]
    ends = sorted(e for e in events if e[1] == "x.protect.end")
    assert ends == [(n, "x.protect.end", 2) for i, n in enumerate(names)
                    if i % 2 and n != "b05"]
    assert len(events) == len(names) + len(ends)


def test_accept_delete_is_a_compare_and_swap(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a", status="available"),
               operation("a"), "e")
    delete_op = operation("a", kind="delete")
    delete_op.id = "op-delete-a"
    cp, created = ops.accept_delete("a", "p1", ("available",), delete_op,
                                    "d")
    assert created and cp["status"] == "deleting"
    cp, created = ops.accept_delete("a", "p1", ("available",),
                                    operation("a2", kind="delete"), "d")
    assert not created and cp["status"] == "deleting"
    ops.accept("checkpoint", checkpoint("b"), operation("b"), "e")
    with pytest.raises(exception.InvalidState) as err:
        ops.accept_delete("b", "p1", ("available",),
                          operation("b2", kind="delete"), "d")
    assert "protecting" in str(err.value)
    with pytest.raises(exception.CheckpointNotFound):
        ops.accept_delete("b", "p2", ("available",),
                          operation("b3", kind="delete"), "d")


def test_release_frees_leases(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a", owner="w1"),
               "e")
    ops.release("w1")
    now = utcnow()
    assert len(ops.claim("w2", now, now, 10)) == 1


def test_outbox_delete(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a"), "e")
    events = ops.pending_events(10)
    ops.delete_events([e["id"] for e in events])
    assert ops.pending_events(10) == []


def test_renew_extends_live_leases_only_and_names_them(store):
    ops = OperationStore(store)
    for name in ("a", "b"):
        ops.accept("checkpoint", checkpoint(name), operation(name), "e")
    # b's lease lapsed (another worker may take it): not renewed
    with store.write() as conn:
        conn.execute(sa.update(models.operations).where(
            models.operations.c.id == "op-b").values(
            lease_until=T0 - datetime.timedelta(seconds=1)))
    now = T0 + datetime.timedelta(seconds=10)
    kept = ops.renew("w1", T0, now + datetime.timedelta(seconds=30))
    assert kept == {"op-a"}
    # a longer hold (a Manila call in progress) is not shortened
    far = now + datetime.timedelta(hours=1)
    assert ops.fence("op-a", "w1", now, far)
    assert ops.renew("w1", now, now + datetime.timedelta(seconds=30)) == {
        "op-a"}
    with store.read() as conn:
        until = conn.execute(sa.select(models.operations.c.lease_until)
                             .where(models.operations.c.id == "op-a")
                             ).scalar_one()
    assert until == far


def test_fence_refuses_a_lapsed_or_taken_lease(store):
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a"), "e")
    soon = T0 + datetime.timedelta(seconds=1)
    assert ops.fence("op-a", "w1", soon, soon + datetime.timedelta(
        seconds=90))
    assert not ops.fence("op-a", "w2", soon, soon)       # not w2's
    late = T0 + datetime.timedelta(hours=2)              # lapsed
    assert not ops.fence("op-a", "w1", late, late)
    [taken] = ops.claim("w2", late, late + datetime.timedelta(seconds=30),
                        10)
    assert taken.taken_over
    assert not ops.fence("op-a", "w1", late, late)
    assert ops.fence("op-a", "w2", late, late)


def test_an_owner_claims_its_own_lapsed_operations_back(store):
    """A worker lets go of operations whose lease it could not renew (a
    store outage); once they lapse it may take them back, as taken over
    (a call it had made may have landed)."""
    ops = OperationStore(store)
    ops.accept("checkpoint", checkpoint("a"), operation("a"), "e")
    late = T0 + datetime.timedelta(minutes=5)
    [again] = ops.claim("w1", late, late + datetime.timedelta(seconds=30),
                        10)
    assert again.record_id == "a" and again.taken_over


def restore_row(rid, cid):
    return dict(id=rid, project_id="p1", user_id="u", checkpoint_id=cid,
                status="in_progress", options={}, target={
                    "share_id": None, "mode": "new"}, error=None,
                created_at=T0, updated_at=T0)


def test_a_delete_and_a_restore_never_both_get_past_the_check(store):
    """Invariant 11, raced: each round a delete and a restore of one
    available checkpoint start together; exactly one of them wins."""
    ops = OperationStore(store)
    outcomes = []
    for n in range(12):
        cid = "race-%d" % n
        ops.accept("checkpoint", checkpoint(cid, status="available"),
                   operation(cid), "e")
        start = threading.Barrier(2)

        def delete(cid=cid, start=start):
            start.wait()
            try:
                ops.accept_delete(cid, "p1", ("available",),
                                  operation(cid + "-d", kind="delete"), "d")
                return "deleted"
            except exception.InvalidState:
                return "refused"

        def restore(cid=cid, start=start):
            start.wait()
            [result] = ops.accept_many([Acceptance(
                "restore", restore_row(cid + "-r", cid),
                operation(cid + "-r", kind="restore"), "r")])
            return "refused" if isinstance(result, Exception) \
                else "restored"

        with futures.ThreadPoolExecutor(2) as pool:
            got = sorted(f.result() for f in (pool.submit(delete),
                                              pool.submit(restore)))
        assert got in (["deleted", "refused"], ["refused", "restored"]), got
        outcomes.append(tuple(got))
    with store.read() as conn:
        for n in range(12):
            cid = "race-%d" % n
            status = conn.execute(sa.select(models.checkpoints.c.status)
                                  .where(models.checkpoints.c.id == cid)
                                  ).scalar_one()
            restores = conn.execute(sa.select(sa.func.count()).where(
                models.restores.c.checkpoint_id == cid)).scalar_one()
            assert (status == "deleting") != (restores == 1), (cid, status,
                                                               restores)


def test_renew_of_the_held_ones_lets_the_others_lapse(store):
    """A worker renews only what it holds: one it let go of lapses and
    can be claimed again (by it, as taken over)."""
    ops = OperationStore(store)
    for name in ("a", "b"):
        ops.accept("checkpoint", checkpoint(name), operation(name), "e")
    now = T0 + datetime.timedelta(seconds=10)
    assert ops.renew("w1", now, now + datetime.timedelta(seconds=30),
                     {"op-a"}) == {"op-a"}
    later = T0 + datetime.timedelta(seconds=35)      # b lapsed, a not
    [again] = ops.claim("w1", later, later + datetime.timedelta(seconds=30),
                        10, exclude={"op-a"})
    assert again.id == "op-b" and again.taken_over
    assert ops.renew("w1", later, later, set()) == set()
