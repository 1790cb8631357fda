"""Retention arithmetic: which checkpoints a policy may prune."""

import doctest
import random
from datetime import datetime as D
from datetime import timedelta, timezone

import pytest

from share_worker import exception
from share_worker.scheduler import retention
from share_worker.scheduler.retention import to_prune

NOW = D(2026, 6, 1, 12, 0)
DAY = 86400


def cp(id_, status, days_ago, seconds=0):
    """A checkpoint made ``days_ago`` days (+ ``seconds``) before NOW."""
    return {"id": id_, "status": status, "share_id": "s1",
            "policy_id": "p1",
            "created_at": NOW - timedelta(days=days_ago, seconds=seconds)}


def keep(max_count=None, max_age_seconds=None):
    return retention.validate_retention(
        {"max_count": max_count, "max_age_seconds": max_age_seconds})


def test_docstring_example_runs():
    result = doctest.testmod(retention)
    assert result.attempted > 0
    assert result.failed == 0


# -- validate_retention --------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (None, None),
    ({}, {"max_count": None, "max_age_seconds": None}),
    ({"max_count": None, "max_age_seconds": None},
     {"max_count": None, "max_age_seconds": None}),
    ({"max_count": 7}, {"max_count": 7, "max_age_seconds": None}),
    ({"max_age_seconds": 86400}, {"max_count": None,
                                  "max_age_seconds": 86400}),
    ({"max_count": 1, "max_age_seconds": 1},
     {"max_count": 1, "max_age_seconds": 1}),
    ({"max_count": 10 ** 6, "max_age_seconds": 10 ** 15},
     {"max_count": 10 ** 6, "max_age_seconds": 10 ** 15}),
])
def test_validate_accepts_and_normalises(value, expected):
    assert retention.validate_retention(value) == expected


@pytest.mark.parametrize("value, message", [
    (5, "retention: must be null or an object, got int"),
    ([5], "retention: must be null or an object, got list"),
    ({"max_count": 3, "max_days": 7},
     "retention: unknown field(s) max_days; allowed: max_count, "
     "max_age_seconds"),
    ({"count": 3, "age": 7}, "retention: unknown field(s) age, count;"),
    ({"max_count": 0}, "retention.max_count: must be >= 1 (or null for no "
                       "limit), got 0"),
    ({"max_count": -2}, "retention.max_count: must be >= 1 (or null for "
                        "no limit), got -2"),
    ({"max_count": True}, "retention.max_count: must be an integer or "
                          "null, got bool True"),
    ({"max_count": 3.0}, "retention.max_count: must be an integer or "
                         "null, got float 3.0"),
    ({"max_count": "3"}, "retention.max_count: must be an integer or "
                         "null, got str '3'"),
    ({"max_age_seconds": 0}, "retention.max_age_seconds: must be >= 1 (or "
                             "null for no limit), got 0"),
    ({"max_age_seconds": False}, "retention.max_age_seconds: must be an "
                                 "integer or null, got bool False"),
    ({"max_age_seconds": 86400.5}, "retention.max_age_seconds: must be an "
                                   "integer or null, got float 86400.5"),
    ({"max_age_seconds": [1]}, "retention.max_age_seconds: must be an "
                               "integer or null, got list [1]"),
])
def test_validate_refuses(value, message):
    with pytest.raises(exception.InvalidInput) as err:
        retention.validate_retention(value)
    assert err.value.to_error()["code"] == "InvalidInput"
    assert err.value.message.startswith("Invalid input: " + message)


# -- to_prune: nothing to do ---------------------------------------------

@pytest.mark.parametrize("policy", [
    None,
    {"max_count": None, "max_age_seconds": None},
])
def test_no_limits_keep_everything(policy):
    checkpoints = [cp("c%d" % i, "available", i) for i in range(50)]
    assert to_prune(checkpoints, policy, NOW) == []


def test_no_checkpoints():
    assert to_prune([], keep(max_count=1, max_age_seconds=1), NOW) == []


def test_only_errors_are_never_pruned():
    checkpoints = [cp("e1", "error", 30), cp("e2", "error", 20),
                   cp("e3", "error", 10)]
    assert to_prune(checkpoints, keep(max_count=1, max_age_seconds=1),
                    NOW) == []


def test_only_pending_and_one_available_prunes_nothing():
    # The one good copy is old and alone: pending ones do not replace it.
    checkpoints = [cp("good", "available", 90),
                   cp("p1", "protecting", 0, 60),
                   cp("p2", "protecting", 0, 30)]
    assert to_prune(checkpoints, keep(max_count=1, max_age_seconds=DAY),
                    NOW) == []


# -- to_prune: max_count -------------------------------------------------

def test_max_count_only_prunes_the_oldest_oldest_first():
    checkpoints = [cp("c%d" % i, "available", i) for i in range(1, 6)]
    random.Random(5).shuffle(checkpoints)
    assert to_prune(checkpoints, keep(max_count=3), NOW) == ["c5", "c4"]


def test_max_count_of_one_keeps_the_newest_only():
    checkpoints = [cp("old", "available", 3), cp("mid", "available", 2),
                   cp("new", "available", 1)]
    assert to_prune(checkpoints, keep(max_count=1), NOW) == ["old", "mid"]


def test_max_count_not_reached_prunes_nothing():
    checkpoints = [cp("a", "available", 3), cp("b", "available", 2)]
    assert to_prune(checkpoints, keep(max_count=2), NOW) == []


def test_newer_errors_and_pending_do_not_push_out_good_ones():
    checkpoints = [cp("good1", "available", 5), cp("good2", "available", 4),
                   cp("err1", "error", 3), cp("err2", "error", 2),
                   cp("pending", "protecting", 0, 10)]
    assert to_prune(checkpoints, keep(max_count=2), NOW) == []
    assert to_prune(checkpoints, keep(max_count=1), NOW) == ["good1"]


def test_only_available_checkpoints_are_returned():
    checkpoints = [cp("deleting", "deleting", 400),
                   cp("err_del", "error-deleting", 300),
                   cp("deleted", "deleted", 200),
                   cp("error", "error", 100),
                   cp("restoring", "restoring", 100),
                   cp("old", "available", 50),
                   cp("new", "available", 1)]
    assert to_prune(checkpoints, keep(max_count=1, max_age_seconds=DAY),
                    NOW) == ["old"]


def test_ties_on_created_at_are_broken_by_id():
    same = NOW - timedelta(days=1)
    checkpoints = [{"id": i, "status": "available", "created_at": same}
                   for i in ("b", "c", "a")]
    assert to_prune(checkpoints, keep(max_count=1), NOW) == ["a", "b"]
    assert to_prune(list(reversed(checkpoints)), keep(max_count=1),
                    NOW) == ["a", "b"]
    assert to_prune(checkpoints, keep(max_count=2), NOW) == ["a"]


def test_created_at_orders_before_id():
    checkpoints = [cp("z-old", "available", 2), cp("a-new", "available", 1)]
    assert to_prune(checkpoints, keep(max_count=1), NOW) == ["z-old"]


# -- to_prune: max_age_seconds -------------------------------------------

def test_max_age_only_prunes_older_and_keeps_exactly_max_age():
    checkpoints = [cp("older", "available", 7, 1),
                   cp("exactly", "available", 7),
                   cp("younger", "available", 6)]
    assert to_prune(checkpoints, keep(max_age_seconds=7 * DAY), NOW) == \
        ["older"]


def test_max_age_is_exact_to_the_microsecond():
    checkpoints = [
        {"id": "just", "status": "available",
         "created_at": NOW - timedelta(seconds=60, microseconds=1)},
        {"id": "new", "status": "available", "created_at": NOW}]
    assert to_prune(checkpoints, keep(max_age_seconds=60), NOW) == ["just"]


def test_newest_available_is_kept_even_when_too_old():
    checkpoints = [cp("c1", "available", 30), cp("c2", "available", 20),
                   cp("c3", "available", 10), cp("err", "error", 1)]
    assert to_prune(checkpoints, keep(max_age_seconds=DAY), NOW) == \
        ["c1", "c2"]


def test_a_single_old_available_checkpoint_is_kept():
    assert to_prune([cp("only", "available", 365)],
                    keep(max_count=1, max_age_seconds=1), NOW) == []


def test_checkpoints_dated_in_the_future_are_young():
    # A clock ahead of the store's: negative ages are never too old.
    checkpoints = [cp("ahead1", "available", -1), cp("c1", "available", 2),
                   cp("ahead2", "available", -2), cp("c2", "available", 1, 1)]
    assert to_prune(checkpoints, keep(max_age_seconds=DAY), NOW) == \
        ["c1", "c2"]
    assert to_prune(checkpoints, keep(max_count=3), NOW) == ["c1"]


def test_a_huge_max_age_does_not_overflow():
    checkpoints = [cp("c1", "available", 3650), cp("c2", "available", 1)]
    assert to_prune(checkpoints, keep(max_age_seconds=10 ** 15), NOW) == []


# -- to_prune: both limits -----------------------------------------------

def test_both_limits_prune_what_either_would():
    checkpoints = [cp("c%d" % d, "available", d) for d in (1, 2, 3, 8, 9)]
    # max_count=4 drops c9; max_age 7 days drops c8 and c9.
    assert to_prune(checkpoints, keep(max_count=4, max_age_seconds=7 * DAY),
                    NOW) == ["c9", "c8"]
    # max_count=2 drops c3, c8, c9; the age limit adds nothing.
    assert to_prune(checkpoints, keep(max_count=2, max_age_seconds=7 * DAY),
                    NOW) == ["c9", "c8", "c3"]


def test_missing_keys_mean_no_limit():
    checkpoints = [cp("c1", "available", 3), cp("c2", "available", 2),
                   cp("c3", "available", 1)]
    assert to_prune(checkpoints, {"max_count": 2}, NOW) == ["c1"]
    assert to_prune(checkpoints, {"max_age_seconds": 2 * DAY}, NOW) == \
        ["c1"]


def test_aware_now_is_refused():
    with pytest.raises(ValueError, match="now must be a naive UTC"):
        to_prune([], keep(max_count=1), NOW.replace(tzinfo=timezone.utc))
