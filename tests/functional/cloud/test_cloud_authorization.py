"""The oslo.policy defaults per persona, against the real Keystone and
Manila: a reader of project A looks but changes nothing, a member
protects, an admin lists every project, a user of B sees none of A; a
policy file overrides a default; every refusal's events are inspected
(an unauthenticated one publishes nothing, an authenticated one only
in its own project, naming none of A's records); no caller's token is
readable in the store while its operation runs."""

import json
import time

import pytest
import sqlalchemy as sa
from oslo_policy import opts as policy_opts

from share_worker.db import models
from share_worker.testing.waiting import wait_for
from tests.functional.cloud.shares import DEADLINE
from tests.functional.cloud.test_cloud_isolation import refused

pytestmark = pytest.mark.real_cloud
SHARE = "OS::Manila::Share"


@pytest.fixture
def checkpoint_of_a(real_cloud, start_service, rpc, events, shares):
    svc = start_service()
    share = shares.create("sw-user-a")
    cp = rpc.protect(real_cloud.context("sw-user-a"),
                     {"type": SHARE, "id": share.id})
    events.wait(cp["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    return svc, share, cp


def test_a_reader_looks_and_changes_nothing(real_cloud, rpc, events,
                                            shares, checkpoint_of_a):
    _, share, cp = checkpoint_of_a
    reader = real_cloud.context("sw-reader-a")
    assert rpc.show_checkpoint(reader, cp["id"])["id"] == cp["id"]
    assert [c["id"] for c in rpc.list_checkpoints(reader)] == [cp["id"]]
    assert share.id in [r["id"] for r in rpc.list_protectable_instances(
        reader, SHARE)]
    seen = len(events.events)
    for call, args, rule in (
            (rpc.protect, ({"type": SHARE, "id": share.id},),
             "checkpoint:create"),
            (rpc.delete, (cp["id"],), "checkpoint:delete"),
            (rpc.restore, (cp["id"],), "restore:create"),
            (rpc.create_policy, ({"name": "r", "resources": {
                "all_shares": True}},), "policy:create")):
        err = refused(call, reader, *args)
        assert err.exc_type == "Forbidden", (call, err.value)
        assert "share_worker:" + rule in err.value
    # the same as casts: one .error each, in A, the checkpoint as it is
    reader_casts = [("protect", {"resource": {"type": SHARE,
                                              "id": share.id}}),
                    ("delete", {"checkpoint_id": cp["id"]})]
    for method, kwargs in reader_casts:
        getattr(rpc, "cast_" + method)(reader, *kwargs.values())
    got = events.wait_count(seen + len(reader_casts), timeout=DEADLINE)
    for _, event_type, _, payload in got[seen:]:
        assert event_type.endswith(".error"), event_type
        assert payload["project_id"] == cp["project_id"]
        assert payload["error"]["code"] == "Forbidden"
    assert rpc.show_checkpoint(reader, cp["id"])["status"] == "available"
    assert len(shares.snapshots_of(share.id)) == 1


def test_admins_list_every_project_others_only_their_own(
        real_cloud, rpc, events, shares, checkpoint_of_a):
    _, _, cp = checkpoint_of_a
    share_b = shares.create("sw-user-b")
    b = real_cloud.context("sw-user-b")
    cp_b = rpc.protect(b, {"type": SHARE, "id": share_b.id})
    events.wait(cp_b["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    admin = real_cloud.context("sw-admin-a")
    # an admin without all_projects sees its own project only
    assert [c["id"] for c in rpc.list_checkpoints(admin)] == [cp["id"]]
    every = {c["id"] for c in rpc.list_checkpoints(
        admin, filters={"all_projects": True})}
    assert {cp["id"], cp_b["id"]} <= every
    only_b = rpc.list_checkpoints(admin, filters={
        "all_projects": True, "project_id": cp_b["project_id"]})
    assert [c["id"] for c in only_b] == [cp_b["id"]]
    for user in ("sw-user-b", "sw-reader-a", "sw-user-a"):
        err = refused(rpc.list_checkpoints, real_cloud.context(user),
                      filters={"all_projects": True})
        assert err.exc_type == "Forbidden"
        assert "share_worker:checkpoint:get_all_projects" in err.value


def handled_all(svc, count):
    """Wait until the worker handled *count* requests and its outbox is
    empty: every event they make is on the bus."""
    wait_for(lambda: svc.server.handled >= count, timeout=DEADLINE,
             what="%d requests handled" % count)
    wait_for(lambda: _pending(svc) == 0, timeout=DEADLINE,
             what="the outbox to be empty")


def _pending(svc):
    with svc.engine.store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(
            models.events)).scalar()


def test_b_is_told_nothing_of_as_records(real_cloud, rpc, events, shares,
                                         checkpoint_of_a):
    svc, _, cp = checkpoint_of_a
    before = svc.server.handled
    b = real_cloud.context("sw-user-b")
    share_b = shares.create("sw-user-b")
    seen = len(events.events)
    err = refused(rpc.protect, b, {"type": SHARE, "id": share_b.id},
                  checkpoint_id=cp["id"])
    assert err.exc_type == "InvalidInput"
    assert "checkpoint_id is not available; choose a new id" in err.value
    assert cp["project_id"] not in err.value
    rpc.cast_delete(b, cp["id"])
    rpc.cast_restore(b, cp["id"])
    rpc.cast_protect(b, {"type": SHARE, "id": share_b.id},
                     checkpoint_id=cp["id"])
    # a forged token claiming B: nothing at all
    forged = real_cloud.context("sw-user-b", token="gAAAAAB-forged")
    rpc.cast_delete(forged, cp["id"])
    handled_all(svc, before + 5)
    got = events.wait_count(seen + 3, timeout=DEADLINE)[seen:]
    assert len(got) == 3, got
    for _, event_type, _, payload in got:
        assert event_type.endswith(".error")
        assert payload["project_id"] == b.project_id
        assert cp["id"] not in json.dumps(payload), payload
    a = real_cloud.context("sw-user-a")
    assert rpc.show_checkpoint(a, cp["id"])["status"] == "available"


def test_a_policy_file_overrides_a_default(real_cloud, start_service, rpc,
                                           events, worker_conf, shares,
                                           tmp_path):
    rules = tmp_path / "policy.yaml"
    rules.write_text('"share_worker:checkpoint:get_all_projects": '
                     '"role:reader"\n'
                     '"share_worker:checkpoint:create": "role:admin"\n')
    policy_opts.set_defaults(worker_conf)      # registers [oslo_policy]
    worker_conf.set_override("policy_file", str(rules), group="oslo_policy")
    start_service()
    share = shares.create("sw-user-a")
    member = real_cloud.context("sw-user-a")
    err = refused(rpc.protect, member, {"type": SHARE, "id": share.id})
    assert "share_worker:checkpoint:create" in err.value
    assert rpc.list_checkpoints(real_cloud.context("sw-reader-a"),
                                filters={"all_projects": True}) == []
    cp = rpc.protect(real_cloud.context("sw-admin-a"),
                     {"type": SHARE, "id": share.id})
    assert cp["status"] == "protecting"
    # ended before the share is cleaned up: no snapshot made after it
    events.wait(cp["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)


def test_no_token_is_readable_in_the_store(real_cloud, start_service, rpc,
                                           events, shares, worker_conf):
    svc = start_service()
    # a snapshot that takes seconds: the store is read while it runs
    share = shares.create("sw-user-a", share_type=real_cloud.slow_share_type)
    token = real_cloud.token("sw-user-a")
    ctx = real_cloud.context("sw-user-a", token=token)
    cp = rpc.protect(ctx, {"type": SHARE, "id": share.id})
    deadline = time.monotonic() + DEADLINE
    looked = 0
    while time.monotonic() < deadline:
        with svc.engine.store.read() as conn:
            ops = conn.execute(sa.select(models.operations).where(
                models.operations.c.record_id == cp["id"])).all()
            for table in models.metadata.sorted_tables:
                for row in conn.execute(sa.select(table)):
                    assert token not in repr(tuple(row)), table.name
        looked += 1
        if ops and all(op.finished for op in ops):
            break
    assert looked >= 3, "the operation ended before the store was read"
    assert ops and ops[0].auth_token is None
    events.wait(cp["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)


def test_limits_hold_before_anything_is_stored(real_cloud, start_service,
                                               rpc, events, shares):
    svc = start_service(max_page_size=1, max_in_flight_per_project=1)
    share = shares.create("sw-user-a", share_type=real_cloud.slow_share_type)
    a = real_cloud.context("sw-user-a")
    for kwargs, field in (
            ({"options": {"snapshot_name": "n" * 256}},
             "options.snapshot_name is 256 characters long; at most 255"),
            ({"options": {"description": "d" * 256}},
             "options.description is 256"),
            ({"checkpoint_id": "c" * 256}, "checkpoint_id is 256")):
        err = refused(rpc.protect, a, {"type": SHARE, "id": share.id},
                      **kwargs)
        assert err.exc_type == "InvalidInput" and field in err.value
    assert rpc.list_checkpoints(a) == []
    first = rpc.protect(a, {"type": SHARE, "id": share.id})
    # one in flight for the project: the next is over its quota
    err = refused(rpc.protect, a, {"type": SHARE, "id": share.id})
    assert err.exc_type == "QuotaExceeded"
    assert "max_in_flight_per_project=1" in err.value
    events.wait(first["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    second = rpc.protect(a, {"type": SHARE, "id": share.id})
    events.wait(second["id"], "share_worker.checkpoint.protect.end",
                timeout=DEADLINE)
    # a page is at most max_page_size, whatever limit is asked for
    assert len(rpc.list_checkpoints(a, limit=50)) == 1
    assert svc.engine.ops.count_unfinished() == 0


def test_a_forged_log_line_stays_inside_its_own(real_cloud, start_service,
                                                rpc, shares, caplog):
    start_service()
    share = shares.create("sw-user-a")
    forged = "1999-01-01 00:00:00.000 1 ERROR share_worker.forged pwned"
    ctx = real_cloud.context("sw-user-a",
                             request_id="req-x\n" + forged + "\r\x1b[2K")
    err = refused(rpc.protect, ctx, {"type": SHARE, "id": share.id},
                  options={"force": "yes\n" + forged})
    assert err.exc_type == "InvalidInput"
    import logging

    from share_worker.log_escaping import EscapingFormatter
    formatter = EscapingFormatter(logging.Formatter(
        "%(levelname)s %(name)s %(message)s"))
    lines = [line for record in caplog.records
             for line in formatter.format(record).split("\n")]
    assert any("pwned" in line for line in lines)
    assert not any(line.startswith("1999-01-01") for line in lines)
