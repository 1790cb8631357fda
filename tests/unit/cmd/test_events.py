"""``--wait`` and ``watch``: following status events from the fake bus."""

from __future__ import annotations

import json
import threading

import pytest

from share_worker.cmd import ctl_events
from tests.unit.cmd.conftest import checkpoint, restore

PROTECT = "share_worker.checkpoint.protect."
DELETE = "share_worker.checkpoint.delete."


def test_protect_wait_prints_events_and_the_final_record(ctl_main, api,
                                                         bus):
    api.answers["protect"] = checkpoint()
    api.script["protect"] = [
        (PROTECT + "end", {"id": "cp-other", "status": "available"}),
        ("share_worker.restore.end", {"status": "success"}),
        (PROTECT + "start", {"status": "protecting"}),
        (PROTECT + "end", {"status": "available",
                           "saved_info": {"snapshot_id": "snap-1"}})]
    result = ctl_main("--notifications-topic", "notif-9", "protect",
                      "share-1", "--wait")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[:3] == ["checkpoint cp-1: protecting",
                         "waiting for available or error ...",
                         "2024-05-01 10:00:01  %sstart  cp-1  protecting"
                         % PROTECT]
    assert lines[3].endswith("%send  cp-1  available" % PROTECT)
    fields = result.fields()
    assert fields["status"] == "available"
    assert fields["saved_info.snapshot_id"] == "snap-1"
    assert "cp-other" not in result.out
    assert bus.started[0]["topic"] == "notif-9"
    assert bus.started[0]["exchange"] == "share_worker"
    assert (bus.stopped, bus.endpoints) == (1, [])


def test_wait_with_json_keeps_stdout_one_document(ctl_main, api):
    api.answers["protect"] = checkpoint()
    api.script["protect"] = [(PROTECT + "end", {"status": "available"})]
    result = ctl_main("--json", "protect", "share-1", "--wait")
    assert result.json()["status"] == "available"
    assert PROTECT + "end" in result.err


def test_a_failed_request_exits_1_with_its_error(ctl_main, api):
    api.answers["protect"] = checkpoint()
    api.script["protect"] = [(PROTECT + "error", {
        "status": "error",
        "error": {"code": "ResourceNotFound", "message": "no share"}})]
    result = ctl_main("protect", "share-1", "--wait")
    assert result.code == 1
    assert result.fields()["error.code"] == "ResourceNotFound"
    assert result.err == ("error: checkpoint cp-1 ended error: "
                          "ResourceNotFound: no share\n")


def test_an_error_event_ends_the_wait_whatever_the_status(ctl_main, api):
    api.script["cast_delete"] = [(DELETE + "error", {
        "status": "protecting",
        "error": {"code": "InvalidState", "message": "still protecting"}})]
    result = ctl_main("delete", "cp-1", "--cast", "--wait")
    assert result.code == 1
    assert "InvalidState: still protecting" in result.err


def test_no_end_in_time_exits_2(ctl_main, api, bus):
    api.answers["protect"] = checkpoint()
    api.script["protect"] = [(PROTECT + "start", {})]
    result = ctl_main("protect", "share-1", "--wait", "--timeout", "0.2")
    assert result.code == 2
    assert "cp-1 did not reach available or error in time" in result.err
    assert bus.stopped == 1


def test_a_record_already_done_needs_no_event(ctl_main, api):
    api.answers["delete"] = checkpoint(status="deleted")
    result = ctl_main("delete", "cp-1", "--wait", "--timeout", "0.2")
    assert result.code == 0, result
    assert "status:" in result.out


def test_cast_protect_gets_an_id_and_waits_on_it(ctl_main, api):
    api.script["cast_protect"] = [(PROTECT + "end", {"status": "available"})]
    result = ctl_main("--json", "protect", "share-1", "--cast", "--wait")
    assert result.code == 0, result
    [(method, _, kwargs)] = api.calls
    assert method == "cast_protect"
    assert len(kwargs["checkpoint_id"]) == 36
    assert result.json()["id"] == kwargs["checkpoint_id"]


def test_cast_without_wait_says_what_was_sent(ctl_main, api, bus):
    result = ctl_main("delete", "cp-1", "--cast")
    assert result.out == "delete request sent (cast) for checkpoint cp-1\n"
    assert ctl_main("--json", "protect", "s-1", "--cast",
                    "--checkpoint-id", "cp-7").json() == {
        "request": "protect", "cast": True, "checkpoint_id": "cp-7"}
    assert bus.started == []


def test_restore_wait(ctl_main, api):
    api.answers["restore"] = restore()
    api.script["restore"] = [("share_worker.restore.end", {
        "status": "success", "target": {"share_id": "new-1",
                                        "mode": "new"}})]
    result = ctl_main("restore", "cp-1", "--wait")
    assert result.code == 0, result
    assert "share=new-1" in result.out
    assert result.fields()["target.share_id"] == "new-1"


# -- watch --------------------------------------------------------------------

def watch_in_thread(ctl_main, bus, *argv):
    """Runs ``watch`` in a thread; returns it, once it listens, and its
    result holder."""
    results = []
    thread = threading.Thread(target=lambda: results.append(
        ctl_main("watch", *argv)), daemon=True)
    listening = threading.Event()
    factory = bus.listener_factory

    def started(**kwargs):
        listener = factory(**kwargs)
        listening.set()
        return listener
    bus.listener_factory = started
    thread.start()
    assert listening.wait(10), "watch never started listening"
    return thread, results


@pytest.mark.parametrize("argv, expected", [
    (["--checkpoint", "cp-1"], ["cp-1", "rs-1", "cp-1"]),
    (["--restore", "rs-1"], ["rs-1"]),
    (["--project", "proj-b"], ["cp-2"]),
    ([], ["cp-1", "rs-1", "cp-2", "cp-1"]),
])
def test_watch_filters(ctl_main, bus, argv, expected):
    thread, results = watch_in_thread(
        ctl_main, bus, "--json", "--count", str(len(expected)),
        "--timeout", "10", *argv)
    bus.publish(PROTECT + "start", checkpoint())
    bus.publish("share_worker.restore.start", restore())
    bus.publish(PROTECT + "start", checkpoint("cp-2", project_id="proj-b"))
    bus.publish(PROTECT + "end", checkpoint(status="available"))
    thread.join(10)
    [result] = results
    assert result.code == 0, result
    events = [json.loads(line) for line in result.out.splitlines()]
    assert [e["payload"]["id"] for e in events] == expected
    assert set(events[0]) == {"event_type", "priority", "publisher_id",
                              "timestamp", "payload"}
    assert "watching share_worker events" in result.err
    assert bus.stopped == 1


def test_watch_ends_at_timeout(ctl_main, bus):
    thread, results = watch_in_thread(ctl_main, bus, "--timeout", "0.1")
    thread.join(10)
    assert results[0].code == 0
    thread, results = watch_in_thread(ctl_main, bus, "--timeout", "0.1",
                                      "--count", "1")
    thread.join(10)
    assert results[0].code == 2
    assert "saw 0 of 1 events" in results[0].err


def test_the_inbox_ignores_other_services_events():
    inbox = ctl_events.Inbox()
    inbox.info({}, "manila", "share.create.end", {"id": "s"}, {})
    inbox.info({}, "sw", "share_worker.checkpoint.protect.end", "oops", {})
    inbox.error({}, "sw", "share_worker.checkpoint.protect.error",
                {"id": "cp-1"}, {"priority": "error", "timestamp": "T"})
    event = inbox.next(deadline=0)
    assert (event.event_type, event.priority, event.timestamp) == (
        "share_worker.checkpoint.protect.error", "ERROR", "T")
    assert inbox.next(deadline=0) is None


def test_a_record_in_another_state_is_not_waited_for(ctl_main, api):
    api.answers["protect"] = checkpoint(status="deleted")
    result = ctl_main("protect", "s-1", "--checkpoint-id", "cp-1", "--wait",
                      "--timeout", "0.2")
    assert result.code == 1
    assert result.err == "error: checkpoint cp-1 is deleted, not available\n"


@pytest.mark.parametrize("kind, status, event_type, expected", [
    ("protect", "protecting", "", None),
    ("protect", "available", "", True),
    ("protect", "error", "", False),
    ("delete", "available", "", False),
    ("delete", "deleting", "share_worker.checkpoint.delete.start", None),
    ("delete", "available", "share_worker.checkpoint.delete.error", False),
    ("restore", "success", "share_worker.restore.end", True),
    ("restore", "fail", "share_worker.restore.error", False),
])
def test_outcome(kind, status, event_type, expected):
    assert ctl_events.outcome(kind, {"status": status},
                              event_type) is expected
