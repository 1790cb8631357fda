"""The Authorizer remembers decisions for a second, never longer, and
never across callers or targets that differ."""

from __future__ import annotations

import pytest
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_context import context as o_context

from share_worker import authorization, exception
from share_worker.authorization import Authorizer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ctx(project: str = "p1", *roles: str,
        user: str = "u1") -> o_context.RequestContext:
    return o_context.RequestContext(user_id=user, project_id=project,
                                    roles=list(roles or ("member",)))


@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("{}\n")
    return path


@pytest.fixture
def make(policy_file):
    fixtures = []

    def make_authorizer(clock: Clock) -> Authorizer:
        conf = cfg.ConfigOpts()
        fixture = config_fixture.Config(conf)
        fixture.setUp()
        fixtures.append(fixture)
        conf([], default_config_files=[], default_config_dirs=[])
        Authorizer(conf, clock=clock)     # registers [oslo_policy]
        fixture.config(policy_file=str(policy_file), group="oslo_policy")
        return Authorizer(conf, clock=clock)

    yield make_authorizer
    for fixture in fixtures:
        fixture.cleanUp()


def test_a_changed_policy_file_takes_effect_within_the_ttl(make,
                                                           policy_file):
    clock = Clock()
    authorizer = make(clock)
    member = ctx()
    assert authorizer.allowed("checkpoint:create", member)
    policy_file.write_text('"share_worker:checkpoint:create": "!"\n')
    # remembered: the file is not looked at again within the TTL
    clock.now += authorization.DECISION_TTL / 2
    assert authorizer.allowed("checkpoint:create", member)
    clock.now += authorization.DECISION_TTL
    assert not authorizer.allowed("checkpoint:create", member)
    err = pytest.raises(exception.Forbidden, authorizer.authorize,
                        "checkpoint:create", member).value
    assert "share_worker:checkpoint:create" in err.message


def test_check_policy_file_forgets_at_once(make, policy_file):
    authorizer = make(Clock())
    assert authorizer.allowed("checkpoint:delete", ctx())
    policy_file.write_text('"share_worker:checkpoint:delete": "!"\n')
    authorizer.check_policy_file()
    assert not authorizer.allowed("checkpoint:delete", ctx())


@pytest.mark.parametrize("other", [
    ctx("p1", "reader"),                       # other roles
    ctx("p1", "member", "reader", "admin"),    # more roles
    ctx("p2", "reader"),                       # other project
    ctx("p1", "reader", user="u2"),            # other user
])
def test_a_decision_is_never_reused_for_another_caller(make, other):
    authorizer = make(Clock())
    member = ctx("p1", "member", user=other.user_id)
    assert authorizer.allowed("checkpoint:create", member)
    expected = "member" in other.roles
    assert authorizer.allowed("checkpoint:create", other) is expected
    assert authorizer.allowed("checkpoint:create", member)


def test_a_decision_is_per_rule_and_per_target(make):
    authorizer = make(Clock())
    member = ctx("p1", "member")
    assert authorizer.allowed("checkpoint:create", member)
    assert not authorizer.allowed("checkpoint:get_all_projects", member)
    # the rules name the target project: acting on another one is refused
    assert not authorizer.allowed("checkpoint:create", member, "p2")
    assert authorizer.allowed("checkpoint:create", member, "p1")


def test_the_memory_is_bounded(make, monkeypatch):
    monkeypatch.setattr(authorization, "DECISION_CACHE_SIZE", 8)
    authorizer = make(Clock())
    for number in range(50):
        assert authorizer.allowed("checkpoint:get",
                                  ctx("p%d" % number, "reader"))
    assert len(authorizer._decisions) <= 8
