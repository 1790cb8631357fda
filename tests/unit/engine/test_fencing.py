"""Fenced leases (invariant 9): a worker whose lease on an operation is
gone, or could not be renewed, makes no further change in Manila for
it; the operation is taken over and nothing is made twice."""

import datetime
import threading
import time
import types

import sqlalchemy as sa

from share_worker import exception
from share_worker.db import models
from share_worker.db.operations import OperationStore
from share_worker.db.store import Store, utcnow
from share_worker.engine import reconciler
from tests.conftest import wait_for
from tests.unit.engine.test_engine import SHARE, become, ctx

WAIT = 10.0


def creates(manila):
    return [c for c in manila.snapshots.calls if c[0] == "create"]


def steal(engine, record_id, owner="someone-else"):
    """Another worker takes the operation of *record_id* over."""
    t = models.operations
    with engine.store.write() as conn:
        conn.execute(sa.update(t).where(t.c.record_id == record_id).values(
            lease_owner=owner))


def test_a_lease_taken_before_the_step_stops_the_create(engine, manila):
    """The lease is checked when the step is handed to the pool (all of
    a cycle's steps in one transaction): one found lost there makes no
    change, and the step's own check finds it lost too."""
    share = manila.add_share()
    ops = engine.reconciler._store
    real_fence_many = ops.fence_many

    def lose_the_lease_first(fences):
        steal(engine, "cp-stolen")
        return real_fence_many(fences)

    ops.fence_many = lose_the_lease_first
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id="cp-stolen")
    wait_for(lambda: engine.reconciler.held == 0,
             what="the operation let go of")
    assert creates(manila) == []


def test_a_step_handed_out_long_before_its_change_checks_again(
        make_engine, manila):
    """A step whose change comes more than a third of a lease after its
    dispatch (it waited in the pool, or its lookups were slow) checks
    its lease again right before the change."""
    offset = datetime.timedelta()

    def clock():
        return utcnow() + offset

    engine = make_engine(clock=clock, lease_seconds=30)
    share = manila.add_share()
    real_get = manila.shares.get

    def slow_get_then_lose_the_lease(share_id):
        nonlocal offset
        offset = datetime.timedelta(seconds=11)
        steal(engine, "cp-late")
        return real_get(share_id)

    manila.shares.get = slow_get_then_lose_the_lease
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id="cp-late")
    wait_for(lambda: engine.reconciler.held == 0,
             what="the operation let go of")
    assert creates(manila) == []


def test_the_lease_checked_at_dispatch_serves_one_change(engine, manila):
    """One lease check per change in Manila: the dispatch-time check is
    spent by the first one (here the create); nothing is checked twice,
    nothing skipped."""
    share = manila.add_share()
    ops = engine.reconciler._store
    fenced = []
    real_fence_many = ops.fence_many

    def counting(fences):
        fenced.extend(f[0] for f in fences)
        return real_fence_many(fences)

    ops.fence_many = counting
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id="cp-1")
    wait_for(lambda: creates(manila), what="the snapshot create")
    assert len(fenced) == 1
    assert engine.reconciler._prefenced == {}


def test_an_operation_taken_over_is_let_go_at_the_next_renewal(make_engine,
                                                               manila):
    engine = make_engine(lease_seconds=3)
    manila.snapshots.calls.clear()
    share = manila.add_share()
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id="cp-1")
    wait_for(lambda: creates(manila), what="the snapshot create")
    steal(engine, "cp-1")
    wait_for(lambda: engine.reconciler.held == 0, timeout=5,
             what="the operation let go of at renewal")
    become(manila, "snapshot", "available")
    # Its status events are the new owner's to write: none from here.
    assert "share_worker.checkpoint.protect.end" not in \
        engine.sink.for_record("cp-1")


def test_leases_not_renewed_are_let_go_then_taken_back(make_engine, manila,
                                                       monkeypatch):
    """The store can't be reached: after lease_seconds without a
    renewal the reconciler holds nothing and calls Manila for nothing;
    once the store answers it takes its lapsed operations back, as taken
    over (it looks for what it made before creating)."""
    engine = make_engine(lease_seconds=2)
    share = manila.add_share()
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id="cp-1")
    wait_for(lambda: creates(manila), what="the snapshot create")
    ops = engine.reconciler._store
    real_renew, real_fence = ops.renew, ops.fence

    def down(*args, **kwargs):
        raise exception.StoreUnavailable(reason="connection refused")

    monkeypatch.setattr(ops, "renew", down)
    monkeypatch.setattr(ops, "fence", down)
    wait_for(lambda: engine.reconciler.held == 0, timeout=6,
             what="the leases let go of")
    calls = len(manila.snapshots.calls)
    monkeypatch.setattr(ops, "renew", real_renew)
    monkeypatch.setattr(ops, "fence", real_fence)
    become(manila, "snapshot", "available")
    engine.sink.wait("cp-1", "share_worker.checkpoint.protect.end",
                     timeout=15)
    assert len(creates(manila)) == 1
    assert len(manila.snapshots.calls) > calls      # looked up, not made


def test_a_step_of_an_operation_let_go_of_makes_no_change(make_engine,
                                                          manila, caplog):
    """The lease lapses while a step runs (a slow Manila answer); the
    worker lets go of the operation and takes it back, as taken over.
    The old step, when it goes on, makes no change (the lease is the new
    holding's); the new one makes the one snapshot."""
    engine = make_engine(lease_seconds=2)
    share = manila.add_share()
    release = threading.Event()
    inside = threading.Event()
    real_get = manila.shares.get
    calls = []

    def slow_first_get(share_id):
        calls.append(share_id)
        if len(calls) == 1:
            inside.set()
            release.wait(10)
        return real_get(share_id)

    manila.shares.get = slow_first_get
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id="cp-slow")
    assert inside.wait(5)
    held = engine.reconciler._held
    [(op_id, first)] = list(held.items())
    t = models.operations
    with engine.store.write() as conn:        # the lease lapses
        conn.execute(sa.update(t).where(t.c.id == op_id).values(
            lease_until=sa.func.datetime("now", "-1 hour")))
    wait_for(lambda: held.get(op_id) not in (None, first), timeout=10,
             what="the operation let go of and taken back")
    release.set()
    wait_for(lambda: creates(manila), what="the snapshot create")
    become(manila, "snapshot", "available")
    engine.sink.wait("cp-slow", "share_worker.checkpoint.protect.end",
                     timeout=10)
    assert len(creates(manila)) == 1
    # the old step was fenced off: the new holding made the snapshot
    assert "checkpoint cp-slow: the lease is no longer this worker's" in \
        caplog.text


def test_concurrent_fences_answer_each_operation(engine, manila):
    """The steps handed out in one cycle have their leases checked in
    one transaction; each operation still gets its own answer: a stolen
    one among held ones makes no change."""
    shares = [manila.add_share() for _ in range(6)]
    ops = engine.reconciler._store
    real_fence_many = ops.fence_many
    first_check = threading.Event()
    go_on = threading.Event()
    batches = []

    def checked(fences):
        if not batches:
            first_check.set()
            go_on.wait(10)       # the other five are accepted meanwhile
        held = engine.reconciler._held
        records = [held[f[0]].record_id for f in fences if f[0] in held]
        batches.append(records)
        if "cp-3" in records:
            steal(engine, "cp-3")
        return real_fence_many(fences)

    ops.fence_many = checked
    engine.protect(ctx(), {"type": SHARE, "id": shares[0].id},
                   checkpoint_id="cp-0")
    assert first_check.wait(10)
    for number, share in enumerate(shares[1:], start=1):
        engine.protect(ctx(), {"type": SHARE, "id": share.id},
                       checkpoint_id="cp-%d" % number)
    wait_for(lambda: len(engine.reconciler._ready) == 5,
             what="the other five waiting for the reconciler")
    go_on.set()
    wait_for(lambda: len(creates(manila)) == len(shares) - 1,
             what="the held ones' creates")
    wait_for(lambda: engine.reconciler.held == len(shares) - 1,
             what="the stolen one let go of")
    made = [c[1] for c in creates(manila)]
    assert sorted(made) == sorted(s.id for i, s in enumerate(shares)
                                  if i != 3)
    assert batches[0] == ["cp-0"]
    assert sorted(batches[1]) == ["cp-%d" % n for n in range(1, 6)]


def test_fence_many_answers_each_lease_as_the_store_has_it(sqlite_url):
    """One statement per (owner, now, hold) checks every row on its own:
    held rows are held longer (never shorter), the others (another
    owner's, finished, lapsed, unknown) are answered no."""
    store = Store.from_url(sqlite_url)
    store.upgrade()
    ops = OperationStore(store)
    now = datetime.datetime(2026, 1, 1, 12, 0, 0)
    later = now + datetime.timedelta(seconds=90)
    far = now + datetime.timedelta(seconds=300)
    rows = {"held": ("me", now + datetime.timedelta(seconds=30), False),
            "held-long": ("me", far, False),
            "theirs": ("someone-else", far, False),
            "finished": ("me", far, True),
            "lapsed": ("me", now - datetime.timedelta(seconds=1), False),
            "other-hold": ("me", now + datetime.timedelta(seconds=30),
                           False)}
    t = models.operations
    with store.write() as conn:
        for op_id, (owner, until, finished) in rows.items():
            conn.execute(t.insert().values(
                id=op_id, kind="protect", record_id="cp-" + op_id,
                project_id="p1", resource_type=SHARE, phase="start",
                state={}, context={}, attempt=0, not_before=now,
                deadline=far, lease_owner=owner, lease_until=until,
                finished=finished, created_at=now, updated_at=now))
    asked = [(op_id, "me", now, later) for op_id in
             ("held", "held-long", "theirs", "finished", "lapsed",
              "unknown", "held")]
    asked.append(("other-hold", "me", now, far))
    assert ops.fence_many(asked) == [True, True, False, False, False,
                                     False, True, True]
    with store.read() as conn:
        until = {r.id: r.lease_until for r in conn.execute(
            sa.select(t.c.id, t.c.lease_until))}
    assert until["held"] == later
    assert until["held-long"] == far          # never shortened
    assert until["other-hold"] == far
    assert until["lapsed"] == now - datetime.timedelta(seconds=1)


def test_no_step_begins_while_the_reconciler_writes_as_requests_come(
        engine):
    """While requests come in (new operations handed over within
    _INTAKE_QUIET), steps handed to the pool wait to begin while the
    reconciler writes to the store (their Manila work would keep the
    writing thread waiting for the GIL while it holds the store's write
    lock, which the process recording requests waits for); they begin
    once it ends."""
    rec = engine.reconciler
    began = threading.Event()
    op = types.SimpleNamespace(id="op-gated", record_kind="checkpoint",
                               record_id="cp-gated")
    rec._intake_at = time.monotonic()       # an operation just came in
    with rec._store_turn():
        rec._dispatch(op, began.set)
        assert not began.wait(0.3), "a step began during a store write"
    assert began.wait(WAIT)


def test_steps_go_on_during_writes_once_requests_stop(engine):
    """With no new operation for _INTAKE_QUIET seconds nobody else
    wants the store's write lock: steps don't wait for the reconciler's
    writes."""
    rec = engine.reconciler
    began = threading.Event()
    op = types.SimpleNamespace(id="op-free", record_kind="checkpoint",
                               record_id="cp-free")
    rec._intake_at = time.monotonic() - reconciler._INTAKE_QUIET
    with rec._store_turn():
        rec._dispatch(op, began.set)
        assert began.wait(WAIT), "a step waited for a store write"
