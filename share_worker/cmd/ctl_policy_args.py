"""What ``share-worker-ctl policy create|update`` options turn into: the
policy document (or the changes) sent to the worker::

    add_policy_arguments(parser, update=False)
    args = parser.parse_args(["nightly", "--all-shares", "--interval",
                              "3600", "--max-count", "24"])
    policy_document(args)
    # {"name": "nightly", "resources": {"all_shares": True},
    #  "schedule": {"interval_seconds": 3600},
    #  "retention": {"max_count": 24}}

Only the fields given are in the document; ``--from-json`` gives a
starting document that the options override field by field (``--option``
entries merge into its options). What argparse can't refuse (``--timezone``
without ``--cron``, a bad ``--from-json``) raises a usage
:class:`CtlError` (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys

from share_worker.cmd.ctl_session import (
    USAGE_OR_TIMEOUT,
    CtlError,
    add_options_arguments,
    positive_int,
    string_pair,
)


def usage(message: str) -> CtlError:
    return CtlError(message, USAGE_OR_TIMEOUT)


def add_policy_arguments(parser: argparse.ArgumentParser,
                          update: bool) -> None:
    if update:
        parser.add_argument("--name", help="rename the policy")
    else:
        parser.add_argument("name", metavar="NAME", nargs="?",
                            help="the policy's name (or \"name\" in "
                                 "--from-json)")
    what = parser.add_argument_group(
        "resources", "exactly one kind; replaces the policy's resources"
        if update else "exactly one kind")
    kinds = what.add_mutually_exclusive_group()
    kinds.add_argument("--share", dest="share_ids", metavar="SHARE_ID",
                       action="append", help="a share to protect, "
                       "repeatable")
    kinds.add_argument("--all-shares", action="store_true", default=None,
                       help="every share of the project")
    kinds.add_argument("--metadata", dest="metadata_pairs",
                       metavar="KEY=VALUE", type=string_pair,
                       action="append", help="shares whose Manila metadata "
                       "holds this pair, repeatable (all pairs must match)")
    when = parser.add_argument_group("schedule")
    schedules = when.add_mutually_exclusive_group()
    schedules.add_argument("--cron", metavar="EXPR",
                           help="a 5-field cron expression")
    schedules.add_argument("--interval", type=positive_int,
                           metavar="SECONDS",
                           help="run every SECONDS from the policy's "
                                "creation")
    if update:
        schedules.add_argument("--no-schedule", action="store_true",
                               help="no schedule (events only)")
    when.add_argument("--timezone", metavar="TZ",
                      help="the cron expression's IANA time zone "
                           "(default UTC)")
    keep = parser.add_argument_group(
        "retention", "--max-count and --max-age replace the retention "
        "together" if update else None)
    keep.add_argument("--max-count", type=positive_int, metavar="N",
                      help="keep at most N available checkpoints per share")
    keep.add_argument("--max-age", type=positive_int, metavar="SECONDS",
                      help="delete checkpoints older than SECONDS (never "
                           "a share's newest)")
    if update:
        keep.add_argument("--no-retention", action="store_true",
                          help="keep every checkpoint")
    add_options_arguments(parser, "protect")
    parser.add_argument("--trigger", dest="triggers", metavar="EVENT",
                        action="append",
                        help="a Manila event that protects the share at "
                             "once, repeatable (share.create.end, "
                             "share.extend.end, share.shrink.end)")
    if update:
        parser.add_argument("--no-triggers", action="store_true",
                            help="no Manila event triggers the policy")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", dest="enabled", action="store_true",
                           default=None, help="run it again")
        state.add_argument("--disable", "--disabled", dest="enabled",
                           action="store_false", default=None,
                           help="stop its scheduled runs and events")
    else:
        parser.add_argument("--disabled", dest="enabled",
                            action="store_false", default=None,
                            help="create it disabled (no scheduled runs, "
                                 "no events)")
    parser.add_argument("--from-json", dest="from_json", metavar="FILE",
                        help="the %s as a JSON object, from FILE or - for "
                             "stdin; the options above win"
                        % ("changes" if update else "policy"))


def _read_document(source: str | None) -> dict:
    if source is None:
        return {}
    try:
        if source == "-":
            document = json.load(sys.stdin)
        else:
            with open(source, encoding="utf-8") as f:
                document = json.load(f)
    except OSError as e:
        raise usage("--from-json %s: %s" % (source, e.strerror or e)) from e
    except ValueError as e:
        raise usage("--from-json %s: not JSON: %s" % (source, e)) from e
    if not isinstance(document, dict):
        raise usage("--from-json %s: expected a JSON object, not %s"
                    % (source, type(document).__name__))
    return document


def _resources(args: argparse.Namespace) -> dict | None:
    if args.share_ids:
        return {"share_ids": list(args.share_ids)}
    if args.all_shares:
        return {"all_shares": True}
    if args.metadata_pairs:
        return {"metadata": dict(args.metadata_pairs)}
    return None


def _schedule(args: argparse.Namespace) -> tuple[bool, dict | None]:
    """(given, schedule)."""
    if args.timezone is not None and args.cron is None:
        raise usage("--timezone needs --cron")
    if args.cron is not None:
        schedule = {"cron": args.cron}
        if args.timezone is not None:
            schedule["timezone"] = args.timezone
        return True, schedule
    if args.interval is not None:
        return True, {"interval_seconds": args.interval}
    return bool(getattr(args, "no_schedule", False)), None


def _retention(args: argparse.Namespace) -> tuple[bool, dict | None]:
    """(given, retention)."""
    limits = {key: value for key, value in (("max_count", args.max_count),
                                            ("max_age_seconds",
                                             args.max_age))
              if value is not None}
    if getattr(args, "no_retention", False):
        if limits:
            raise usage("--no-retention cannot go with --max-count or "
                        "--max-age")
        return True, None
    return bool(limits), limits or None


def _triggers(args: argparse.Namespace) -> list[str] | None:
    if getattr(args, "no_triggers", False):
        if args.triggers:
            raise usage("--no-triggers cannot go with --trigger")
        return []
    return list(args.triggers) if args.triggers else None


def policy_document(args: argparse.Namespace) -> dict:
    """The fields the command line gives, over ``--from-json``'s."""
    document = _read_document(args.from_json)
    if args.name is not None:
        document["name"] = args.name
    resources = _resources(args)
    if resources is not None:
        document["resources"] = resources
    for field, (given, value) in (("schedule", _schedule(args)),
                                  ("retention", _retention(args))):
        if given:
            document[field] = value
    if args.option_pairs or args.options_json is not None:
        options = document.get("options")
        options = dict(options) if isinstance(options, dict) else {}
        options.update(args.options_json or {})
        options.update(args.option_pairs)
        document["options"] = options
    triggers = _triggers(args)
    if triggers is not None:
        document["triggers"] = triggers
    if args.enabled is not None:
        document["enabled"] = args.enabled
    return document
