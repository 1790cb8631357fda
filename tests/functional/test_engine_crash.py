"""A worker killed (SIGKILL) mid-operation: another engine on the same
store resumes every operation, and no snapshot or share is made twice."""

import os
import subprocess
import sys

import pytest

from tests.conftest import wait_for
from tests.functional.conftest import PROJECT, user_ctx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHARE = "OS::Manila::Share"
PROTECT_END = "share_worker.checkpoint.protect.end"


class Worker:
    """An engine in its own process, to be killed."""

    def __init__(self, proc: subprocess.Popen, lines: list) -> None:
        self.proc = proc
        self.lines = lines

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def start_worker(engine_conf, tmp_path):
    workers = []

    def start(*args):
        path = tmp_path / "worker.conf"
        path.write_text(
            "[DEFAULT]\nstate_path = %s\nhost = doomed\n"
            "[share_worker]\nauth_strategy = noauth\npoll_interval = 0.05\n"
            "lease_seconds = 2\n"
            # A Manila call holds its operation for lease_seconds plus
            # this: the kill mid-call is taken over after 5 s.
            "[manila_client]\nendpoint_override = %s\ntimeout = 3\n"
            "[database]\nconnection = %s\n" % (
                tmp_path, engine_conf.manila_client.endpoint_override,
                engine_conf.database.connection))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.functional.engine_proc",
             "--config-file", str(path), *args],
            cwd=ROOT, stdout=subprocess.PIPE, text=True)
        worker = Worker(proc, [])
        workers.append(worker)
        for line in proc.stdout:
            worker.lines.append(line.split())
            if line.startswith("READY"):
                return worker
        raise AssertionError("worker exited early: %s" % proc.wait())

    yield start
    for worker in workers:
        worker.kill()


def test_killed_while_waiting_resumes(start_worker, make_engine, sim):
    sim.sim.set_delays(snapshot_create=3600)
    shares = sim.sim.create_shares(PROJECT, 3)
    worker = start_worker(*("--protect=%s:cp-%d" % (s, i)
                            for i, s in enumerate(shares)))
    wait_for(lambda: len(sim.sim.snapshots(PROJECT)) == 3,
             what="three snapshots creating")
    worker.kill()
    for snap in sim.sim.snapshots(PROJECT):
        sim.sim.set_status("snapshot", snap["id"], "available")
    engine = make_engine()
    for i in range(3):
        done = engine.sink.wait("cp-%d" % i, PROTECT_END, timeout=20)
        assert done["status"] == "available"
    for share_id in shares:
        assert len(sim.sim.snapshots(share_id=share_id)) == 1


def test_killed_during_the_create_call_adopts_the_snapshot(
        start_worker, make_engine, sim):
    share_id = sim.sim.create_share(PROJECT)
    # Manila makes the snapshot, but its answer takes 20 s: the worker
    # dies before it learns the snapshot's id.
    sim.sim.inject_http_fault("POST", r"/snapshots$", status=None,
                              latency=20, count=1)
    worker = start_worker("--protect=%s:cp-mid" % share_id)
    wait_for(lambda: sim.sim.snapshots(share_id=share_id),
             what="the snapshot to exist")
    worker.kill()
    engine = make_engine()
    done = engine.sink.wait("cp-mid", PROTECT_END, timeout=20)
    snaps = sim.sim.snapshots(share_id=share_id)
    assert [s["id"] for s in snaps] == [done["saved_info"]["snapshot_id"]]


def test_killed_during_a_restore_adopts_the_share(start_worker, make_engine,
                                                  sim):
    share_id = sim.sim.create_share(PROJECT)
    engine = make_engine()
    engine.protect(user_ctx(), {"type": SHARE, "id": share_id},
                   checkpoint_id="cp-r")
    engine.sink.wait("cp-r", PROTECT_END)
    engine.stop()
    sim.sim.inject_http_fault("POST", r"/shares$", status=None, latency=20,
                              count=1)
    worker = start_worker("--restore=cp-r")
    restore_id = [w[1] for w in worker.lines if w[0] == "RESTORE"][0]
    wait_for(lambda: len(sim.sim.shares(PROJECT)) == 2,
             what="the restored share to exist")
    worker.kill()
    resumed = make_engine()
    end = resumed.sink.wait(restore_id, "share_worker.restore.end",
                            timeout=20)
    shares = {s["id"] for s in sim.sim.shares(PROJECT)}
    assert len(shares) == 2 and end["target"]["share_id"] in shares
