"""The README's main job: ``share-worker --demo`` protects, restores and
deletes a share of the bundled simulator over RPC, prints the six status
events an independent listener saw, and stops cleanly on Ctrl-C."""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

EVENTS = ["share_worker.checkpoint.protect.start",
          "share_worker.checkpoint.protect.end",
          "share_worker.restore.start",
          "share_worker.restore.end",
          "share_worker.checkpoint.delete.start",
          "share_worker.checkpoint.delete.end"]


def _lines(stream, into):
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def _read_until(lines, done, timeout):
    """The lines printed until one starts with *done*; AssertionError
    with what was printed if it does not come within *timeout* s."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(left, 0))
        except queue.Empty:
            line = None
        if line is None or line.startswith("[demo] demo failed"):
            raise AssertionError("the demo did not finish:\n" +
                                 "\n".join(seen + [line or ""]))
        seen.append(line)
        if line.startswith(done):
            return seen


def test_demo_protects_restores_deletes_and_stops_on_ctrl_c(rabbit_vhost,
                                                            tmp_path):
    suffix = uuid.uuid4().hex[:8]
    conf = tmp_path / "demo.conf"
    # Only what keeps this run apart from others on the broker: the
    # demo fills in the rest (SQLite store, simulator, noauth, topic).
    conf.write_text(
        "[DEFAULT]\ntransport_url = %s\nstate_path = %s\n"
        "[oslo_messaging_notifications]\ntopics = demo_events_%s\n"
        "[manila_notifications]\ntopics = demo_manila_%s\n" % (
            rabbit_vhost.url, tmp_path, suffix, suffix))
    with open(tmp_path / "demo.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "share_worker.cmd.worker", "--demo",
             "--config-file", str(conf)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        lines = queue.Queue()
        threading.Thread(target=_lines, args=(proc.stdout, lines),
                         daemon=True).start()
        printed = _read_until(lines, "[demo] demo done", timeout=120)
        events = [line.split()[1] for line in printed
                  if line.startswith("  event ")]
        assert events == EVENTS, "\n".join(printed)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
