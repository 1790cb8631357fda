"""List filters, all_tenants, sorting and paging."""

from __future__ import annotations


def _ids(body, key):
    return [item["id"] for item in body[key]]


def test_lists_are_newest_first_and_paged(api, sim, clock):
    ids = []
    for _ in range(5):
        ids.append(sim.create_share("proj"))
        clock.advance(1)
    _, body = api("GET", "/v2/shares/detail",
                  query={"limit": "2", "offset": "1"})
    assert _ids(body, "shares") == [ids[3], ids[2]]
    assert body["shares_links"][0]["rel"] == "next"
    _, body = api("GET", "/v2/shares", query={"sort_dir": "asc"})
    assert _ids(body, "shares") == ids
    assert set(body["shares"][0]) == {"id", "name", "links"}
    assert api("GET", "/v2/shares", query={"limit": "-1"})[0] == 400


def test_share_filters(api, sim):
    sim.add_share_type("gold", {"snapshot_support": True})
    a = sim.create_share("proj", name="a", metadata={"tier": "1"})
    b = sim.create_share("proj", name="b", share_type="gold",
                         status="error")
    _, body = api("GET", "/v2/shares/detail", query={"name": "a"})
    assert _ids(body, "shares") == [a]
    _, body = api("GET", "/v2/shares/detail", query={"status": "error"})
    assert _ids(body, "shares") == [b]
    _, body = api("GET", "/v2/shares/detail",
                  query={"metadata": "{'tier': '1'}"})
    assert _ids(body, "shares") == [a]
    gold = sim.share(b)["share_type"]
    _, body = api("GET", "/v2/shares/detail", query={"share_type_id": gold})
    assert _ids(body, "shares") == [b]
    _, body = api("GET", "/v2/shares/detail", query={"sort_key": "name"})
    assert _ids(body, "shares") == [b, a]


def test_all_tenants_only_for_admins(api, sim):
    mine = sim.create_share("proj")
    theirs = sim.create_share("other")
    query = {"all_tenants": "1"}
    _, body = api("GET", "/v2/shares/detail", query=query)
    assert _ids(body, "shares") == [mine]
    _, body = api("GET", "/v2/shares/detail", query=query, token="a:admin")
    assert set(_ids(body, "shares")) == {mine, theirs}
    _, body = api("GET", "/v2/shares/detail", token="a:admin",
                  query={"all_tenants": "1", "project_id": "other"})
    assert _ids(body, "shares") == [theirs]
    _, body = api("GET", "/v2/shares/detail", token="a:admin")
    assert _ids(body, "shares") == []


def test_snapshot_filters_and_all_tenants(api, sim):
    share_a = sim.create_share("proj")
    share_b = sim.create_share("proj")
    snap_a = sim.create_snapshot(share_a, name="x")
    snap_b = sim.create_snapshot(share_b, status="error")
    other = sim.create_snapshot(sim.create_share("other"))
    _, body = api("GET", "/v2/snapshots/detail",
                  query={"share_id": share_a})
    assert _ids(body, "snapshots") == [snap_a]
    _, body = api("GET", "/v2/snapshots/detail", query={"status": "error"})
    assert _ids(body, "snapshots") == [snap_b]
    _, body = api("GET", "/v2/snapshots", query={"name": "x"})
    assert _ids(body, "snapshots") == [snap_a]
    _, body = api("GET", "/v2/snapshots/detail", token="a:admin",
                  query={"all_tenants": "true", "project_id": "other"})
    assert _ids(body, "snapshots") == [other]
    _, body = api("GET", "/v2/snapshots/detail", query={"limit": "1"})
    assert len(body["snapshots"]) == 1
    assert "share_snapshots_links" in body


def test_share_types(api, sim):
    sim.add_share_type("norevert", {"snapshot_support": True})
    _, body = api("GET", "/v2/types")
    names = [t["name"] for t in body["share_types"]]
    assert names == ["default", "norevert"]
    _, body = api("GET", "/v2/types/default")
    specs = body["share_type"]["extra_specs"]
    assert specs["revert_to_snapshot_support"] == "True"
    assert body["share_type"]["is_default"] is True
    _, body = api("GET", "/v2/types/norevert")
    assert body["share_type"]["extra_specs"][
        "revert_to_snapshot_support"] is False
