"""Fixtures for the simulator's unit tests: a fake clock, a simulator and
a helper that calls its API the way the HTTP server would, without HTTP."""

from __future__ import annotations

import json

import pytest

from share_worker.simulator import ManilaSimulator


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Calls ``sim.serve`` like the server does; returns status, body."""

    def __init__(self, sim: ManilaSimulator) -> None:
        self.sim = sim
        self.last_headers: dict[str, str] = {}

    def __call__(self, method, path, body=None, token="u:proj",
                 version="2.73", query=None, raw=None):
        headers = {}
        if token is not None:
            headers["X-Auth-Token"] = token
        if version is not None:
            headers["X-OpenStack-Manila-API-Version"] = version
        data = raw if raw is not None else (
            json.dumps(body).encode() if body is not None else b""
        )
        outcome = self.sim.serve(method, path, query or {}, headers, data,
                                 "http://sim")
        if outcome.response is None:
            return None, None
        self.last_headers = outcome.response.headers
        payload = outcome.response.body
        return outcome.response.status, (
            json.loads(payload) if payload else None
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> ManilaSimulator:
    return ManilaSimulator(clock=clock)


@pytest.fixture
def api(sim: ManilaSimulator) -> Api:
    return Api(sim)
