"""How ``share-worker-ctl`` shows things: aligned tables and ``key: value``
lines for people, JSON for programs::

    printer = Printer(sys.stdout, sys.stderr, as_json=False)
    printer.table(checkpoints, CHECKPOINT_COLUMNS)
    printer.record(checkpoint)
    printer.event(event)      # watch: one line (one JSON object) per event

With ``--json`` stdout carries exactly one JSON document per command (one
object per line for ``watch``); progress lines go to stderr.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, TextIO


class Event(NamedTuple):
    """A status notification as received."""

    event_type: str
    priority: str
    publisher_id: str
    timestamp: str
    payload: dict

    def as_dict(self) -> dict:
        return self._asdict()


#: (header, dotted path in the record)
CHECKPOINT_COLUMNS = (("ID", "id"), ("RESOURCE TYPE", "resource.type"),
                      ("RESOURCE ID", "resource.id"), ("STATUS", "status"),
                      ("TRIGGER", "trigger"), ("CREATED", "created_at"))
RESTORE_COLUMNS = (("ID", "id"), ("CHECKPOINT", "checkpoint_id"),
                   ("STATUS", "status"), ("MODE", "target.mode"),
                   ("TARGET SHARE", "target.share_id"),
                   ("CREATED", "created_at"))
RESOURCE_COLUMNS = (("TYPE", "type"), ("ID", "id"), ("NAME", "name"))
TYPE_COLUMNS = (("TYPE", "name"),)
SCHEMA_COLUMNS = (("PROPERTY", "name"), ("TYPE", "type"),
                  ("DEFAULT", "default"), ("REQUIRED", "required"),
                  ("DESCRIPTION", "description"))
POLICY_COLUMNS = (("ID", "id"), ("NAME", "name"), ("ENABLED", "enabled"),
                  ("RESOURCES", "resources"), ("SCHEDULE", "schedule"),
                  ("RETENTION", "retention"), ("NEXT RUN", "next_run_at"))


def lookup(record: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def text(value: Any) -> str:
    """One value for a person: ``-`` for nothing, JSON for the rest."""
    if value is None or value == {} or value == []:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return json.dumps(value, sort_keys=True)


def flatten(record: dict, prefix: str = "") -> list[tuple[str, str]]:
    """``(dotted key, text)`` pairs, nested objects spelled out."""
    lines: list[tuple[str, str]] = []
    for key, value in record.items():
        name = prefix + str(key)
        if isinstance(value, dict) and value:
            lines.extend(flatten(value, name + "."))
        else:
            lines.append((name, text(value)))
    return lines


def table_lines(rows: Sequence[dict],
                columns: Sequence[tuple[str, str]]) -> list[str]:
    cells = [[header for header, _ in columns]]
    cells += [[text(lookup(row, path)) for _, path in columns]
              for row in rows]
    widths = [max(len(line[i]) for line in cells)
              for i in range(len(columns))]
    return ["  ".join(cell.ljust(width) for cell, width
                      in zip(line, widths, strict=True)).rstrip()
            for line in cells]


def record_lines(record: dict) -> list[str]:
    pairs = flatten(record)
    width = max((len(key) for key, _ in pairs), default=0)
    return ["%s  %s" % ((key + ":").ljust(width + 1), value)
            for key, value in pairs]


def policy_row(policy: dict) -> dict:
    """A policy with its resources, schedule and retention in words, for
    a table row."""
    resources = policy.get("resources") or {}
    if "share_ids" in resources:
        what = "shares " + text(resources["share_ids"])
    elif "metadata" in resources:
        what = "metadata " + ", ".join(
            "%s=%s" % pair for pair in sorted(resources["metadata"].items()))
    else:
        what = "all shares" if resources.get("all_shares") else None
    schedule = policy.get("schedule") or {}
    if "interval_seconds" in schedule:
        when = "every %ss" % schedule["interval_seconds"]
    elif "cron" in schedule:
        when = "%s %s" % (schedule["cron"], schedule.get("timezone") or "UTC")
    else:
        when = None
    retention = policy.get("retention") or {}
    keep = ", ".join(label % retention[key] for key, label in (
        ("max_count", "max %s"), ("max_age_seconds", "max age %ss"))
        if retention.get(key) is not None)
    return dict(policy, resources=what, schedule=when, retention=keep or None)


def event_line(event: Event) -> str:
    payload = event.payload
    parts = [event.timestamp or "-", event.event_type,
             text(payload.get("id")), text(payload.get("status"))]
    if event.event_type.startswith("share_worker.restore."):
        parts.append("checkpoint=%s" % text(payload.get("checkpoint_id")))
        share = lookup(payload, "target.share_id")
        if share:
            parts.append("share=%s" % share)
    error = payload.get("error")
    if isinstance(error, dict):
        parts.append("error=%s: %s" % (error.get("code"),
                                       error.get("message")))
    return "  ".join(parts)


class Printer:
    """Writes results to *out*, progress and errors to *err*."""

    def __init__(self, out: TextIO, err: TextIO, as_json: bool) -> None:
        self.out = out
        self.err = err
        self.as_json = as_json

    def _write(self, stream: TextIO, lines: Sequence[str]) -> None:
        for line in lines:
            print(line, file=stream)
        stream.flush()

    def json(self, document: Any) -> None:
        self._write(self.out, [json.dumps(document, indent=2,
                                          sort_keys=True)])

    def record(self, record: dict) -> None:
        if self.as_json:
            self.json(record)
        else:
            self._write(self.out, record_lines(record))

    def table(self, rows: Sequence[dict],
              columns: Sequence[tuple[str, str]]) -> None:
        if self.as_json:
            self.json(list(rows))
        else:
            self._write(self.out, table_lines(rows, columns))

    def event(self, event: Event) -> None:
        """A watched event: the command's output."""
        if self.as_json:
            self._write(self.out, [json.dumps(event.as_dict(),
                                              sort_keys=True)])
        else:
            self._write(self.out, [event_line(event)])

    def progress(self, message: str) -> None:
        """A line about what is going on: stdout for people, stderr when
        stdout is for a program."""
        self._write(self.err if self.as_json else self.out, [message])

    def note(self, message: str) -> None:
        """A line that never belongs in the output (stderr)."""
        self._write(self.err, [message])

    def error(self, message: str) -> None:
        self._write(self.err, ["error: %s" % message])
