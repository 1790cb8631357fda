"""Schedule arithmetic: validation, next ticks across DST, missed ticks."""

import doctest
import time
from datetime import datetime as D
from datetime import timedelta, timezone

import pytest

from share_worker import exception
from share_worker.scheduler import schedule
from share_worker.scheduler.schedule import next_run, plan_tick

PARIS_0230 = {"cron": "30 2 * * *", "timezone": "Europe/Paris"}
PARIS_EVERY_4H = {"cron": "0 */4 * * *", "timezone": "Europe/Paris"}
NY_EVERY_4H = {"cron": "0 */4 * * *", "timezone": "America/New_York"}
HOURLY = {"interval_seconds": 3600}
WINDOW = timedelta(minutes=30)


def ticks(sched, after, count, anchor=None):
    """The ``count`` ticks following ``after``, each found from the last."""
    found = []
    for _ in range(count):
        after = next_run(sched, after, anchor)
        found.append(after)
    return found


def test_docstring_example_runs():
    result = doctest.testmod(schedule)
    assert result.attempted > 0
    assert result.failed == 0


# -- validate_schedule: accepted and normalised -----------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None),
    (PARIS_0230, PARIS_0230),
    ({"cron": "0 */4 * * *"}, {"cron": "0 */4 * * *", "timezone": "UTC"}),
    ({"cron": "0 3 * * *", "timezone": None},
     {"cron": "0 3 * * *", "timezone": "UTC"}),
    ({"cron": "  0\t*/4  * *   * ", "timezone": "America/New_York"},
     {"cron": "0 */4 * * *", "timezone": "America/New_York"}),
    ({"cron": "0 9 * * MON-FRI", "timezone": "Asia/Tokyo"},
     {"cron": "0 9 * * MON-FRI", "timezone": "Asia/Tokyo"}),
    ({"cron": "0 0 29 2 *"}, {"cron": "0 0 29 2 *", "timezone": "UTC"}),
    ({"cron": "0 3 * MAR,APR THU"},
     {"cron": "0 3 * MAR,APR THU", "timezone": "UTC"}),
    ({"interval_seconds": 1}, {"interval_seconds": 1}),
    ({"interval_seconds": 3600}, {"interval_seconds": 3600}),
    ({"interval_seconds": schedule.MAX_INTERVAL_SECONDS},
     {"interval_seconds": 3153600000}),
])
def test_validate_accepts_and_normalises(value, expected):
    assert schedule.validate_schedule(value) == expected


def test_validate_returns_a_new_dict():
    value = {"cron": "0 3 * * *"}
    schedule.validate_schedule(value)
    assert value == {"cron": "0 3 * * *"}


# -- validate_schedule: every refusal names the field and the fault ---------

@pytest.mark.parametrize("value, message", [
    ("0 3 * * *", "schedule: must be null or an object, got str"),
    ([3600], "schedule: must be null or an object, got list"),
    ({}, "schedule: needs cron or interval_seconds (or null for no "
         "schedule)"),
    ({"timezone": "UTC"}, "schedule: needs cron or interval_seconds"),
    ({"cron": "0 3 * * *", "tz": "UTC"},
     "schedule: unknown field(s) tz; allowed: cron, timezone, "
     "interval_seconds"),
    ({"interval_seconds": 60, "every": 1, "at": 2},
     "schedule: unknown field(s) at, every;"),
    ({"cron": "0 3 * * *", "interval_seconds": 60},
     "schedule: give either cron or interval_seconds, not both"),
    ({"interval_seconds": 60, "timezone": "UTC"},
     "schedule.timezone: only a cron schedule takes a time zone"),
    ({"interval_seconds": 0}, "schedule.interval_seconds: must be >= 1, "
                              "got 0"),
    ({"interval_seconds": -60}, "schedule.interval_seconds: must be >= 1, "
                                "got -60"),
    ({"interval_seconds": True}, "schedule.interval_seconds: must be an "
                                 "integer, got bool True"),
    ({"interval_seconds": 60.0}, "schedule.interval_seconds: must be an "
                                 "integer, got float 60.0"),
    ({"interval_seconds": "60"}, "schedule.interval_seconds: must be an "
                                 "integer, got str '60'"),
    ({"interval_seconds": None}, "schedule.interval_seconds: must be an "
                                 "integer, got NoneType None"),
    ({"interval_seconds": 3153600001},
     "schedule.interval_seconds: must be at most 3153600000 (100 years), "
     "got 3153600001"),
    ({"cron": 3}, "schedule.cron: must be a string, got int"),
    ({"cron": None}, "schedule.cron: must be a string, got NoneType"),
    ({"cron": ""}, "schedule.cron: '' must have 5 fields (minute hour "
                   "day-of-month month day-of-week), got 0"),
    ({"cron": "0 3 * *"}, "schedule.cron: '0 3 * *' must have 5 fields"),
    ({"cron": "0 0 3 * * *"}, "schedule.cron: '0 0 3 * * *' must have 5 "
                              "fields (minute hour day-of-month month "
                              "day-of-week), got 6"),
    ({"cron": "@daily"}, "schedule.cron: '@daily' must have 5 fields"),
    ({"cron": "61 * * * *"}, "schedule.cron: '61 * * * *' is not a valid "
                             "cron expression (minute field '61'): "),
    ({"cron": "0 24 * * *"}, "schedule.cron: '0 24 * * *' is not a valid "
                             "cron expression (hour field '24'): "),
    ({"cron": "*/0 * * * *"}, "schedule.cron: '*/0 * * * *' is not a "
                              "valid cron expression (minute field '*/0')"),
    ({"cron": "0 0 0 * *"}, "schedule.cron: '0 0 0 * *' is not a valid "
                            "cron expression (day-of-month field '0')"),
    ({"cron": "0 0 * 13 *"}, "schedule.cron: '0 0 * 13 *' is not a valid "
                             "cron expression (month field '13')"),
    ({"cron": "0 0 * * SUN#6"}, "schedule.cron: '0 0 * * SUN#6' is not a "
                                "valid cron expression (day-of-week field "
                                "'SUN#6')"),
    ({"cron": "a b c d e"}, "schedule.cron: 'a b c d e' is not a valid "
                            "cron expression (minute field 'a'): "),
    ({"cron": "0 0 30 2 *"}, "schedule.cron: '0 0 30 2 *' never matches "
                             "any date"),
    ({"cron": "H * * * *"}, "schedule.cron: 'H * * * *': minute field 'H': "
                            "hashed (H) and random (R) values are not "
                            "supported"),
    ({"cron": "0 R * * *"}, "schedule.cron: '0 R * * *': hour field 'R': "
                            "hashed (H) and random (R)"),
    ({"cron": "0 3 * * 1,r(2-4)"}, "schedule.cron: '0 3 * * 1,r(2-4)': "
                                   "day-of-week field '1,r(2-4)'"),
    ({"cron": "0 3 * * *", "timezone": "Mars/Olympus_Mons"},
     "schedule.timezone: unknown time zone 'Mars/Olympus_Mons'"),
    ({"cron": "0 3 * * *", "timezone": "europe/paris"},
     "schedule.timezone: unknown time zone 'europe/paris'"),
    ({"cron": "0 3 * * *", "timezone": "Europe/Paris "},
     "schedule.timezone: unknown time zone 'Europe/Paris '"),
    ({"cron": "0 3 * * *", "timezone": ""},
     "schedule.timezone: unknown time zone ''"),
    ({"cron": "0 3 * * *", "timezone": "Europe"},
     "schedule.timezone: unknown time zone 'Europe'"),
    ({"cron": "0 3 * * *", "timezone": "../../etc/passwd"},
     "schedule.timezone: unknown time zone '../../etc/passwd'"),
    ({"cron": "0 3 * * *", "timezone": "localtime"},
     "schedule.timezone: 'localtime' is not a portable IANA time zone"),
    ({"cron": "0 3 * * *", "timezone": "posixrules"},
     "schedule.timezone: 'posixrules' is not a portable IANA time zone"),
    ({"cron": "0 3 * * *", "timezone": "right/Europe/Paris"},
     "schedule.timezone: 'right/Europe/Paris' is not a portable IANA"),
    ({"cron": "0 3 * * *", "timezone": 1},
     "schedule.timezone: must be an IANA time zone name such as "
     "'Europe/Paris', got int"),
])
def test_validate_refuses(value, message):
    with pytest.raises(exception.InvalidInput) as err:
        schedule.validate_schedule(value)
    assert err.value.to_error()["code"] == "InvalidInput"
    assert err.value.message.startswith("Invalid input: " + message)


# -- next_run: cron ------------------------------------------------------

def test_no_schedule_has_no_next_run():
    assert next_run(None, D(2026, 1, 1)) is None


def test_cron_in_utc_is_strictly_after():
    sched = schedule.validate_schedule({"cron": "0 */4 * * *"})
    assert next_run(sched, D(2026, 1, 1, 5, 0)) == D(2026, 1, 1, 8, 0)
    assert next_run(sched, D(2026, 1, 1, 8, 0)) == D(2026, 1, 1, 12, 0)
    assert next_run(sched, D(2026, 1, 1, 7, 59, 59, 999999)) == \
        D(2026, 1, 1, 8, 0)
    assert next_run(sched, D(2026, 12, 31, 22, 0)) == D(2027, 1, 1, 0, 0)


def test_cron_uses_the_zone_offset_of_the_season():
    # 02:30 Paris is 01:30 UTC in winter (CET) and 00:30 UTC in summer.
    assert next_run(PARIS_0230, D(2026, 1, 10, 12)) == D(2026, 1, 11, 1, 30)
    assert next_run(PARIS_0230, D(2026, 7, 10, 12)) == D(2026, 7, 11, 0, 30)
    tokyo = {"cron": "0 9 * * *", "timezone": "Asia/Tokyo"}
    assert next_run(tokyo, D(2026, 7, 10, 0, 0)) == D(2026, 7, 11, 0, 0)


def test_paris_spring_forward_runs_the_skipped_time_once_at_0300():
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC); 02:30 does
    # not exist that day, so the job runs at 03:00 local, once.
    assert ticks(PARIS_0230, D(2026, 3, 27, 12), 3) == [
        D(2026, 3, 28, 1, 30),   # 02:30 CET
        D(2026, 3, 29, 1, 0),    # 03:00 CEST, end of the gap
        D(2026, 3, 30, 0, 30),   # 02:30 CEST
    ]
    assert next_run(PARIS_0230, D(2026, 3, 29, 0, 59)) == D(2026, 3, 29, 1)
    assert next_run(PARIS_0230, D(2026, 3, 29, 1, 0)) == \
        D(2026, 3, 30, 0, 30)


def test_paris_fall_back_runs_the_repeated_time_once():
    # 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC); 02:30
    # happens twice, at 00:30 and 01:30 UTC. Only the first one runs.
    assert ticks(PARIS_0230, D(2026, 10, 23, 12), 3) == [
        D(2026, 10, 24, 0, 30),  # 02:30 CEST
        D(2026, 10, 25, 0, 30),  # 02:30 CEST, first occurrence
        D(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    # Asked during the second 02:xx (CET), it does not fire again.
    assert next_run(PARIS_0230, D(2026, 10, 25, 1, 15)) == \
        D(2026, 10, 26, 1, 30)


def test_paris_every_4_hours_across_both_changes():
    # Local 00, 04, 08 ... : 3 real hours apart across spring forward,
    # 5 across fall back.
    assert ticks(PARIS_EVERY_4H, D(2026, 3, 28, 18), 4) == [
        D(2026, 3, 28, 19, 0),   # 20:00 CET
        D(2026, 3, 28, 23, 0),   # 00:00 CET
        D(2026, 3, 29, 2, 0),    # 04:00 CEST
        D(2026, 3, 29, 6, 0),    # 08:00 CEST
    ]
    assert ticks(PARIS_EVERY_4H, D(2026, 10, 24, 18), 4) == [
        D(2026, 10, 24, 22, 0),  # 00:00 CEST
        D(2026, 10, 25, 3, 0),   # 04:00 CET
        D(2026, 10, 25, 7, 0),   # 08:00 CET
        D(2026, 10, 25, 11, 0),  # 12:00 CET
    ]


def test_new_york_daily_across_both_changes():
    # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.
    ny_0230 = {"cron": "30 2 * * *", "timezone": "America/New_York"}
    assert ticks(ny_0230, D(2026, 3, 6, 12), 3) == [
        D(2026, 3, 7, 7, 30),    # 02:30 EST
        D(2026, 3, 8, 7, 0),     # 03:00 EDT, end of the gap
        D(2026, 3, 9, 6, 30),    # 02:30 EDT
    ]
    ny_0130 = {"cron": "30 1 * * *", "timezone": "America/New_York"}
    assert ticks(ny_0130, D(2026, 10, 30, 12), 3) == [
        D(2026, 10, 31, 5, 30),  # 01:30 EDT
        D(2026, 11, 1, 5, 30),   # 01:30 EDT; not again at 01:30 EST
        D(2026, 11, 2, 6, 30),   # 01:30 EST
    ]


def test_new_york_every_4_hours_across_both_changes():
    assert ticks(NY_EVERY_4H, D(2026, 3, 7, 23), 3) == [
        D(2026, 3, 8, 1, 0),     # 20:00 EST
        D(2026, 3, 8, 5, 0),     # 00:00 EST
        D(2026, 3, 8, 8, 0),     # 04:00 EDT
    ]
    assert ticks(NY_EVERY_4H, D(2026, 10, 31, 23), 3) == [
        D(2026, 11, 1, 0, 0),    # 20:00 EDT
        D(2026, 11, 1, 4, 0),    # 00:00 EDT
        D(2026, 11, 1, 9, 0),    # 04:00 EST
    ]


def test_hourly_cron_on_spring_forward_neither_skips_nor_doubles():
    # 02:00 does not exist; it collapses onto 03:00 CEST, itself a tick.
    hourly = {"cron": "0 * * * *", "timezone": "Europe/Paris"}
    assert ticks(hourly, D(2026, 3, 28, 23, 30), 3) == [
        D(2026, 3, 29, 0, 0),    # 01:00 CET
        D(2026, 3, 29, 1, 0),    # 03:00 CEST
        D(2026, 3, 29, 2, 0),    # 04:00 CEST
    ]


def test_hourly_cron_on_fall_back_skips_the_repeated_hour():
    # The documented cost of "each wall time once": 01:30 EST is not run.
    ny_hourly = {"cron": "30 * * * *", "timezone": "America/New_York"}
    assert ticks(ny_hourly, D(2026, 11, 1, 4), 3) == [
        D(2026, 11, 1, 4, 30),   # 00:30 EDT
        D(2026, 11, 1, 5, 30),   # 01:30 EDT
        D(2026, 11, 1, 7, 30),   # 02:30 EST
    ]


def test_several_matches_in_one_gap_collapse_into_one_run():
    every_20_min_at_2 = {"cron": "*/20 2 * * *", "timezone": "Europe/Paris"}
    assert ticks(every_20_min_at_2, D(2026, 3, 28, 23), 2) == [
        D(2026, 3, 29, 1, 0),    # 02:00, 02:20, 02:40 -> 03:00 CEST
        D(2026, 3, 30, 0, 0),    # 02:00 CEST the next day
    ]


def test_a_half_hour_dst_gap_ends_at_its_real_end():
    # Lord Howe Island moves 02:00 -> 02:30 (+10:30 -> +11:00).
    lord_howe = {"cron": "15 2 * * *", "timezone": "Australia/Lord_Howe"}
    assert ticks(lord_howe, D(2026, 10, 2, 12), 3) == [
        D(2026, 10, 2, 15, 45),  # 02:15 +10:30
        D(2026, 10, 3, 15, 30),  # 02:30 +11:00, end of the gap
        D(2026, 10, 4, 15, 15),  # 02:15 +11:00
    ]


def test_cron_does_not_depend_on_the_process_time_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert next_run(PARIS_0230, D(2026, 3, 29, 0, 59)) == \
            D(2026, 3, 29, 1, 0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_aware_datetimes_are_refused():
    with pytest.raises(ValueError, match="after must be a naive UTC"):
        next_run(PARIS_0230, D(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="anchor must be a naive UTC"):
        next_run(HOURLY, D(2026, 1, 1), D(2026, 1, 1, tzinfo=timezone.utc))


# -- next_run: intervals -------------------------------------------------

def test_interval_ticks_align_on_the_anchor():
    anchor = D(2026, 1, 1, 0, 0, 7)
    assert next_run(HOURLY, D(2026, 1, 1, 5, 30), anchor) == \
        D(2026, 1, 1, 6, 0, 7)
    # Exactly on a tick: the next one.
    assert next_run(HOURLY, D(2026, 1, 1, 6, 0, 7), anchor) == \
        D(2026, 1, 1, 7, 0, 7)
    assert next_run(HOURLY, D(2026, 1, 1, 6, 0, 6, 999999), anchor) == \
        D(2026, 1, 1, 6, 0, 7)
    # Creation time as ``after``: the first run is one interval later.
    assert next_run(HOURLY, anchor, anchor) == D(2026, 1, 1, 1, 0, 7)


def test_interval_ticks_before_the_anchor_stay_on_its_lattice():
    anchor = D(2026, 1, 1, 0, 0, 7)
    assert next_run(HOURLY, D(2025, 12, 31, 22, 30), anchor) == \
        D(2025, 12, 31, 23, 0, 7)


def test_interval_without_anchor_aligns_on_the_unix_epoch():
    assert next_run(HOURLY, D(2026, 1, 1, 5, 30)) == D(2026, 1, 1, 6, 0)
    weekly = {"interval_seconds": 7 * 86400}
    # 1970-01-01 was a Thursday; so is every tick.
    assert next_run(weekly, D(2026, 1, 5)) == D(2026, 1, 8)


def test_interval_ticks_do_not_drift():
    anchor = D(2026, 1, 1, 0, 0, 0, 250000)
    every_7s = {"interval_seconds": 7}
    assert ticks(every_7s, anchor, 10000, anchor)[-1] == \
        anchor + timedelta(seconds=70000)
    # A late start (worker busy) still lands on the lattice.
    assert next_run(every_7s, D(2026, 1, 1, 0, 0, 9, 1), anchor) == \
        D(2026, 1, 1, 0, 0, 14, 250000)


def test_interval_ignores_dst():
    daily = {"interval_seconds": 86400}
    anchor = D(2026, 3, 1, 1, 30)
    assert ticks(daily, D(2026, 3, 28, 12), 3, anchor) == [
        D(2026, 3, 29, 1, 30), D(2026, 3, 30, 1, 30), D(2026, 3, 31, 1, 30)]


# -- plan_tick -----------------------------------------------------------

def test_plan_without_schedule_does_nothing():
    assert plan_tick(None, None, D(2026, 1, 1), WINDOW) == (None, None)
    assert plan_tick(None, D(2025, 1, 1), D(2026, 1, 1), WINDOW) == \
        (None, None)


def test_plan_for_a_new_schedule_sets_the_first_tick():
    assert plan_tick(PARIS_0230, None, D(2026, 1, 10, 12), WINDOW) == \
        (None, D(2026, 1, 11, 1, 30))


def test_plan_before_the_tick_keeps_it():
    stored = D(2026, 1, 11, 1, 30)
    assert plan_tick(PARIS_0230, stored, D(2026, 1, 11, 1, 29, 59),
                     WINDOW) == (None, stored)


def test_plan_at_the_tick_runs_it():
    stored = D(2026, 1, 11, 1, 30)
    assert plan_tick(PARIS_0230, stored, stored, WINDOW) == \
        (stored, D(2026, 1, 12, 1, 30))


def test_plan_at_the_window_edge():
    stored = D(2026, 1, 11, 1, 30)
    edge = stored + WINDOW
    assert plan_tick(PARIS_0230, stored, edge, WINDOW) == \
        (stored, D(2026, 1, 12, 1, 30))
    assert plan_tick(PARIS_0230, stored, edge + timedelta(microseconds=1),
                     WINDOW) == (None, D(2026, 1, 12, 1, 30))


def test_plan_after_a_long_outage_runs_one_catch_up_not_a_storm():
    # Hourly policy, worker down ten hours, window of a day: one run for
    # the stored tick, then straight to the first tick after now.
    anchor = D(2026, 1, 1)
    stored = D(2026, 1, 5, 2, 0)
    now = D(2026, 1, 5, 12, 10)
    run_due, new_next = plan_tick(HOURLY, stored, now, timedelta(days=1),
                                  anchor)
    assert (run_due, new_next) == (stored, D(2026, 1, 5, 13, 0))
    # Called again at once (another worker, or the next loop turn).
    assert plan_tick(HOURLY, new_next, now, timedelta(days=1), anchor) == \
        (None, D(2026, 1, 5, 13, 0))


def test_plan_runs_the_first_tick_inside_the_window_not_an_older_one():
    # Hourly, stored 02:00, now 12:10, window 30 min: 02:00-11:00 are
    # older than the window and skipped; 12:00 is inside it and runs.
    stored = D(2026, 1, 5, 2, 0)
    assert plan_tick(HOURLY, stored, D(2026, 1, 5, 12, 10), WINDOW) == \
        (D(2026, 1, 5, 12, 0), D(2026, 1, 5, 13, 0))


def test_plan_skips_when_no_tick_falls_inside_the_window():
    # Daily 02:30 Paris, a day late: 01:30 UTC yesterday and today are
    # both more than 30 minutes before 12:00.
    stored = D(2026, 1, 11, 1, 30)
    assert plan_tick(PARIS_0230, stored, D(2026, 1, 12, 12, 0), WINDOW) == \
        (None, D(2026, 1, 13, 1, 30))


def test_plan_catches_up_a_tick_exactly_at_the_window_start():
    stored = D(2026, 1, 5, 2, 0)
    now = D(2026, 1, 5, 12, 30)             # 12:00 is exactly WINDOW ago
    assert plan_tick(HOURLY, stored, now, WINDOW) == \
        (D(2026, 1, 5, 12, 0), D(2026, 1, 5, 13, 0))


def test_plan_with_a_zero_window_runs_only_on_time():
    stored = D(2026, 1, 5, 2, 0)
    zero = timedelta(0)
    assert plan_tick(HOURLY, stored, stored, zero) == \
        (stored, D(2026, 1, 5, 3, 0))
    assert plan_tick(HOURLY, stored, stored + timedelta(microseconds=1),
                     zero) == (None, D(2026, 1, 5, 3, 0))


def test_plan_keeps_interval_ticks_aligned_after_a_late_run():
    anchor = D(2026, 1, 1, 0, 0, 7)
    stored = D(2026, 1, 1, 5, 0, 7)
    assert plan_tick(HOURLY, stored, D(2026, 1, 1, 7, 20),
                     timedelta(hours=3), anchor) == \
        (stored, D(2026, 1, 1, 8, 0, 7))


def test_plan_on_the_spring_forward_tick():
    stored = D(2026, 3, 29, 1, 0)    # 02:30 Paris collapsed onto 03:00
    assert plan_tick(PARIS_0230, stored, D(2026, 3, 29, 1, 0, 5), WINDOW) \
        == (stored, D(2026, 3, 30, 0, 30))


@pytest.mark.parametrize("window, hours", [
    # Back at 07:25: with a 30-minute window 04:00-06:00 are skipped and
    # 07:00 is caught up; with a day's window 04:00 is caught up and
    # 05:00-07:00 are skipped. One catch-up run either way.
    (WINDOW, (1, 2, 3, 7, 8, 9, 10)),
    (timedelta(days=1), (1, 2, 3, 4, 8, 9, 10)),
])
def test_plan_loop_through_an_outage(window, hours):
    # A scheduler polling every 10 minutes, down from 03:05 to 07:25.
    stored = next_run(HOURLY, D(2026, 1, 5, 0, 0))
    runs = []
    now = D(2026, 1, 5, 0, 0)
    while now <= D(2026, 1, 5, 10, 0):
        down = D(2026, 1, 5, 3, 5) <= now < D(2026, 1, 5, 7, 25)
        if not down:
            run_due, stored = plan_tick(HOURLY, stored, now, window)
            if run_due is not None:
                runs.append(run_due)
        now += timedelta(minutes=10)
    assert runs == [D(2026, 1, 5, h) for h in hours]


def test_plan_refuses_a_negative_window_and_aware_datetimes():
    with pytest.raises(ValueError, match="catchup_window must not be "
                                         "negative"):
        plan_tick(HOURLY, D(2026, 1, 1), D(2026, 1, 1), timedelta(-1))
    with pytest.raises(ValueError, match="now must be a naive UTC"):
        plan_tick(HOURLY, D(2026, 1, 1),
                  D(2026, 1, 1, tzinfo=timezone.utc), WINDOW)
    with pytest.raises(ValueError, match="next_run_at must be a naive UTC"):
        plan_tick(HOURLY, D(2026, 1, 1, tzinfo=timezone.utc),
                  D(2026, 1, 1), WINDOW)
