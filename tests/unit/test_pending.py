"""Pending results: mapped, resolved, waited for with a deadline."""

from __future__ import annotations

from concurrent import futures

import pytest

from share_worker.pending import Pending, apply, resolve


def _done(value):
    future: futures.Future = futures.Future()
    future.set_result(value)
    return future


def test_resolve_gives_a_plain_value_as_it_is():
    assert resolve({"id": "a"}) == {"id": "a"}


def test_map_applies_after_the_future_and_keeps_what_it_is_about():
    pending = Pending(_done(2), lambda f: f.result() * 10, "record a")
    doubled = pending.map(lambda v: v + 1)
    assert doubled.about == "record a"
    assert resolve(doubled) == 21


def test_a_pending_result_may_depend_on_another():
    second: futures.Future = futures.Future()
    first = Pending(_done(1), lambda f: Pending(
        second, lambda g: f.result() + g.result()))
    mapped = first.map(lambda v: v * 2)
    second.set_result(4)
    assert resolve(mapped) == 10


def test_apply_to_a_plain_value_is_a_call():
    assert apply(str, 5) == "5"


def test_errors_of_the_future_or_of_then_reach_the_caller():
    failed: futures.Future = futures.Future()
    failed.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        resolve(Pending(failed, lambda f: f.result()))

    def refuse(_):
        raise ValueError("no")
    with pytest.raises(ValueError, match="no"):
        resolve(Pending(_done(1), refuse))


def test_a_future_that_is_not_done_in_time_times_out():
    with pytest.raises(futures.TimeoutError):
        resolve(Pending(futures.Future(), lambda f: f.result()),
                timeout=0.01)
