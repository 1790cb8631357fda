"""When a protection policy's scheduled runs fall due (DESIGN 3.1).

Datetimes in and out are naive UTC, as the store keeps them; ``now`` is
always passed in::

    >>> from datetime import datetime, timedelta
    >>> from share_worker.scheduler import schedule
    >>> daily = schedule.validate_schedule({"cron": "30 2 * * *",
    ...                                     "timezone": "Europe/Paris"})
    >>> schedule.next_run(daily, datetime(2026, 1, 10, 12, 0))
    datetime.datetime(2026, 1, 11, 1, 30)
    >>> run_due, new_next = schedule.plan_tick(
    ...     daily, next_run_at=datetime(2026, 1, 11, 1, 30),
    ...     now=datetime(2026, 1, 11, 1, 31),
    ...     catchup_window=timedelta(minutes=10))
    >>> run_due
    datetime.datetime(2026, 1, 11, 1, 30)
    >>> new_next
    datetime.datetime(2026, 1, 12, 1, 30)

Cron schedules are read in the schedule's time zone, and every wall-clock
time the expression matches fires exactly once:

- a matched time that does not exist (spring forward, e.g. 02:30 in Paris
  on the last Sunday of March) fires once, at the end of the gap (03:00
  local), as traditional cron runs skipped jobs right after the change;
  several matches in one gap collapse into that single run;
- a matched time that exists twice (fall back) fires at its first
  occurrence only. So ``0 * * * *`` leaves a two-hour gap on that night;
  use ``interval_seconds`` for "every N hours of real time".

Interval schedules tick at ``anchor + k * interval_seconds`` for every
integer k (the anchor is the policy's creation time; the Unix epoch when
none is given), so ticks stay aligned however late a run starts.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from share_worker import exception

DEFAULT_TIMEZONE = "UTC"
# 100 years: longer intervals are surely mistakes and would overflow
# ``datetime`` arithmetic for anchors far from now.
MAX_INTERVAL_SECONDS = 100 * 365 * 86400

_CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_KEYS = ("cron", "timezone", "interval_seconds")
# Names a system tz database may hold that are not portable IANA zones:
# they mean different things on different machines, or count leap seconds.
_MACHINE_ZONES = ("localtime", "posixrules")
_MACHINE_PREFIXES = ("posix/", "right/")
_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_PROBE_START = dt.datetime(2000, 1, 1)  # a leap year: "0 0 29 2 *" matches
# Matches skipped while walking through a repeated (fall-back) stretch;
# one day of every-minute matches is far more than any zone repeats.
_MAX_STEPS = 2 * 24 * 60


def _invalid(reason: str) -> exception.InvalidInput:
    return exception.InvalidInput(reason=reason)


def validate_schedule(value: object) -> dict | None:
    """Return ``value`` normalised, or raise InvalidInput naming the fault.

    Accepts None (no schedule), ``{"cron": "<5 fields>", "timezone":
    "<IANA name>"}`` (timezone missing or null means "UTC") or
    ``{"interval_seconds": N}`` with an int 1 <= N <= MAX_INTERVAL_SECONDS.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid("schedule: must be null or an object, got %s"
                       % type(value).__name__)
    unknown = sorted(str(key) for key in value if key not in _KEYS)
    if unknown:
        raise _invalid("schedule: unknown field(s) %s; allowed: %s"
                       % (", ".join(unknown), ", ".join(_KEYS)))
    if "cron" in value and "interval_seconds" in value:
        raise _invalid("schedule: give either cron or interval_seconds, "
                       "not both")
    if "interval_seconds" in value:
        if "timezone" in value:
            raise _invalid("schedule.timezone: only a cron schedule takes a "
                           "time zone, not an interval_seconds one")
        return {"interval_seconds": _interval(value["interval_seconds"])}
    if "cron" in value:
        return {"cron": _cron(value["cron"]),
                "timezone": _timezone(value.get("timezone"))}
    raise _invalid("schedule: needs cron or interval_seconds "
                   "(or null for no schedule)")


def _interval(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid("schedule.interval_seconds: must be an integer, got "
                       "%s %r" % (type(value).__name__, value))
    if value < 1:
        raise _invalid("schedule.interval_seconds: must be >= 1, got %d"
                       % value)
    if value > MAX_INTERVAL_SECONDS:
        raise _invalid("schedule.interval_seconds: must be at most %d "
                       "(100 years), got %d" % (MAX_INTERVAL_SECONDS, value))
    return value


def _cron(value: object) -> str:
    if not isinstance(value, str):
        raise _invalid("schedule.cron: must be a string, got %s"
                       % type(value).__name__)
    fields = value.split()
    if len(fields) != len(_CRON_FIELDS):
        raise _invalid("schedule.cron: %r must have 5 fields (%s), got %d"
                       % (value, " ".join(_CRON_FIELDS), len(fields)))
    for name, field in zip(_CRON_FIELDS, fields, strict=True):
        if any(part[:1].lower() in ("h", "r") for part in field.split(",")):
            raise _invalid("schedule.cron: %r: %s field %r: hashed (H) and "
                           "random (R) values are not supported"
                           % (value, name, field))
    expr = " ".join(fields)
    try:
        croniter(expr, _PROBE_START).get_next(dt.datetime)
    except CroniterBadDateError:
        raise _invalid("schedule.cron: %r never matches any date"
                       % value) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise _invalid("schedule.cron: %r is not a valid cron expression%s: "
                       "%s" % (value, _bad_field(fields), exc)) from None
    return expr


def _bad_field(fields: list[str]) -> str:
    """`` (hour field '24')`` for the first field invalid on its own."""
    for index, (name, field) in enumerate(zip(_CRON_FIELDS, fields,
                                              strict=True)):
        alone = ["*"] * len(_CRON_FIELDS)
        alone[index] = field
        if not croniter.is_valid(" ".join(alone)):
            return " (%s field %r)" % (name, field)
    return ""


def _timezone(value: object) -> str:
    if value is None:
        return DEFAULT_TIMEZONE
    if not isinstance(value, str):
        raise _invalid("schedule.timezone: must be an IANA time zone name "
                       "such as 'Europe/Paris', got %s"
                       % type(value).__name__)
    if value in _MACHINE_ZONES or value.startswith(_MACHINE_PREFIXES):
        raise _invalid("schedule.timezone: %r is not a portable IANA time "
                       "zone name; use one such as 'Europe/Paris'" % value)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _invalid("schedule.timezone: unknown time zone %r"
                       % value) from None
    return value


#: the firings of a cron looked at for its shortest period, and how far
_PERIOD_FIRINGS = 3000
_PERIOD_SPAN = dt.timedelta(days=400)


def shortest_period(schedule: dict, below: float = 0.0) -> float:
    """The shortest time in seconds between two runs of *schedule* (one
    :func:`validate_schedule` returned): its interval, or the smallest
    gap between a cron's firings over about a year (it stops early at a
    gap under *below*)."""
    if "interval_seconds" in schedule:
        return float(schedule["interval_seconds"])
    walk = croniter(schedule["cron"], _PROBE_START)
    last = walk.get_next(dt.datetime)
    shortest = float("inf")
    end = last + _PERIOD_SPAN
    for _ in range(_PERIOD_FIRINGS):
        when = walk.get_next(dt.datetime)
        shortest = min(shortest, (when - last).total_seconds())
        if shortest < below or when > end:
            break
        last = when
    return shortest


def next_run(schedule: dict | None, after: dt.datetime,
             anchor: dt.datetime | None = None) -> dt.datetime | None:
    """Return the schedule's first tick strictly after ``after``.

    ``schedule`` is one :func:`validate_schedule` returned; None gives
    None. ``anchor`` (the policy's creation time) aligns interval ticks and
    is ignored by cron schedules. All datetimes are naive UTC.
    """
    if schedule is None:
        return None
    _require_naive("after", after)
    if "interval_seconds" in schedule:
        if anchor is None:
            anchor = _EPOCH
        _require_naive("anchor", anchor)
        return _next_interval(schedule["interval_seconds"], after, anchor)
    zone = ZoneInfo(schedule.get("timezone") or DEFAULT_TIMEZONE)
    return _next_cron(schedule["cron"], zone, after)


def plan_tick(schedule: dict | None, next_run_at: dt.datetime | None,
              now: dt.datetime, catchup_window: dt.timedelta,
              anchor: dt.datetime | None = None
              ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Decide what a scheduler does at ``now``: ``(run_due, new_next)``.

    - no schedule: ``(None, None)``;
    - ``next_run_at`` None (a schedule just set): nothing due, the next
      tick is the first one after ``now``;
    - ``next_run_at`` after ``now``: nothing due, ``next_run_at`` kept;
    - due and at most ``catchup_window`` late: run once for that tick
      (``run_due == next_run_at``);
    - due and later than that: the ticks older than the window are
      skipped; the first tick inside the window (``now`` minus
      ``catchup_window`` up to ``now``), if there is one, runs once.

    When a tick was due, the new ``next_run_at`` is the first tick strictly
    after ``now``, so a worker that was down for many ticks runs at most
    one catch-up, never a storm. Claim the tick by compare-and-swap on the
    stored ``next_run_at`` before running it.
    """
    if catchup_window < dt.timedelta(0):
        raise ValueError("catchup_window must not be negative, got %s"
                         % catchup_window)
    if schedule is None:
        return None, None
    _require_naive("now", now)
    if next_run_at is None:
        return None, next_run(schedule, now, anchor)
    _require_naive("next_run_at", next_run_at)
    if next_run_at > now:
        return None, next_run_at
    following = next_run(schedule, now, anchor)
    if now - next_run_at > catchup_window:
        next_run_at = next_run(schedule, now - catchup_window - _MICROSECOND,
                               anchor)
        if next_run_at > now:             # no tick inside the window
            return None, following
    return next_run_at, following


def _require_naive(name: str, value: dt.datetime) -> None:
    if not isinstance(value, dt.datetime) or value.tzinfo is not None:
        raise ValueError("%s must be a naive UTC datetime, got %r"
                         % (name, value))


def _next_interval(seconds: int, after: dt.datetime,
                   anchor: dt.datetime) -> dt.datetime:
    # Integer microseconds: no float rounding, no drift.
    step = seconds * 1_000_000
    ticks = (after - anchor) // _MICROSECOND // step + 1
    return anchor + dt.timedelta(microseconds=ticks * step)


def _next_cron(expr: str, zone: ZoneInfo,
               after: dt.datetime) -> dt.datetime:
    # croniter walks naive datetimes as plain wall-clock arithmetic (no
    # DST); each wall time it yields is then placed on the UTC line.
    local = after.replace(tzinfo=_UTC).astimezone(zone).replace(tzinfo=None)
    walls = croniter(expr, local)
    for _ in range(_MAX_STEPS):
        instant = _wall_to_utc(walls.get_next(dt.datetime), zone)
        # After a fall back, wall times just past ``local`` can still
        # map (first occurrence) to instants before ``after``.
        if instant > after:
            return instant
    raise RuntimeError("no tick of %r found after %s in %s"
                       % (expr, after, zone.key))


def _wall_to_utc(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Naive UTC instant of a local wall time: its first occurrence if it is
    repeated, the end of the gap if it is skipped."""
    # PEP 495: fold=0 is the earlier occurrence of a repeated time; for a
    # skipped time it applies the pre-transition offset (lands past it).
    late = wall.replace(tzinfo=zone, fold=0).astimezone(_UTC)
    if late.astimezone(zone).replace(tzinfo=None) == wall:
        return late.replace(tzinfo=None)
    early = wall.replace(tzinfo=zone, fold=1).astimezone(_UTC)
    return _transition(early, late, zone).replace(tzinfo=None)


def _transition(before: dt.datetime, after: dt.datetime,
                zone: ZoneInfo) -> dt.datetime:
    """First second in (before, after] whose UTC offset differs from
    before's (tz transitions fall on whole seconds)."""
    offset = before.astimezone(zone).utcoffset()
    low = int(before.timestamp())
    high = int(after.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        probe = dt.datetime.fromtimestamp(mid, _UTC)
        if probe.astimezone(zone).utcoffset() == offset:
            low = mid
        else:
            high = mid
    return dt.datetime.fromtimestamp(high, _UTC)
