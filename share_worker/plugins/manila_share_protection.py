"""Protection plugin for ``OS::Manila::Share``: snapshot-based protection.

protect = ``ShareSnapshotManager.create`` (wait for ``available``),
restore = ``ShareManager.create`` from the snapshot (or revert in place),
delete = ``ShareSnapshotManager.delete``::

    plugin = ManilaShareProtectionPlugin()
    options = plugin.prepare_protect("cp-1", None)
    # {'snapshot_name': 'share_worker-cp-1', 'description': '',
    #  'force': False}
    op = plugin.get_protect_operation({"type": "OS::Manila::Share",
                                       "id": share_id})

OPTIONS_SCHEMA and RESTORE_SCHEMA are the spec's, verbatim.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from share_worker import exception
from share_worker.plugins import base
from share_worker.plugins import manila_share_operations as ops
from share_worker.plugins.manila_share_protectable import SHARE_RESOURCE_TYPE

OPTIONS_SCHEMA = {
    "title": "Share Protection Options",
    "type": "object",
    "properties": {
        "snapshot_name": {
            "type": "string",
            "title": "Snapshot Name",
            "description": "The name of the snapshot."
        },
        "description": {
            "type": "string",
            "title": "Description",
            "description": "The description of the share snapshot."
        },
        "force": {
            "type": "boolean",
            "title": "Force",
            "description": "Optional flag to indicate whether to snapshot a share even if it's busy.",  # noqa: E501
            "default": False
        }
    },
    "required": ["snapshot_name", "description", "force"]
}

RESTORE_SCHEMA = {
    "title": "Share Protection Restore",
    "type": "object",
    "properties": {
        "share_id": {
            "type": "string",
            "title": "Share ID",
            "description": "The target share ID to restore to."
        },
        "restore_name": {
            "type": "string",
            "title": "Restore Name",
            "description": "The name of the restored share.",
            "default": None
        },
        "restore_description": {
            "type": "string",
            "title": "Restore Description",
            "description": "The description of the restored share.",
            "default": None
        }
    }
}

SAVED_INFO_SCHEMA = {
    "title": "Share Protection Saved Info",
    "type": "object",
    "properties": {
        "share_id": {"type": "string", "title": "Share ID"},
        "share_name": {"type": ["string", "null"], "title": "Share Name"},
        "snapshot_id": {"type": ["string", "null"], "title": "Snapshot ID"},
        "size": {"type": "integer", "title": "Size in GiB"},
        "share_proto": {"type": "string", "title": "Share Protocol"},
        "share_type": {"type": ["string", "null"], "title": "Share Type"},
        "share_network_id": {"type": ["string", "null"],
                             "title": "Share Network ID"},
        "availability_zone": {"type": ["string", "null"],
                              "title": "Availability Zone"},
    },
    "required": ["share_id", "snapshot_id", "size", "share_proto",
                 "share_type", "share_network_id", "availability_zone"],
}

#: Manila's limit on names and descriptions.
_MAX_NAME = 255

_VALIDATORS = {schema["title"]: jsonschema.Draft7Validator(schema)
               for schema in (OPTIONS_SCHEMA, RESTORE_SCHEMA)}


def _validate(schema: dict, value: Any, what: str) -> None:
    # The spec's schemas don't forbid extra keys; a typo in an option name
    # must still be an error a person sees, so unknown keys are refused.
    if not isinstance(value, dict):
        raise exception.InvalidInput(
            reason="%s must be an object, not %s" % (what,
                                                     type(value).__name__))
    unknown = sorted(set(value) - set(schema["properties"]))
    if unknown:
        raise exception.InvalidInput(
            reason="unknown %s key(s) %s; allowed: %s" % (
                what, ", ".join(unknown), ", ".join(schema["properties"])))
    errors = sorted(_VALIDATORS[schema["title"]].iter_errors(value),
                    key=lambda e: list(e.path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.path) or what
        raise exception.InvalidInput(reason="%s: %s" % (where, err.message))
    for key in ("snapshot_name", "description", "restore_name",
                "restore_description"):
        if isinstance(value.get(key), str) and len(value[key]) > _MAX_NAME:
            raise exception.InvalidInput(
                reason="%s is longer than %d characters" % (key, _MAX_NAME))


class ManilaShareProtectionPlugin(base.ProtectionPlugin):
    """Protects Manila shares with Manila snapshots."""

    def get_supported_resources_types(self) -> list[str]:
        return [SHARE_RESOURCE_TYPE]

    def get_options_schema(self, resource_type: str) -> dict:
        return copy.deepcopy(OPTIONS_SCHEMA)

    def get_restore_schema(self, resource_type: str) -> dict:
        return copy.deepcopy(RESTORE_SCHEMA)

    def get_saved_info_schema(self, resource_type: str) -> dict:
        return copy.deepcopy(SAVED_INFO_SCHEMA)

    def get_saved_info(self, metadata_store: Any, resource: dict) -> dict:
        """*metadata_store*: the checkpoint dict the engine recorded."""
        return dict(metadata_store.get("saved_info") or {})

    def prepare_protect(self, checkpoint_id: str,
                        options: dict | None) -> dict:
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise exception.InvalidInput(
                reason="options must be an object, not %s"
                       % type(options).__name__)
        filled = {"snapshot_name": ops.tag_name(checkpoint_id),
                  "description": "", "force": False}
        if options:
            # The defaults alone are valid by construction (a checkpoint
            # id is at most 64 characters): only given options are checked.
            filled.update(options)
            _validate(OPTIONS_SCHEMA, filled, "options")
        return filled

    def prepare_restore(self, checkpoint: dict,
                        options: dict | None) -> tuple[dict, dict]:
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise exception.InvalidInput(
                reason="options must be an object, not %s"
                       % type(options).__name__)
        # A null where the schema's default is null means "omitted".
        options = {k: v for k, v in options.items()
                   if not (v is None and k in RESTORE_SCHEMA["properties"]
                           and RESTORE_SCHEMA["properties"][k].get(
                               "default", 0) is None)}
        _validate(RESTORE_SCHEMA, options, "restore options")
        source = (checkpoint.get("saved_info") or {}).get("share_id")
        if options.get("share_id") and options["share_id"] == source:
            target = {"share_id": source, "mode": "revert"}
        else:
            target = {"share_id": None, "mode": "new"}
        return options, target

    def get_protect_operation(self, resource: dict) -> base.Operation:
        return ops.ProtectShare()

    def get_restore_operation(self, resource: dict) -> base.Operation:
        return ops.RestoreShare()

    def get_delete_operation(self, resource: dict) -> base.Operation:
        return ops.DeleteSnapshot()
