"""Failure paths a user meets, each ending in a terminal status with an
actionable error, and no snapshot or share left behind (invariant 3)."""

from tests.functional.conftest import PROJECT, user_ctx

SHARE = "OS::Manila::Share"
PROTECT_END = "share_worker.checkpoint.protect.end"
PROTECT_ERROR = "share_worker.checkpoint.protect.error"


def protect(engine, share_id, **kw):
    return engine.protect(user_ctx(), {"type": SHARE, "id": share_id}, **kw)


def test_snapshot_error_is_reported_and_removed(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.fail_next("snapshot_create", share_id)
    cp = protect(engine, share_id)
    err = engine.sink.wait(cp["id"], PROTECT_ERROR)
    assert err["status"] == "error"
    assert err["error"]["code"] == "ResourceError"
    snap_id = err["saved_info"]["snapshot_id"]
    assert "snapshot %s went to status error" % snap_id in \
        err["error"]["message"]
    assert sim.sim.snapshots(share_id=share_id) == []


def test_share_not_available_needs_force(engine, sim):
    share_id = sim.sim.create_share(PROJECT, status="extending")
    cp = protect(engine, share_id)
    err = engine.sink.wait(cp["id"], PROTECT_ERROR)
    assert err["error"]["code"] == "InvalidState"
    assert "force=true" in err["error"]["message"]
    assert sim.sim.snapshots(share_id=share_id) == []


def test_unusable_share_says_why(engine, sim):
    share_id = sim.sim.create_share(PROJECT, status="error")
    cp = protect(engine, share_id, options={"force": True})
    err = engine.sink.wait(cp["id"], PROTECT_ERROR)
    assert err["error"]["code"] == "InvalidState"
    assert "status error" in err["error"]["message"]


def test_quota_exceeded(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.set_quota(PROJECT, snapshots=0)
    cp = protect(engine, share_id)
    err = engine.sink.wait(cp["id"], PROTECT_ERROR)
    assert err["error"]["code"] == "QuotaExceeded"
    assert "SnapshotLimitExceeded" in err["error"]["message"]


def test_share_not_found(engine, sim):
    cp = protect(engine, "no-such-share")
    err = engine.sink.wait(cp["id"], PROTECT_ERROR)
    assert err["error"]["code"] == "ResourceNotFound"
    assert "no-such-share" in err["error"]["message"]


def test_snapshot_deleted_out_of_band_counts_as_deleted(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    cp = engine.sink.wait(protect(engine, share_id)["id"], PROTECT_END)
    # Someone removes the snapshot behind the worker's back.
    manila = sim.client(PROJECT)
    manila.share_snapshots.delete(cp["saved_info"]["snapshot_id"])
    engine.delete(user_ctx(), cp["id"])
    done = engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end")
    assert done["status"] == "deleted"


def test_server_errors_are_retried(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.inject_http_fault("POST", r"/snapshots$", status=500, count=2)
    sim.sim.inject_http_fault("GET", r"/shares/[^/]+$", status=503, count=1)
    cp = protect(engine, share_id)
    engine.sink.wait(cp["id"], PROTECT_END)
    assert len(sim.sim.snapshots(share_id=share_id)) == 1


def test_server_errors_past_the_retries_fail(make_engine, sim):
    engine = make_engine(retry_attempts=2)
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.inject_http_fault("POST", r"/snapshots$", status=503, count=None)
    cp = protect(engine, share_id)
    err = engine.sink.wait(cp["id"], PROTECT_ERROR)
    assert err["error"]["code"] == "ManilaUnavailable"
    assert "503" in err["error"]["message"]
    assert sim.sim.snapshots(share_id=share_id) == []


def test_connection_errors_are_retried(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.inject_http_fault("POST", r"/snapshots$", drop=True, count=2)
    cp = protect(engine, share_id)
    engine.sink.wait(cp["id"], PROTECT_END)
    assert len(sim.sim.snapshots(share_id=share_id)) == 1


def test_lost_answer_does_not_make_a_second_snapshot(engine, sim):
    """Manila made the snapshot but the answer never arrived: the retry
    finds it by its tag instead of snapshotting again (invariant 2)."""
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.inject_http_fault("POST", r"/snapshots$", drop=True,
                              drop_after_processing=True, count=1)
    cp = protect(engine, share_id)
    done = engine.sink.wait(cp["id"], PROTECT_END)
    snaps = sim.sim.snapshots(share_id=share_id)
    assert [s["id"] for s in snaps] == [done["saved_info"]["snapshot_id"]]


def test_lost_answer_on_an_old_manila_is_found_by_name(engine, sim):
    sim.sim.set_max_version("2.72")
    share_id = sim.sim.create_share(PROJECT)
    sim.sim.inject_http_fault("POST", r"/snapshots$", drop=True,
                              drop_after_processing=True, count=1)
    cp = protect(engine, share_id)
    engine.sink.wait(cp["id"], PROTECT_END)
    assert len(sim.sim.snapshots(share_id=share_id)) == 1


def test_wait_past_timeout_fails_and_removes_the_snapshot(make_engine, sim):
    engine = make_engine(protect_timeout=1)
    sim.sim.set_delays(snapshot_create=3600)
    share_id = sim.sim.create_share(PROJECT)
    cp = protect(engine, share_id)
    err = engine.sink.wait(cp["id"], PROTECT_ERROR, timeout=15)
    assert err["error"]["code"] == "OperationTimeout"
    assert "within 1 seconds" in err["error"]["message"]
    assert sim.sim.snapshots(share_id=share_id) == []


def test_failed_restore_removes_the_new_share(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    cp = engine.sink.wait(protect(engine, share_id)["id"], PROTECT_END)
    sim.sim.fail_next("share_create", cp["saved_info"]["snapshot_id"])
    restore = engine.restore(user_ctx(), cp["id"])
    err = engine.sink.wait(restore["id"], "share_worker.restore.error")
    assert err["status"] == "fail"
    assert err["error"]["code"] == "ResourceError"
    assert [s["id"] for s in sim.sim.shares(PROJECT)] == [share_id]


def test_failed_revert_keeps_the_share(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    cp = engine.sink.wait(protect(engine, share_id)["id"], PROTECT_END)
    sim.sim.fail_next("revert", share_id)
    restore = engine.restore(user_ctx(), cp["id"], {"share_id": share_id})
    err = engine.sink.wait(restore["id"], "share_worker.restore.error")
    assert "reverting_error" in err["error"]["message"]
    assert sim.sim.share(share_id) is not None


def test_snapshot_delete_error_is_error_deleting(engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    cp = engine.sink.wait(protect(engine, share_id)["id"], PROTECT_END)
    sim.sim.fail_next("snapshot_delete", cp["saved_info"]["snapshot_id"])
    engine.delete(user_ctx(), cp["id"])
    err = engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.error")
    assert err["status"] == "error-deleting"
    assert "error_deleting" in err["error"]["message"]
    # A checkpoint in error-deleting can be deleted again.
    sim.sim.set_status("snapshot", cp["saved_info"]["snapshot_id"], "error")
    assert engine.delete(user_ctx(), cp["id"])["status"] == "deleting"
    engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end")


def test_a_failing_status_poll_is_retried(engine, sim):
    """Real Manila answered a snapshot list with a 400 (an internal error)
    while a snapshot was being deleted: a poll that fails is retried by
    the next cycle, it does not fail the operation."""
    share_id = sim.sim.create_share(PROJECT)
    cp = engine.sink.wait(protect(engine, share_id)["id"], PROTECT_END)
    sim.sim.set_delays(snapshot_delete=0.3)
    sim.sim.inject_http_fault("GET", r"/snapshots/detail$", status=400,
                              count=3)
    engine.delete(user_ctx(), cp["id"])
    done = engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end")
    assert done["status"] == "deleted"
    assert sim.sim.stats()["statuses"].get("400", 0) == 3


def test_delete_finishes_through_manilas_transient_400(engine, sim):
    """Manila 23 answers 400 for a moment to a GET of a snapshot it is
    deleting, and to any list holding it (found by the contract suite):
    the worker's polls fail then, and the next ones see it gone."""
    share_id = sim.sim.create_share(PROJECT)
    cp = engine.protect(user_ctx(), {"type": SHARE, "id": share_id})
    engine.sink.wait(cp["id"], "share_worker.checkpoint.protect.end")
    sim.sim.set_delays(snapshot_delete=0.1, snapshot_delete_tail=1.0)
    sim.sim.reset_stats()
    engine.delete(user_ctx(), cp["id"])
    done = engine.sink.wait(cp["id"], "share_worker.checkpoint.delete.end",
                            timeout=30)
    assert done["status"] == "deleted"
    assert sim.sim.snapshots(PROJECT, share_id) == []
    statuses = sim.sim.stats()["statuses"]
    assert statuses.get(400) or statuses.get("400"), statuses
