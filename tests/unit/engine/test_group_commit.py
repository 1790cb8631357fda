"""Concurrent protects share commits and keep every guarantee: each
returns only once recorded, idempotent ids, Busy accounting, a failing
request fails alone."""

import threading

import pytest

from share_worker import exception
from tests.conftest import wait_for
from tests.unit.engine.test_engine import SHARE, ctx

WAIT = 10.0


def protect_concurrently(engine, requests):
    """Run ``engine.protect`` for each (share_id, checkpoint_id) in its
    own thread while the store is held by another writer, so they queue
    up for the committer; returns {index: checkpoint or exception}."""
    submitted = []
    submit = engine.admission.committer.submit

    def counting_submit(item):
        submitted.append(item.record["id"])
        return submit(item)

    engine.admission.committer.submit = counting_submit
    results = {}

    def one(index, share_id, checkpoint_id):
        try:
            results[index] = engine.protect(
                ctx(), {"type": SHARE, "id": share_id},
                checkpoint_id=checkpoint_id)
        except Exception as e:  # noqa: BLE001 - the test looks at it
            results[index] = e

    threads = [threading.Thread(target=one, args=(i, *request))
               for i, request in enumerate(requests)]
    with engine.store._write_lock:           # another writer's commit
        for t in threads:
            t.start()
        wait_for(lambda: len(submitted) == len(requests), timeout=WAIT,
                 what="every request handed to the committer")
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_protects_share_commits(make_engine, manila):
    engine = make_engine()
    shares = [manila.add_share().id for _ in range(12)]
    same = manila.add_share().id
    requests = [(s, "cp-%d" % i) for i, s in enumerate(shares)]
    requests += [(same, "cp-same")] * 4
    batches = engine.admission.committer.batches
    results = protect_concurrently(engine, requests)
    assert engine.admission.committer.batches - batches < len(requests)
    for i, (share_id, cid) in enumerate(requests):
        assert results[i]["id"] == cid
        assert results[i]["resource"]["id"] == share_id
        # returned means recorded
        assert engine.show_checkpoint(ctx(), cid)["id"] == cid
    assert len(engine.list_checkpoints(ctx())) == 13
    # the three repeats of cp-same gave their reservation back
    assert engine.admission.in_flight == 13
    # one start event per recorded checkpoint
    for cid in {cid for _, cid in requests}:
        engine.sink.wait(cid, "share_worker.checkpoint.protect.start")
    assert sum(e[0].endswith("protect.start")
               for e in engine.sink.events) == 13


def test_a_request_that_cannot_be_recorded_fails_alone(make_engine, manila):
    engine = make_engine()
    write = engine.admission.committer._write

    def refuse_cp_bad(items):
        if any(item.record["id"] == "cp-bad" for item in items):
            raise RuntimeError("disk I/O error")
        return write(items)

    engine.admission.committer._write = refuse_cp_bad
    shares = [manila.add_share().id for _ in range(6)]
    ids = ["cp-%d" % i for i in range(5)] + ["cp-bad"]
    results = protect_concurrently(engine, list(zip(shares, ids,
                                                    strict=True)))
    assert isinstance(results[5], RuntimeError)
    assert [results[i]["id"] for i in range(5)] == ids[:5]
    assert sorted(c["id"] for c in engine.list_checkpoints(ctx())) == \
        ids[:5]
    with pytest.raises(exception.CheckpointNotFound):
        engine.show_checkpoint(ctx(), "cp-bad")
    assert engine.admission.in_flight == 5


def test_busy_counts_requests_waiting_for_their_commit(make_engine, manila):
    engine = make_engine(max_in_flight=3)
    shares = [manila.add_share().id for _ in range(3)]
    results = protect_concurrently(
        engine, [(s, "cp-%d" % i) for i, s in enumerate(shares)])
    assert all(isinstance(r, dict) for r in results.values())
    with pytest.raises(exception.Busy):
        engine.protect(ctx(), {"type": SHARE, "id": shares[0]})
    # a repeat is still answered
    assert engine.protect(ctx(), {"type": SHARE, "id": shares[0]},
                          checkpoint_id="cp-0")["id"] == "cp-0"
