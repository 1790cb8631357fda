"""Protection policies in ``share-worker-ctl`` (contract 1.1, DESIGN
section 3.1): ``policy create|show|list|update|delete``::

    share-worker-ctl policy create nightly --all-shares \\
        --cron "30 2 * * *" --timezone Europe/Paris --max-count 7 \\
        --trigger share.create.end
    share-worker-ctl policy create hourly --share SHARE_ID --interval 3600
    share-worker-ctl policy create gold --metadata tier=gold --disabled
    share-worker-ctl policy create --from-json policy.json
    share-worker-ctl policy list --name nightly
    share-worker-ctl policy update POLICY_ID --disable --no-retention
    share-worker-ctl policy delete POLICY_ID

``create`` builds the policy from ``--from-json`` (a file, ``-`` for
stdin) and the options, the options winning; ``update`` sends only the
fields given. A field is replaced as a whole: ``--max-count`` alone sets
a retention without ``max_age_seconds``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from share_worker.cmd.ctl_output import POLICY_COLUMNS, policy_row
from share_worker.cmd.ctl_policy_args import (
    add_policy_arguments,
    policy_document,
    usage,
)
from share_worker.cmd.ctl_session import (
    Command,
    Session,
    add_all_projects_argument,
    add_json_flag,
    add_paging_arguments,
)

#: the policy record's fields in the order people read them
FIELDS = ("id", "name", "project_id", "enabled", "resources", "schedule",
          "retention", "options", "triggers", "next_run_at", "created_at",
          "updated_at")


# -- output -------------------------------------------------------------------

def _print_policy(session: Session, policy: dict) -> None:
    ordered = {key: policy[key] for key in FIELDS if key in policy}
    ordered.update(policy)
    session.printer.record(ordered)


def _print_policies(session: Session, policies: list[dict]) -> None:
    if session.printer.as_json:
        session.printer.json(policies)
    else:
        session.printer.table([policy_row(p) for p in policies],
                              POLICY_COLUMNS)


# -- actions ------------------------------------------------------------------

def _configure_create(parser: argparse.ArgumentParser) -> None:
    add_policy_arguments(parser, update=False)


def _create(session: Session, args: argparse.Namespace) -> None:
    policy = policy_document(args)
    missing = [what for field, what in (("name", "NAME"),
                                        ("resources", "--share, "
                                         "--all-shares or --metadata"))
               if field not in policy]
    if missing:
        raise usage("policy create needs %s (or the field in --from-json)"
                    % " and ".join(missing))
    _print_policy(session, session.api.create_policy(session.context(),
                                                     policy))


def _configure_id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("policy_id", metavar="POLICY_ID")


def _show(session: Session, args: argparse.Namespace) -> None:
    _print_policy(session, session.api.show_policy(session.context(),
                                                   args.policy_id))


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="only the policies of this name")
    parser.add_argument("--project-id", dest="filter_project",
                        metavar="PROJECT_ID",
                        help="only the policies of this project (with "
                             "--all-projects; not the request's --project)")
    add_all_projects_argument(parser, "policies")
    add_paging_arguments(parser, "policy", "policies")


def _list(session: Session, args: argparse.Namespace) -> None:
    filters = {key: value for key, value in (("name", args.name),
                                             ("project_id",
                                              args.filter_project))
               if value is not None}
    if args.all_projects:
        filters["all_projects"] = True
    _print_policies(session, session.api.list_policies(
        session.context(), filters or None, args.limit, args.marker))


def _configure_update(parser: argparse.ArgumentParser) -> None:
    _configure_id(parser)
    add_policy_arguments(parser, update=True)


def _update(session: Session, args: argparse.Namespace) -> None:
    changes = policy_document(args)
    if not changes:
        raise usage("policy update needs at least one change (see "
                    "share-worker-ctl policy update --help)")
    _print_policy(session, session.api.update_policy(
        session.context(), args.policy_id, changes))


def _delete(session: Session, args: argparse.Namespace) -> None:
    session.api.delete_policy(session.context(), args.policy_id)
    if session.printer.as_json:
        session.printer.json({"policy_id": args.policy_id, "deleted": True})
    else:
        session.printer.progress("policy %s deleted (its checkpoints stay)"
                                 % args.policy_id)


Action = Callable[[Session, argparse.Namespace], None]
#: action -> (help, configure, run)
ACTIONS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                         Action]] = {
    "create": ("create a protection policy", _configure_create, _create),
    "show": ("show a policy", _configure_id, _show),
    "list": ("list the project's policies", _configure_list, _list),
    "update": ("change some fields of a policy", _configure_update,
               _update),
    "delete": ("delete a policy (its checkpoints stay)", _configure_id,
               _delete),
}


def _configure_policy(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION",
                                    required=True)
    for name, (help_text, configure, _) in ACTIONS.items():
        sub = actions.add_parser(name, help=help_text,
                                 description=help_text)
        add_json_flag(sub)
        configure(sub)


def _run_policy(session: Session, args: argparse.Namespace) -> int:
    ACTIONS[args.action][2](session, args)
    return 0


COMMANDS: dict[str, Command] = {
    "policy": Command("protection policies: create, show, list, update, "
                      "delete", _configure_policy, _run_policy),
}
