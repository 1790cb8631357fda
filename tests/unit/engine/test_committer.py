"""The group committer: batches, failure isolation, shutdown."""

import threading
from concurrent import futures

import pytest

from share_worker.engine.committer import GroupCommitter
from tests.conftest import wait_for

WAIT = 10.0


class Writer:
    """A write function that records its batches; it can be held (the
    store busy with a commit) and refuses items named ``bad``."""

    def __init__(self):
        self.batches = []
        self.threads = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items):
        self.batches.append(list(items))
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.release.wait(WAIT), "writer never released"
        if "bad" in items:
            raise ValueError("bad item in %r" % (items,))
        return [item.upper() for item in items]


@pytest.fixture
def writer():
    return Writer()


@pytest.fixture
def committer(writer):
    c = GroupCommitter(writer, name="test")
    c.start()
    yield c
    writer.release.set()
    c.stop()


def hold_first_commit(committer, writer):
    """Start a commit and keep it in the store until released, so what
    is submitted meanwhile queues up."""
    writer.release.clear()
    submitted = []
    caller = threading.Thread(
        target=lambda: submitted.append(committer.submit("first")))
    caller.start()
    assert writer.entered.wait(WAIT)
    return _Later(submitted, caller)


class _Later:
    """The future a held submitter gets once its commit is released."""

    def __init__(self, submitted, caller):
        self._submitted = submitted
        self._caller = caller

    def result(self, timeout):
        self._caller.join(timeout)
        return self._submitted[0].result(timeout)


def test_a_lone_item_is_committed_at_once_by_its_caller(committer, writer):
    assert committer.submit("a").result(WAIT) == "A"
    assert writer.batches == [["a"]]
    assert writer.threads == [threading.current_thread().name]


def test_no_thread_until_requests_meet(writer):
    """Lone requests are committed by their callers: the committer's
    thread starts only when one queues (an engine process, which accepts
    nothing, costs no thread for its accept committer); a stop then
    still commits what queued."""
    committer = GroupCommitter(writer, name="lazy")
    committer.start()
    try:
        committer.submit("a").result(WAIT)
        assert committer._thread is None
        writer.release.clear()
        writer.entered.clear()
        caller = threading.Thread(target=lambda: committer.submit("b"))
        caller.start()
        assert writer.entered.wait(WAIT)
        queued = committer.submit("c")       # during b's commit: queues
        assert committer._thread is not None
        writer.release.set()
        assert queued.result(WAIT) == "C"
        caller.join(WAIT)
    finally:
        committer.stop()
    committer.start()                        # a restart after a stop
    try:
        assert committer.submit("d").result(WAIT) == "D"
    finally:
        committer.stop()
    assert writer.batches == [["a"], ["b"], ["c"], ["d"]]


def test_items_submitted_during_a_commit_share_the_next_one(committer,
                                                            writer):
    first = hold_first_commit(committer, writer)
    results = {}
    submitted = []

    def handler(name):
        future = committer.submit(name)
        submitted.append(future)
        results[name] = future.result(WAIT)

    threads = [threading.Thread(target=handler, args=("r%d" % i,))
               for i in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: len(submitted) == 20, timeout=WAIT,
             interval=0.001, what="20 requests queued behind the commit")
    writer.release.set()
    for t in threads:
        t.join(WAIT)
    assert first.result(WAIT) == "FIRST"
    assert results == {"r%d" % i: "R%d" % i for i in range(20)}
    assert len(writer.batches) == 2
    assert sorted(writer.batches[1]) == sorted(results)
    assert committer.batches == 2


def test_a_failing_batch_fails_only_its_bad_item(committer, writer):
    first = hold_first_commit(committer, writer)
    pending = [committer.submit(name) for name in ("a", "bad", "b")]
    writer.release.set()
    assert first.result(WAIT) == "FIRST"
    assert pending[0].result(WAIT) == "A"
    assert pending[2].result(WAIT) == "B"
    with pytest.raises(ValueError):
        pending[1].result(WAIT)
    # the batch of three, then each one alone
    assert writer.batches[1:] == [["a", "bad", "b"], ["a"], ["bad"], ["b"]]


def test_stop_commits_everything_submitted_before_it(writer):
    committer = GroupCommitter(writer, name="test")
    committer.start()
    first = hold_first_commit(committer, writer)
    pending = [committer.submit("q%d" % i) for i in range(5)]
    stopper = threading.Thread(target=committer.stop)
    stopper.start()
    writer.release.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert first.result(0) == "FIRST"
    assert [f.result(0) for f in pending] == ["Q%d" % i for i in range(5)]
    # after stop: written at once, in the caller's thread
    assert committer.submit("late").result(0) == "LATE"
    assert writer.threads[-1] == threading.current_thread().name


def test_a_bug_in_the_writer_does_not_stop_the_committer(committer,
                                                         writer):
    writer_fn = committer._write
    committer._write = lambda items: []      # wrong number of results
    with pytest.raises(RuntimeError):
        committer.submit("a").result(WAIT)
    committer._write = writer_fn
    assert committer.submit("b").result(WAIT) == "B"


def test_submit_before_start_writes_in_the_callers_thread(writer):
    committer = GroupCommitter(writer, name="test")
    future = committer.submit("a")
    assert isinstance(future, futures.Future) and future.result(0) == "A"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_under_load_the_thread_waits_the_delay_for_company(writer):
    """Requests that arrive during a commit queue up and are written
    together; a request less than *delay* after such a commit (with
    company) queues too, and the committer thread waits *delay* for more
    before it writes."""
    committer = GroupCommitter(writer, name="test", delay=0.5)
    committer.start()
    try:
        writer.release.clear()
        first = threading.Thread(target=lambda: committer.submit("a"),
                                 name="caller")
        first.start()
        assert writer.entered.wait(WAIT)    # "a" commits inline, held
        pending = [committer.submit(name) for name in ("b", "c")]
        writer.release.set()
        assert [f.result(WAIT) for f in pending] == ["B", "C"]
        first.join(WAIT)
        # right after a commit of two: it waits for company
        later = [committer.submit(name) for name in ("d", "e")]
        assert [f.result(WAIT) for f in later] == ["D", "E"]
    finally:
        committer.stop()
    assert writer.batches == [["a"], ["b", "c"], ["d", "e"]]
    assert writer.threads == ["caller", "test", "test"]


def test_a_lone_caller_is_committed_at_once(writer):
    """One caller waiting for each of its requests has no company to
    wait for: each is written at once in its own thread, however soon
    it follows the last; after a commit of several, a request within
    the delay queues."""
    clock = Clock()
    committer = GroupCommitter(writer, name="test", delay=0.01, clock=clock)
    committer.start()
    try:
        committer.submit("a").result(WAIT)
        clock.now += 0.005                  # within the delay, alone
        committer.submit("b").result(WAIT)
        writer.release.clear()
        holder = threading.Thread(target=lambda: committer.submit("c"))
        holder.start()
        assert wait_for(lambda: writer.batches[-1] == ["c"],
                        what="c committing")
        pending = [committer.submit(name) for name in ("d", "e")]
        writer.release.set()
        [f.result(WAIT) for f in pending]
        holder.join(WAIT)
        clock.now += 0.005                  # within the delay, after two
        committer.submit("f").result(WAIT)
        clock.now += 1.0                    # idle since: at once
        committer.submit("g").result(WAIT)
    finally:
        committer.stop()
    me = threading.current_thread().name
    assert writer.batches == [["a"], ["b"], ["c"], ["d", "e"], ["f"],
                              ["g"]]
    assert writer.threads[:2] == [me, me]
    assert writer.threads[3:] == ["test", "test", me]


def test_stop_does_not_wait_out_the_delay(writer):
    committer = GroupCommitter(writer, name="test", delay=60.0)
    committer.start()
    committer.submit("a").result(WAIT)
    queued = committer.submit("b")          # under load: the thread waits
    stopper = threading.Thread(target=committer.stop)
    stopper.start()
    stopper.join(WAIT)
    assert not stopper.is_alive(), "stop() waited for the commit delay"
    assert queued.result(WAIT) == "B"
