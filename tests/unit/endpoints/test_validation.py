"""Bad values that used to slip through (or end as an internal error)
are InvalidInput naming the argument, with a bounded message."""

import pytest

from tests.unit.endpoints.conftest import PROJECT, SHARE, ctx_dict


@pytest.mark.parametrize("method, kwargs, needle", [
    # '$' matched before a trailing newline
    ("show_checkpoint", {"checkpoint_id": "cp-1\n"}, "checkpoint_id"),
    ("list_restores", {"marker": "r-1\n"}, "marker"),
    # filter values reached SQL (ProgrammingError -> "internal error")
    ("list_checkpoints", {"filters": {"status": ["available"]}}, "status"),
    ("list_checkpoints", {"filters": {"resource_id": {"a": 1}}},
     "resource_id"),
    ("list_restores", {"filters": {"status": 5}}, "status"),
    # ids that would become Manila URL paths
    ("protect", {"resource": {"type": SHARE, "id": "../shares/detail"}},
     "resource.id"),
    ("show_protectable_instance", {"resource_type": SHARE,
                                   "resource_id": "x?all_tenants=1"},
     "resource_id"),
    ("list_protectable_dependents", {"resource_type":
                                     "OS::Keystone::Project",
                                     "resource_id": "p1/../p2"},
     "resource_id"),
    # longer than the store's 255-character columns (PostgreSQL refused)
    ("protect", {"resource": {"type": SHARE, "id": "s-1",
                              "name": "n" * 256}}, "resource.name"),
    ("protect", {"resource": {"type": "T" * 256, "id": "s-1"}},
     "resource.type"),
    ("protect", {"resource": {"type": SHARE, "id": "s-1",
                              "extra_info": {"k": "v" * 20000}}},
     "resource.extra_info"),
])
def test_refused_as_invalid_input(worker, manila, method, kwargs, needle):
    err = worker.caller.refused(ctx_dict(), method, **kwargs)
    assert err.exc_type == "InvalidInput"
    assert needle in err.value
    assert manila.shares.calls == [] and manila.snapshots.calls == []


@pytest.mark.parametrize("method, kwargs, exc_type", [
    ("show_plugin_schemas", {"resource_type": "T" * 1000000},
     "InvalidInput"),
    ("show_checkpoint", {"checkpoint_id": "c" * 1000000}, "InvalidInput"),
    ("list_checkpoints", {"limit": "9" * 100000}, "InvalidInput"),
    ("protect", {"resource": {"type": SHARE, "id": "s-1",
                              "k" * 100000: 1}}, "InvalidInput"),
])
def test_a_huge_value_is_not_echoed_whole(worker, caplog, method, kwargs,
                                          exc_type):
    err = worker.caller.refused(ctx_dict(), method, **kwargs)
    assert err.exc_type == exc_type
    assert len(err.value) <= 1024
    assert max(len(r.getMessage()) for r in caplog.records) < 2048


@pytest.mark.parametrize("method, kwargs, field", [
    ("restore", {"checkpoint_id": "cp-1",
                 "options": {"share_id": "s" * 300}},
     "options.share_id is 300 characters long; at most 255"),
    ("restore", {"checkpoint_id": "cp-1",
                 "options": {"share_id": "s" * (5 << 20)}},
     "options.share_id is 5242880 characters long; at most 255"),
    ("restore", {"checkpoint_id": "cp-1",
                 "options": {"restore_name": "n" * 256}},
     "options.restore_name is 256 characters long; at most 255"),
    ("protect", {"resource": {"type": SHARE, "id": "s-1"},
                 "options": {"snapshot_name": "n" * 256}},
     "options.snapshot_name is 256"),
    ("protect", {"resource": {"type": SHARE, "id": "s-1"},
                 "options": {"description": "d" * 256}},
     "options.description is 256"),
    ("list_protectable_instances",
     {"resource_type": SHARE, "parameters": {"name": "x" * 4097}},
     "parameters.name is 4097 characters long; at most 4096"),
    ("protect", {"resource": {"type": SHARE, "id": "s-1",
                              "extra_info": {"a": ["b" * 4097]}}},
     "resource.extra_info.a[0] is 4097"),
])
def test_a_field_too_long_is_named(worker, manila, method, kwargs, field):
    err = worker.caller.refused(ctx_dict(), method, **kwargs)
    assert err.exc_type == "InvalidInput"
    assert field in err.value
    assert worker.store.list_checkpoints(None, {}, 10, None) == []
    assert manila.shares.calls == [] and manila.snapshots.calls == []


def test_a_request_too_large_is_refused_whole(worker, manila):
    # each string within its own bound, the whole beyond 256 KiB
    extra = {"k%d" % i: "v" * 4000 for i in range(70)}
    err = worker.caller.refused(
        ctx_dict(), "list_protectable_instances", resource_type=SHARE,
        parameters=extra)
    assert err.exc_type == "InvalidInput"
    assert "the request is" in err.value and "at most 262144" in err.value


def test_a_share_id_from_the_listing_is_accepted(worker, manila):
    share = manila.add_share(id="0b7c4a6e-8f39-4cde-9b0e-1f2a3b4c5d6e",
                             project_id=PROJECT)
    listed = worker.caller.call(ctx_dict(), "list_protectable_instances",
                                resource_type=SHARE)
    cp = worker.caller.call(ctx_dict(), "protect", resource=listed[0])
    assert cp["resource"]["id"] == share.id
    assert worker.caller.call(ctx_dict(), "show_protectable_instance",
                              resource_type=SHARE,
                              resource_id=share.id)["id"] == share.id


def test_a_project_over_its_quota_gets_quota_exceeded(make_worker, manila):
    worker = make_worker(max_in_flight_per_project=1)
    share = manila.add_share(project_id=PROJECT)
    worker.caller.call(ctx_dict(), "protect",
                       resource={"type": SHARE, "id": share.id})
    err = worker.caller.refused(ctx_dict(), "protect",
                                resource={"type": SHARE, "id": share.id})
    assert err.exc_type == "QuotaExceeded"
    assert "max_in_flight_per_project=1" in err.value
