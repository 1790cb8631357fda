"""The real python-manilaclient against the simulator: snapshot update
and fault rules that hold a request before it takes effect."""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.request

import pytest
from manilaclient import exceptions as manila_exc

from share_worker.simulator import SimulatorFixture
from tests.conftest import wait_for


@pytest.fixture
def fx():
    with SimulatorFixture() as fixture:
        yield fixture


def _control(fx, method, path, body=None):
    req = urllib.request.Request(
        f"{fx.root_url}/_sim{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.mark.parametrize("version", ["2.72", "2.73"])
def test_client_updates_a_snapshot(fx, version):
    manila = fx.client("proj", version=version)
    share_id = fx.sim.create_share("proj")
    snap = manila.share_snapshots.create(share_id, name="before")
    updated = manila.share_snapshots.update(
        snap, display_name="after", display_description="renamed",
    )
    # manilaclient wraps the whole body: {"snapshot": {...detail...}}
    view = updated.snapshot
    assert (view["id"], view["name"], view["description"]) == (
        snap.id, "after", "renamed"
    )
    assert ("metadata" in view) == (version == "2.73")
    got = manila.share_snapshots.get(snap.id)
    assert (got.name, got.description) == ("after", "renamed")
    manila.share_snapshots.update(snap, name="ignored")  # not a valid key
    assert manila.share_snapshots.get(snap.id).name == "after"
    assert fx.sim.stats()["requests"]["PUT /snapshots/{id}"] == 2


def test_client_update_refusals(fx):
    manila = fx.client("proj", version="2.73")
    other = fx.client("other", version="2.73")
    share_id = fx.sim.create_share("proj")
    snap_id = fx.sim.create_snapshot(share_id, name="mine")
    with pytest.raises(manila_exc.NotFound):
        other.share_snapshots.update(snap_id, display_name="stolen")
    with pytest.raises(manila_exc.BadRequest,
                       match="display_name can only be 255 characters"):
        manila.share_snapshots.update(snap_id, display_name="x" * 256)
    assert fx.sim.snapshot(snap_id)["name"] == "mine"


def test_held_create_appears_only_after_the_hold(fx):
    share_id = fx.sim.create_share("proj")
    rule_id = _control(fx, "POST", "/faults", {
        "method": "POST", "path": r"/snapshots$", "status": None,
        "hold": 60,
    })["id"]
    answers = []

    def create():
        answers.append(fx.client("proj").share_snapshots.create(share_id))

    thread = threading.Thread(target=create, daemon=True)
    thread.start()
    wait_for(lambda: _control(fx, "GET", f"/faults/{rule_id}")["held"]
             == 1, what="the create to be held")
    # a concurrent call on another connection is answered meanwhile
    assert fx.client("proj").share_snapshots.list() == []
    assert _control(fx, "GET", f"/faults/{rule_id}")["processed"] == 0
    _control(fx, "POST", f"/faults/{rule_id}/release")
    thread.join(timeout=10)
    assert not thread.is_alive()
    listed = fx.client("proj").share_snapshots.list()
    assert [s.id for s in listed] == [answers[0].id]


def test_timed_hold_delays_the_effect_then_answers(fx):
    manila = fx.client("proj")
    share_id = fx.sim.create_share("proj")
    rule_id = fx.sim.inject_http_fault("POST", r"/snapshots$", status=None,
                                       hold=0.5)
    started = time.time()
    snap = manila.share_snapshots.create(share_id)
    assert time.time() - started >= 0.5
    # the snapshot was made when the hold ended, not when the call came
    created = datetime.datetime.strptime(
        snap.created_at, "%Y-%m-%dT%H:%M:%S.%f"
    ).replace(tzinfo=datetime.timezone.utc).timestamp()
    assert created - started >= 0.5
    assert fx.sim.fault_stats(rule_id) == {
        "id": rule_id, "hits": 1, "held": 0, "processed": 1,
        "active": False,
    }
