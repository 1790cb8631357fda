"""What people and programs read: tables, ``key: value`` lines, JSON."""

from __future__ import annotations

from share_worker.cmd import ctl_output
from tests.unit.cmd.conftest import SHARE, checkpoint, restore


def test_list_is_an_aligned_table(ctl_main, api):
    api.answers["list_checkpoints"] = [
        checkpoint("cp-1", "available"),
        checkpoint("checkpoint-22", "error", share_id="s-2",
                   trigger="schedule")]
    out = ctl_main("list").out.splitlines()
    assert out == [
        "ID             RESOURCE TYPE      RESOURCE ID  STATUS     TRIGGER"
        "   CREATED",
        "cp-1           OS::Manila::Share  share-1      available  rpc    "
        "   2024-05-01T10:00:00Z",
        "checkpoint-22  OS::Manila::Share  s-2          error      schedule"
        "  2024-05-01T10:00:00Z"]


def test_an_empty_list_is_a_header_or_an_empty_json_list(ctl_main, api):
    api.answers["list_restores"] = []
    assert ctl_main("list", "--restores").out.split() == [
        "ID", "CHECKPOINT", "STATUS", "MODE", "TARGET", "SHARE", "CREATED"]
    assert ctl_main("--json", "list", "--restores").json() == []


def test_show_prints_aligned_key_value_lines(ctl_main, api):
    api.answers["show_checkpoint"] = checkpoint(
        status="error", options={"force": True},
        error={"code": "Busy", "message": "share busy"})
    lines = ctl_main("show", "cp-1").out.splitlines()
    assert "id:                   cp-1" in lines
    assert "resource.type:        %s" % SHARE in lines
    assert "resource.extra_info:  -" in lines
    assert "options.force:        true" in lines
    assert "policy_id:            -" in lines
    assert "error.code:           Busy" in lines
    assert "error.message:        share busy" in lines


def test_json_is_one_document_with_the_record(ctl_main, api):
    record = restore(status="success",
                     target={"share_id": "new-1", "mode": "new"})
    api.answers["show_restore"] = record
    result = ctl_main("--json", "show", "--restore", "rs-1")
    assert result.json() == record
    assert result.err == ""


def test_schemas_are_a_table_per_schema(ctl_main, api):
    api.answers["show_plugin_schemas"] = {
        "options_schema": {
            "title": "Options", "required": ["force"],
            "properties": {"force": {"type": "boolean", "default": False,
                                     "description": "Snapshot if busy."}}},
        "restore_schema": {"title": "Restore", "properties": {
            "share_id": {"type": "string", "title": "Share ID"}}},
        "saved_info_schema": {"title": "Saved", "properties": {
            "share_type": {"type": ["string", "null"]}}}}
    assert ctl_main("schemas").out.splitlines() == [
        "options_schema: Options",
        "PROPERTY  TYPE     DEFAULT  REQUIRED  DESCRIPTION",
        "force     boolean  false    yes       Snapshot if busy.",
        "",
        "restore_schema: Restore",
        "PROPERTY  TYPE    DEFAULT  REQUIRED  DESCRIPTION",
        "share_id  string  -        no        Share ID",
        "",
        "saved_info_schema: Saved",
        "PROPERTY    TYPE          DEFAULT  REQUIRED  DESCRIPTION",
        "share_type  string, null  -        no        -"]
    schemas = ctl_main("--json", "schemas").json()
    assert schemas["options_schema"]["title"] == "Options"


def test_protectable_types_and_instances(ctl_main, api):
    api.answers["list_protectable_types"] = ["OS::Keystone::Project", SHARE]
    assert ctl_main("protectables").out.splitlines() == [
        "TYPE", "OS::Keystone::Project", SHARE]
    api.answers["list_protectable_instances"] = [
        {"type": SHARE, "id": "s-1", "name": None, "extra_info": {}}]
    assert ctl_main("protectables", "instances").out.splitlines() == [
        "TYPE               ID   NAME", "%s  s-1  -" % SHARE]


def test_event_lines():
    event = ctl_output.Event(
        "share_worker.restore.error", "ERROR", "share_worker.h", "T0",
        restore(status="fail", target={"share_id": "s-9", "mode": "new"},
                error={"code": "InvalidState", "message": "no quota"}))
    assert ctl_output.event_line(event) == (
        "T0  share_worker.restore.error  rs-1  fail  checkpoint=cp-1  "
        "share=s-9  error=InvalidState: no quota")
    plain = event._replace(event_type="share_worker.checkpoint.protect.end",
                           timestamp="", payload=checkpoint())
    assert ctl_output.event_line(plain) == (
        "-  share_worker.checkpoint.protect.end  cp-1  protecting")


def test_text_of_values():
    assert [ctl_output.text(v) for v in
            (None, {}, [], "x", True, 3, ["a", "b"], [1], {"a": 1})] == [
        "-", "-", "-", "x", "true", "3", "a, b", "[1]", '{"a": 1}']
