"""PollSchedule: the first look at a new wait comes when recent waits of
its kind ended, looks are frequent while it is about to end, and grow
for long waits."""

import pytest

from share_worker.engine.poll_schedule import PollSchedule


def run_wait(looks, key, kind, start, ends_at):
    """Look whenever due (every 0.01 s of clock) until the wait, which
    ends *ends_at* seconds after *start*, is seen done; the times of the
    looks, relative to *start*."""
    looks.started(key, kind, start)
    seen = []
    now = start
    while True:
        now = round(now + 0.01, 2)
        if not looks.due(key, now):
            continue
        seen.append(round(now - start, 2))
        if now - start >= ends_at:
            looks.ended(key, now)
            return seen
        looks.looked(key, now)


def test_nothing_learnt_first_look_after_the_floor():
    looks = PollSchedule(floor=0.2, ceiling=1.0)
    seen = run_wait(looks, "a", "snapshot:new", 0.0, ends_at=2.0)
    assert seen[0] == pytest.approx(0.2)
    # looks grow with the age, never closer than the floor
    gaps = [b - a for a, b in zip(seen[:-1], seen[1:], strict=True)]
    assert min(gaps) >= 0.2 - 1e-9 and max(gaps) <= 1.0 + 1e-9
    assert gaps[-1] > gaps[0]


def test_learnt_waits_are_first_looked_at_near_their_end():
    looks = PollSchedule(floor=0.2, ceiling=1.0)
    run_wait(looks, "a", "snapshot:new", 0.0, ends_at=2.0)
    assert 1.4 <= looks.expected("snapshot:new") < 2.0
    for number in range(5):
        seen = run_wait(looks, "b%d" % number, "snapshot:new",
                        10.0 * (number + 1), ends_at=2.0)
    # two or three looks, the last no later than the floor after the end
    assert len(seen) <= 3, seen
    assert 2.0 <= seen[-1] <= 2.0 + 0.2 + 1e-9, seen


def test_kinds_are_learnt_apart():
    looks = PollSchedule(floor=0.2, ceiling=1.0)
    run_wait(looks, "a", "snapshot:new", 0.0, ends_at=2.0)
    assert looks.expected("share:new") is None
    looks.started("s", "share:new", 5.0)
    assert looks.due("s", 5.2) and not looks.due("s", 5.1)


def test_long_waits_are_looked_at_every_ceiling():
    looks = PollSchedule(floor=0.2, ceiling=5.0)
    looks.started("a", "share:new", 0.0)
    looks.looked("a", 600.0)
    assert not looks.due("a", 604.9) and looks.due("a", 605.0)


def test_next_due_and_forget():
    looks = PollSchedule(floor=0.2, ceiling=1.0)
    assert looks.next_due() is None
    looks.started("a", "snapshot:new", 1.0)
    looks.started("b", "snapshot:new", 2.0)
    assert looks.next_due() == pytest.approx(1.2)
    looks.forget("a")
    assert looks.next_due() == pytest.approx(2.2)
    assert not looks.known("a") and looks.known("b")


def test_a_bad_range_is_refused():
    with pytest.raises(ValueError):
        PollSchedule(floor=2.0, ceiling=1.0)
