"""Engine processes say when their engine runs: the worker takes requests
once they can be run, not while its engines are still starting."""

from __future__ import annotations

import sys
import time

import pytest
from oslo_config import cfg

from share_worker import conf as sw_conf
from share_worker.supervisor import READY_FD, EngineProcesses

# an engine that starts in argv[1] seconds, then runs until its SIGTERM
_READY_AFTER = """
import os, signal, sys, threading
threading.Event().wait(float(sys.argv[1]))
os.write(int(os.environ[%r]), b"ready\\n")
signal.pause()
""" % READY_FD
_EXITS = "import sys; sys.exit(3)"
_NEVER_READY = "import signal; signal.pause()"


@pytest.fixture
def processes():
    started = []

    def make(script, count=1, argv=()):
        conf = cfg.ConfigOpts()
        sw_conf.register_opts(conf)
        conf([])
        conf.set_override("engine_processes", count, group="share_worker")
        procs = EngineProcesses(conf, argv)
        procs.command = [sys.executable, "-c", script]
        started.append(procs)
        return procs

    yield make
    for procs in started:
        procs.stop(timeout=5)


def test_start_then_wait_until_every_engine_runs(processes):
    procs = processes(_READY_AFTER, count=2, argv=["0.3"])
    began = time.monotonic()
    procs.start()
    assert procs.wait_ready(timeout=20)
    assert time.monotonic() - began >= 0.3


def test_a_process_that_exits_first_is_not_waited_for(processes):
    procs = processes(_EXITS)
    procs.start()
    began = time.monotonic()
    assert not procs.wait_ready(timeout=20)
    assert time.monotonic() - began < 10


def test_the_wait_is_bounded(processes):
    procs = processes(_NEVER_READY)
    procs.start()
    began = time.monotonic()
    assert not procs.wait_ready(timeout=0.5)
    assert 0.5 <= time.monotonic() - began < 5
