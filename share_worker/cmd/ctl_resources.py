"""What ``share-worker-ctl`` can protect: ``protectables`` and
``schemas``::

    share-worker-ctl protectables                   # the types
    share-worker-ctl protectables instances         # the project's shares
    share-worker-ctl protectables show SHARE_ID
    share-worker-ctl protectables dependents        # of the caller's project
    share-worker-ctl protectables type OS::Keystone::Project
    share-worker-ctl schemas OS::Manila::Share      # options, restore, ...
"""

from __future__ import annotations

import argparse

from share_worker.cmd.ctl_output import (
    RESOURCE_COLUMNS,
    SCHEMA_COLUMNS,
    TYPE_COLUMNS,
)
from share_worker.cmd.ctl_session import (
    Command,
    Session,
    add_json_flag,
    json_pair,
)

SHARE = "OS::Manila::Share"
PROJECT = "OS::Keystone::Project"
SCHEMA_NAMES = ("options_schema", "restore_schema", "saved_info_schema")


def _types(session: Session, args: argparse.Namespace) -> None:
    types = session.api.list_protectable_types(session.context())
    session.printer.table([{"name": name} for name in types], TYPE_COLUMNS)


def _type(session: Session, args: argparse.Namespace) -> None:
    session.printer.record(session.api.show_protectable_type(
        session.context(), args.resource_type))


def _instances(session: Session, args: argparse.Namespace) -> None:
    rows = session.api.list_protectable_instances(
        session.context(), args.resource_type,
        dict(args.parameter_pairs) or None)
    session.printer.table(rows, RESOURCE_COLUMNS)


def _show(session: Session, args: argparse.Namespace) -> None:
    session.printer.record(session.api.show_protectable_instance(
        session.context(), args.resource_type, args.resource_id))


def _dependents(session: Session, args: argparse.Namespace) -> None:
    ctxt = session.context()
    rows = session.api.list_protectable_dependents(
        ctxt, args.resource_type, args.resource_id or ctxt.project_id)
    session.printer.table(rows, RESOURCE_COLUMNS)


def _type_argument(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--type", dest="resource_type", default=default,
                        help="resource type (default %(default)s)")


def _configure_instances(parser: argparse.ArgumentParser) -> None:
    _type_argument(parser, SHARE)
    parser.add_argument(
        "--parameter", "-p", dest="parameter_pairs", metavar="KEY=VALUE",
        type=json_pair, action="append", default=[],
        help="a listing parameter, repeatable, VALUE read as JSON when it "
             "parses (status=available, metadata='{\"tier\": \"gold\"}')")


def _configure_show(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resource_id", metavar="RESOURCE_ID")
    _type_argument(parser, SHARE)


def _configure_dependents(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resource_id", metavar="PARENT_ID", nargs="?",
                        help="the parent resource (default: the caller's "
                             "project)")
    _type_argument(parser, PROJECT)


def _configure_type(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resource_type", metavar="RESOURCE_TYPE")


#: action -> (help, configure, run)
ACTIONS = {
    "types": ("list the protectable types (the default)", None, _types),
    "type": ("show a type and the types that depend on it",
             _configure_type, _type),
    "instances": ("list the resources of a type", _configure_instances,
                  _instances),
    "show": ("show one resource", _configure_show, _show),
    "dependents": ("list the resources that depend on a parent (a "
                   "project's shares)", _configure_dependents, _dependents),
}


def _configure_protectables(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, (help_text, configure, _) in ACTIONS.items():
        sub = actions.add_parser(name, help=help_text,
                                 description=help_text)
        add_json_flag(sub)
        if configure is not None:
            configure(sub)


def _run_protectables(session: Session, args: argparse.Namespace) -> int:
    ACTIONS[args.action or "types"][2](session, args)
    return 0


# -- schemas ------------------------------------------------------------------

def _configure_schemas(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("resource_type", metavar="RESOURCE_TYPE", nargs="?",
                        default=SHARE,
                        help="resource type (default %(default)s)")


def schema_rows(schema: dict) -> list[dict]:
    """One row per property of a JSON Schema object."""
    required = set(schema.get("required") or ())
    return [{"name": name, "type": spec.get("type"),
             "default": spec.get("default"),
             "required": "yes" if name in required else "no",
             "description": spec.get("description") or spec.get("title")}
            for name, spec in (schema.get("properties") or {}).items()]


def _run_schemas(session: Session, args: argparse.Namespace) -> int:
    schemas = session.api.show_plugin_schemas(session.context(),
                                              args.resource_type)
    printer = session.printer
    if printer.as_json:
        printer.json(schemas)
        return 0
    for index, name in enumerate(SCHEMA_NAMES):
        schema = schemas.get(name) or {}
        if index:
            printer.progress("")
        printer.progress("%s: %s" % (name, schema.get("title", "")))
        printer.table(schema_rows(schema), SCHEMA_COLUMNS)
    return 0


COMMANDS = {
    "protectables": Command("what can be protected: types, instances, "
                            "dependents", _configure_protectables,
                            _run_protectables),
    "schemas": Command("a resource type's option, restore and saved-info "
                       "schemas", _configure_schemas, _run_schemas),
}
