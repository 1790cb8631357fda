"""share-worker processes on the real RabbitMQ: clean shutdown on
SIGTERM, a SIGKILL mid-protect, and two workers sharing one topic and
one PostgreSQL store without doing any work twice."""

import os
import signal
import subprocess
import sys
import time

import oslo_messaging
import pytest

from share_worker import rpcapi
from tests.conftest import wait_for
from tests.functional.conftest import PROJECT, user_ctx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SHARE = "OS::Manila::Share"
PROTECT_END = "share_worker.checkpoint.protect.end"


@pytest.fixture
def spawn_worker(worker_conf, tmp_path):
    procs = []

    def spawn(name="w1", **share_worker_opts):
        conf_file = tmp_path / ("%s.conf" % name)
        extra = "".join("%s = %s\n" % kv for kv in share_worker_opts.items())
        text = (
            "[DEFAULT]\n"
            "transport_url = %(url)s\nstate_path = %(state)s\n"
            "host = %(name)s\n"
            "[share_worker]\ntopic = %(topic)s\nauth_strategy = noauth\n"
            "poll_interval = 0.05\nlease_seconds = 2\n"
            # a Manila call holds its operation lease_seconds + timeout
            "[manila_client]\nendpoint_override = %(manila)s\ntimeout = 3\n"
            "[database]\nconnection = %(db)s\n"
            "[oslo_messaging_notifications]\ntopics = %(ntopic)s\n" % {
                "url": worker_conf.transport_url, "state": tmp_path,
                "name": name, "topic": worker_conf.share_worker.topic,
                "manila": worker_conf.manila_client.endpoint_override,
                "db": worker_conf.database.connection,
                "ntopic": worker_conf.oslo_messaging_notifications.topics[0]})
        conf_file.write_text(text.replace(
            "[manila_client]", extra + "[manila_client]"))
        log = open(tmp_path / ("%s.log" % name), "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "share_worker.cmd.worker",
             "--config-file", str(conf_file)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def ready(rpc, worker_conf):
    """The worker answers RPC (asked with a short timeout)."""
    quick = rpcapi.ShareWorkerAPI(rpc.transport,
                                  topic=worker_conf.share_worker.topic,
                                  timeout=2)
    try:
        return quick.list_protectable_types(user_ctx()) is not None
    except oslo_messaging.MessagingTimeout:
        return False


def test_sigterm_stops_cleanly_and_the_next_start_resumes(
        spawn_worker, worker_conf, rpc, events, sim):
    sim.sim.set_delays(snapshot_create=3600)
    share_id = sim.sim.create_share(PROJECT)
    worker = spawn_worker()
    wait_for(lambda: ready(rpc, worker_conf), timeout=30,
             what="the worker to answer")
    cp = rpc.protect(user_ctx(), {"type": SHARE, "id": share_id})
    wait_for(lambda: sim.sim.snapshots(share_id=share_id), timeout=20,
             what="the snapshot to be created")
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert time.monotonic() - started < 15
    sim.sim.set_status("snapshot", sim.sim.snapshots(
        share_id=share_id)[0]["id"], "available")
    spawn_worker("w1-again")
    end = events.wait(cp["id"], PROTECT_END, timeout=30)
    assert end["status"] == "available"
    assert len(sim.sim.snapshots(share_id=share_id)) == 1


def test_sigkill_mid_protect_then_restart(spawn_worker, worker_conf, rpc,
                                          events, sim):
    share_id = sim.sim.create_share(PROJECT)
    # The snapshot is made but Manila's answer is slow: the worker dies
    # before it learns the snapshot id.
    sim.sim.inject_http_fault("POST", r"/snapshots$", status=None,
                              latency=20, count=1)
    worker = spawn_worker()
    wait_for(lambda: ready(rpc, worker_conf), timeout=30,
             what="the worker to answer")
    cp = rpc.protect(user_ctx(), {"type": SHARE, "id": share_id},
                     checkpoint_id="killed-1")
    assert cp["status"] == "protecting"
    wait_for(lambda: sim.sim.snapshots(share_id=share_id), timeout=20,
             what="the snapshot to be created")
    worker.kill()
    worker.wait(timeout=10)
    spawn_worker("w2")
    end = events.wait("killed-1", PROTECT_END, timeout=40)
    snaps = sim.sim.snapshots(share_id=share_id)
    assert [s["id"] for s in snaps] == [end["saved_info"]["snapshot_id"]]
    # The redelivered/retried request returns the same checkpoint.
    again = rpc.protect(user_ctx(), {"type": SHARE, "id": share_id},
                        checkpoint_id="killed-1")
    assert again["status"] == "available"
    assert len(sim.sim.snapshots(share_id=share_id)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("any_db_url", ["postgresql"], indirect=True)
def test_two_workers_share_one_topic_without_double_work(
        start_service, rpc, events, sim):
    sim.sim.set_delays(snapshot_create=0.3)
    first = start_service()
    second = start_service()
    shares = sim.sim.create_shares(PROJECT, 40)
    for i, share_id in enumerate(shares):
        rpc.cast_protect(user_ctx(), {"type": SHARE, "id": share_id},
                         checkpoint_id="pair-%d" % i)
    for i in range(len(shares)):
        events.wait("pair-%d" % i, PROTECT_END, timeout=60)
    for share_id in shares:
        assert len(sim.sim.snapshots(share_id=share_id)) == 1
    done = (first.engine.reconciler.finished,
            second.engine.reconciler.finished)
    assert sum(done) == 40 and min(done) > 0, done
    for i in range(len(shares)):
        assert events.for_record("pair-%d" % i) == [
            "share_worker.checkpoint.protect.start", PROTECT_END]


def engine_children(worker_pid):
    out = subprocess.run(["pgrep", "-P", str(worker_pid)],
                         capture_output=True, text=True).stdout.split()
    return [int(pid) for pid in out]


def nice_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def policies_of(pid):
    """The scheduling policy of each thread of *pid*."""
    return {os.sched_getscheduler(int(tid))
            for tid in os.listdir("/proc/%d/task" % pid)}


@pytest.mark.parametrize("processes", [1, 2])
def test_engine_processes_do_the_work_and_are_restarted(
        spawn_worker, worker_conf, rpc, events, sim, processes):
    if processes > 1 and worker_conf.database.connection.startswith(
            "sqlite"):
        pytest.skip("several engine processes need PostgreSQL")
    sim.sim.set_delays(snapshot_create=0.3)
    worker = spawn_worker(engine_processes=processes)
    wait_for(lambda: ready(rpc, worker_conf), timeout=30,
             what="the worker to answer")
    children = wait_for(lambda: len(engine_children(worker.pid)) ==
                        processes and engine_children(worker.pid),
                        timeout=30, what="the engine processes")
    # engine_priority = idle (default): the engines' threads run on CPU
    # time the worker (and the rest of the host) leaves; with SQLite,
    # whose write lock the worker shares, engine_nice (10) lower instead
    if worker_conf.database.connection.startswith("sqlite"):
        wait_for(lambda: all(nice_of(pid) == nice_of(worker.pid) + 10
                             for pid in children), timeout=30,
                 what="the engine processes to lower their priority")
    else:
        wait_for(lambda: all(policies_of(pid) == {os.SCHED_IDLE}
                             for pid in children), timeout=30,
                 what="the engine processes to take the SCHED_IDLE policy")
    assert os.SCHED_IDLE not in policies_of(worker.pid)
    shares = sim.sim.create_shares(PROJECT, 10)
    for i, share_id in enumerate(shares[:5]):
        rpc.protect(user_ctx(), {"type": SHARE, "id": share_id},
                    checkpoint_id="ep-%d" % i)
    for i in range(5):
        events.wait("ep-%d" % i, PROTECT_END, timeout=30)
    # An engine process dies: the worker starts another, work goes on.
    os.kill(children[0], signal.SIGKILL)
    wait_for(lambda: children[0] not in engine_children(worker.pid)
             and len(engine_children(worker.pid)) == processes,
             timeout=30, what="the engine process to be restarted")
    for i, share_id in enumerate(shares[5:], start=5):
        rpc.protect(user_ctx(), {"type": SHARE, "id": share_id},
                    checkpoint_id="ep-%d" % i)
    for i in range(5, 10):
        events.wait("ep-%d" % i, PROTECT_END, timeout=30)
    for share_id in shares:
        assert len(sim.sim.snapshots(share_id=share_id)) == 1
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    assert engine_children(worker.pid) == []


def test_engine_priority_low_lowers_the_engines_by_engine_nice(
        spawn_worker, worker_conf, rpc):
    worker = spawn_worker(engine_processes=1, engine_priority="low",
                          engine_nice=7)
    wait_for(lambda: ready(rpc, worker_conf), timeout=30,
             what="the worker to answer")
    child = wait_for(lambda: engine_children(worker.pid), timeout=30,
                     what="the engine process")[0]
    wait_for(lambda: nice_of(child) == nice_of(worker.pid) + 7, timeout=30,
             what="the engine process to lower its priority by 7")
    assert policies_of(child) == {os.SCHED_OTHER}
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
