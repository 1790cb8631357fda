"""The protection plugin's schemas and option handling."""

import pytest

from share_worker import exception
from share_worker.plugins import manila_share_protection as mp

PLUGIN = mp.ManilaShareProtectionPlugin()
TYPE = "OS::Manila::Share"


def test_schemas_are_the_specs_verbatim():
    opts = PLUGIN.get_options_schema(TYPE)
    assert opts["title"] == "Share Protection Options"
    assert opts["required"] == ["snapshot_name", "description", "force"]
    assert opts["properties"]["force"] == {
        "type": "boolean", "title": "Force",
        "description": "Optional flag to indicate whether to snapshot a "
                       "share even if it's busy.",
        "default": False}
    restore = PLUGIN.get_restore_schema(TYPE)
    assert restore["title"] == "Share Protection Restore"
    assert set(restore["properties"]) == {"share_id", "restore_name",
                                          "restore_description"}
    assert restore["properties"]["restore_name"]["default"] is None
    assert "required" not in restore


def test_schemas_are_copies():
    PLUGIN.get_options_schema(TYPE)["title"] = "changed"
    assert PLUGIN.get_options_schema(TYPE)["title"] == \
        "Share Protection Options"


def test_saved_info_schema_requires_the_design_fields():
    required = PLUGIN.get_saved_info_schema(TYPE)["required"]
    for key in ("share_id", "snapshot_id", "size", "share_proto",
                "share_type", "share_network_id", "availability_zone"):
        assert key in required


def test_bare_protect_fills_every_option():
    assert PLUGIN.prepare_protect("cp-1", None) == {
        "snapshot_name": "share_worker-cp-1", "description": "",
        "force": False}


@pytest.mark.parametrize("options", [None, {}])
def test_filled_defaults_pass_the_options_schema(options):
    """Bare protects skip the schema check: what they get must pass it,
    for the longest checkpoint id there is."""
    filled = PLUGIN.prepare_protect("c" * 64, options)
    mp._validate(mp.OPTIONS_SCHEMA, filled, "options")


def test_given_options_win_over_defaults():
    opts = PLUGIN.prepare_protect("cp-1", {"force": True,
                                           "snapshot_name": "nightly"})
    assert opts == {"snapshot_name": "nightly", "description": "",
                    "force": True}


@pytest.mark.parametrize("options, needle", [
    ({"force": "yes"}, "force"),
    ({"snapshot_name": 5}, "snapshot_name"),
    ({"description": None}, "description"),
    ({"forse": True}, "forse"),
    ("force", "options must be an object"),
    ({"snapshot_name": "x" * 256}, "longer than 255"),
])
def test_bad_protect_options_name_the_problem(options, needle):
    with pytest.raises(exception.InvalidInput) as err:
        PLUGIN.prepare_protect("cp-1", options)
    assert needle in str(err.value)


def test_restore_to_new_share_by_default():
    cp = {"saved_info": {"share_id": "src"}}
    options, target = PLUGIN.prepare_restore(cp, None)
    assert options == {} and target == {"share_id": None, "mode": "new"}


def test_restore_to_source_share_is_a_revert():
    cp = {"saved_info": {"share_id": "src"}}
    _, target = PLUGIN.prepare_restore(cp, {"share_id": "src"})
    assert target == {"share_id": "src", "mode": "revert"}


def test_restore_to_another_share_id_makes_a_new_share():
    cp = {"saved_info": {"share_id": "src"}}
    _, target = PLUGIN.prepare_restore(cp, {"share_id": "other",
                                            "restore_name": "r"})
    assert target["mode"] == "new"


def test_null_restore_name_counts_as_omitted():
    cp = {"saved_info": {"share_id": "src"}}
    options, _ = PLUGIN.prepare_restore(cp, {"restore_name": None})
    assert options == {}


@pytest.mark.parametrize("options, needle", [
    ({"share_id": 3}, "share_id"),
    ({"restore_name": ["a"]}, "restore_name"),
    ({"target": "x"}, "target"),
    ([1], "must be an object"),
])
def test_bad_restore_options_name_the_problem(options, needle):
    with pytest.raises(exception.InvalidInput) as err:
        PLUGIN.prepare_restore({"saved_info": {"share_id": "s"}}, options)
    assert needle in str(err.value)
