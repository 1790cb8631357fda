"""Which checkpoints a protection policy's retention lets go (DESIGN 3.1).

Pure arithmetic over checkpoint dicts of ONE policy and ONE share; ``now``
is passed in and datetimes are naive UTC, as the store keeps them::

    >>> from datetime import datetime
    >>> from share_worker.scheduler import retention
    >>> keep = retention.validate_retention({"max_count": 2})
    >>> keep
    {'max_count': 2, 'max_age_seconds': None}
    >>> checkpoints = [
    ...     {"id": "c1", "status": "available",
    ...      "created_at": datetime(2026, 1, 1)},
    ...     {"id": "c2", "status": "available",
    ...      "created_at": datetime(2026, 1, 2)},
    ...     {"id": "c3", "status": "error",
    ...      "created_at": datetime(2026, 1, 3)},
    ...     {"id": "c4", "status": "available",
    ...      "created_at": datetime(2026, 1, 4)},
    ... ]
    >>> retention.to_prune(checkpoints, keep, now=datetime(2026, 1, 5))
    ['c1']

Rules, chosen so retention can never destroy the last good copy:

- only ``available`` checkpoints count and only they are ever returned;
  pending (``protecting``), ``error``, ``deleting``... ones neither push a
  good one out nor get pruned here;
- the newest available checkpoint is always kept, even when it is older
  than ``max_age_seconds``;
- at most ``max_count`` available checkpoints are kept, newest first;
- available checkpoints older than ``max_age_seconds`` are pruned (an age
  of exactly ``max_age_seconds`` is kept);
- "newest" orders by ``created_at``, then by ``id``: of two checkpoints
  created at the same instant the one with the greater id counts as newer.

Both limits null (or retention null) keeps everything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from share_worker import exception

AVAILABLE = "available"

_KEYS = ("max_count", "max_age_seconds")
_MICROSECOND = dt.timedelta(microseconds=1)


def validate_retention(value: object) -> dict | None:
    """Return ``value`` normalised, or raise InvalidInput naming the fault.

    Accepts None or an object with ``max_count`` and ``max_age_seconds``,
    each an int >= 1 or null; a missing key means null. Both null is
    accepted and means "keep everything", like a null retention; it is
    returned as given (with both keys), not collapsed to None, so a policy
    shows what its owner set.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise exception.InvalidInput(
            reason="retention: must be null or an object, got %s"
            % type(value).__name__)
    unknown = sorted(str(key) for key in value if key not in _KEYS)
    if unknown:
        raise exception.InvalidInput(
            reason="retention: unknown field(s) %s; allowed: %s"
            % (", ".join(unknown), ", ".join(_KEYS)))
    return {key: _limit(key, value.get(key)) for key in _KEYS}


def _limit(key: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise exception.InvalidInput(
            reason="retention.%s: must be an integer or null, got %s %r"
            % (key, type(value).__name__, value))
    if value < 1:
        raise exception.InvalidInput(
            reason="retention.%s: must be >= 1 (or null for no limit), "
            "got %d" % (key, value))
    return value


def to_prune(checkpoints: Iterable[Mapping], retention: dict | None,
             now: dt.datetime) -> list[str]:
    """Return the ids of the checkpoints to prune, oldest first.

    ``checkpoints`` are dicts with at least ``id``, ``status`` and
    ``created_at`` (naive UTC) of one policy and one share; ``retention``
    is one :func:`validate_retention` returned.
    """
    if now.tzinfo is not None:
        raise ValueError("now must be a naive UTC datetime, got %r" % now)
    if not retention:
        return []
    max_count = retention.get("max_count")
    max_age = retention.get("max_age_seconds")
    if max_count is None and max_age is None:
        return []
    good = sorted((c for c in checkpoints if c["status"] == AVAILABLE),
                  key=lambda c: (c["created_at"], c["id"]))
    # Oldest first; the last one is the newest and is never pruned.
    candidates = good[:-1]
    pruned = set()
    if max_count is not None and len(good) > max_count:
        pruned.update(c["id"] for c in good[:len(good) - max_count])
    if max_age is not None:
        limit = max_age * 1_000_000
        pruned.update(c["id"] for c in candidates
                      if (now - c["created_at"]) // _MICROSECOND > limit)
    return [c["id"] for c in candidates if c["id"] in pruned]
