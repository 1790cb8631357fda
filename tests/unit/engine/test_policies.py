"""Protection policies in the engine: records, runs, ticks, retention,
Manila events (over a fake Manila, a SQLite store and a movable clock)."""

import datetime

import pytest
from oslo_context import context as o_context

from share_worker import exception
from share_worker.clients.trusts import ProjectActor
from share_worker.db.store import utcnow
from share_worker.engine.policies import run_checkpoint_id
from share_worker.scheduler.runner import Scheduler
from tests.conftest import wait_for

SHARE = "OS::Manila::Share"


class Clock:
    """Real time plus a jump the test controls."""

    def __init__(self):
        self.offset = datetime.timedelta()

    def __call__(self):
        return utcnow() + self.offset

    def jump(self, seconds):
        self.offset += datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def engine(make_engine, clock):
    # The clock jumps hours: operations must not time out meanwhile.
    return make_engine(clock=clock, actor=ProjectActor(),
                       protect_timeout=10 ** 7, delete_timeout=10 ** 7)


@pytest.fixture
def scheduler(engine, conf, clock):
    return Scheduler(engine, conf, clock=clock)


def ctx(project="p1"):
    return o_context.RequestContext(user_id="u1", project_id=project,
                                    auth_token="tok")


def hourly(**kw):
    policy = {"name": "hourly", "resources": {"all_shares": True},
              "schedule": {"interval_seconds": 3600}}
    policy.update(kw)
    return policy


def finish_snapshots(manila):
    for snap in manila.snapshots.items.values():
        if snap.status == "creating":
            snap.status = "available"


def policy_checkpoints(engine, policy_id, project="p1"):
    return engine.list_checkpoints(ctx(project), {"policy_id": policy_id})


# -- records --

def test_create_fills_defaults_and_schedules_the_first_run(engine, clock):
    before = clock()
    policy = engine.create_policy(ctx(), {
        "name": "nightly", "resources": {"share_ids": ["s1", "s1", "s2"]},
        "schedule": {"interval_seconds": 60}})
    assert set(policy) == {
        "id", "project_id", "name", "enabled", "resources", "schedule",
        "retention", "options", "triggers", "next_run_at", "created_at",
        "updated_at"}
    assert policy["project_id"] == "p1" and policy["enabled"] is True
    assert policy["resources"] == {"share_ids": ["s1", "s2"]}
    assert policy["retention"] is None and policy["triggers"] == []
    assert policy["options"] == {}
    next_run = datetime.datetime.fromisoformat(policy["next_run_at"][:-1])
    assert before < next_run <= before + datetime.timedelta(seconds=61)
    assert engine.show_policy(ctx(), policy["id"]) == policy


def test_a_policy_without_schedule_never_runs(engine):
    policy = engine.create_policy(ctx(), {
        "name": "on create", "resources": {"all_shares": True},
        "triggers": ["share.create.end"]})
    assert policy["next_run_at"] is None and policy["schedule"] is None


@pytest.mark.parametrize("doc, words", [
    ({"resources": {"all_shares": True}}, "needs the field(s) name"),
    ({"name": "x"}, "needs the field(s) resources"),
    (hourly(colour="red"), "unknown policy field(s) 'colour'"),
    (hourly(id="mine"), "read-only field(s) id"),
    (hourly(schedule={"cron": "61 * * * *"}), "cron"),
    (hourly(schedule={"cron": "0 2 * * *", "timezone": "Mars/Olympus"}),
     "Mars/Olympus"),
    (hourly(schedule={"interval_seconds": 0}), "interval_seconds"),
    (hourly(resources={"all_shares": False}), "all_shares must be true"),
    (hourly(resources={"share_ids": []}), "share_ids must be a list"),
    (hourly(resources={"share_ids": ["a/b"]}), "share_ids[0]"),
    (hourly(resources={"metadata": {"k": 1}}), "resources.metadata"),
    (hourly(resources={"all_shares": True, "share_ids": ["a"]}),
     "exactly one of"),
    (hourly(triggers=["share.delete.end"]), "triggers"),
    (hourly(options={"forse": True}), "unknown options key(s) forse"),
    (hourly(options={"force": "yes"}), "force"),
    (hourly(retention={"max_count": 0}), "max_count"),
    (hourly(enabled="no"), "enabled must be true or false"),
    ("a policy", "policy must be an object"),
])
def test_bad_policies_are_refused_naming_the_field(engine, doc, words):
    with pytest.raises(exception.InvalidInput) as e:
        engine.create_policy(ctx(), doc)
    assert words in e.value.message


def test_policies_are_per_project(engine):
    policy = engine.create_policy(ctx("p1"), hourly())
    for call in (lambda: engine.show_policy(ctx("p2"), policy["id"]),
                 lambda: engine.update_policy(ctx("p2"), policy["id"],
                                              {"enabled": False}),
                 lambda: engine.delete_policy(ctx("p2"), policy["id"])):
        with pytest.raises(exception.PolicyNotFound):
            call()
    assert engine.list_policies(ctx("p2")) == []
    assert [p["id"] for p in engine.list_policies(ctx("p1"))] == [
        policy["id"]]
    assert engine.show_policy(ctx("p1"), policy["id"])["enabled"] is True


@pytest.mark.parametrize("schedule", [
    {"interval_seconds": 59}, {"cron": "* * * * *"},
    {"cron": "0,30 * * * *"}, {"cron": "59 23 * * *"},
])
def test_a_schedule_more_often_than_the_floor_is_refused(engine, conf,
                                                         schedule):
    conf.set_override("min_schedule_interval", 3600, group="share_worker")
    if schedule == {"cron": "59 23 * * *"}:          # daily: fine
        engine.create_policy(ctx(), hourly(schedule=schedule))
        return
    with pytest.raises(exception.InvalidInput) as err:
        engine.create_policy(ctx(), hourly(schedule=schedule))
    assert "min_schedule_interval" in err.value.message
    policy = engine.create_policy(ctx(), hourly())
    with pytest.raises(exception.InvalidInput):
        engine.update_policy(ctx(), policy["id"], {"schedule": schedule})
    assert engine.list_policies(ctx())[0]["schedule"] == \
        {"interval_seconds": 3600}


def test_policies_per_project_are_bounded(engine, conf):
    conf.set_override("max_policies_per_project", 2, group="share_worker")
    first = engine.create_policy(ctx("p1"), hourly())
    engine.create_policy(ctx("p1"), hourly())
    with pytest.raises(exception.QuotaExceeded) as err:
        engine.create_policy(ctx("p1"), hourly())
    assert "max_policies_per_project=2" in err.value.message
    engine.create_policy(ctx("p2"), hourly())       # another project: fine
    engine.delete_policy(ctx("p1"), first["id"])
    engine.create_policy(ctx("p1"), hourly())


def test_update_checks_changes_and_reschedules(engine):
    policy = engine.create_policy(ctx(), hourly())
    off = engine.update_policy(ctx(), policy["id"], {"enabled": False})
    assert off["enabled"] is False and off["next_run_at"] is None
    on = engine.update_policy(ctx(), policy["id"], {
        "enabled": True, "retention": {"max_count": 3}})
    assert on["next_run_at"] is not None
    assert on["retention"] == {"max_count": 3, "max_age_seconds": None}
    for bad, words in (({}, "names no field"),
                       ({"project_id": "p2"}, "read-only"),
                       ({"schedule": {"cron": "nope"}}, "cron")):
        with pytest.raises(exception.InvalidInput) as e:
            engine.update_policy(ctx(), policy["id"], bad)
        assert words in e.value.message
    assert engine.show_policy(ctx(), policy["id"]) == on


def test_delete_keeps_the_policys_checkpoints(engine, manila, scheduler,
                                              clock):
    share = manila.add_share()
    policy = engine.create_policy(ctx(), hourly(
        resources={"share_ids": [share.id]}))
    clock.jump(3600)
    assert scheduler.run_once() == 1
    assert engine.delete_policy(ctx(), policy["id"]) is None
    with pytest.raises(exception.PolicyNotFound):
        engine.show_policy(ctx(), policy["id"])
    assert len(policy_checkpoints(engine, policy["id"])) == 1


# -- scheduled runs --

def test_a_due_tick_fires_once_with_schedule_trigger(engine, manila,
                                                      scheduler, clock,
                                                      conf):
    share = manila.add_share()
    policy = engine.create_policy(ctx(), hourly(
        options={"description": "hourly copy"}))
    assert scheduler.run_once() == 0          # not due yet
    clock.jump(3600)
    assert scheduler.run_once() == 1
    assert scheduler.run_once() == 0          # the same tick: once
    other = Scheduler(engine, conf, clock=clock)
    assert other.run_once() == 0              # another worker: nothing
    (cp,) = policy_checkpoints(engine, policy["id"])
    assert cp["trigger"] == "schedule" and cp["policy_id"] == policy["id"]
    assert cp["resource"]["id"] == share.id
    assert cp["options"]["description"] == "hourly copy"
    shown = engine.show_policy(ctx(), policy["id"])
    assert shown["next_run_at"] > policy["next_run_at"]


def test_one_cycle_fires_every_due_policy(engine, scheduler, clock):
    for i in range(130):        # more than one batch of due policies
        engine.create_policy(ctx("p%d" % (i % 2)), hourly(name="p%d" % i))
    clock.jump(3600)
    assert scheduler.run_once() == 130
    assert scheduler.run_once() == 0


def test_a_long_outage_runs_one_catch_up_not_a_storm(engine, manila,
                                                     scheduler, clock):
    manila.add_share()
    policy = engine.create_policy(ctx(), hourly())
    clock.jump(3600 * 10 - 1800)        # 9 ticks missed, the last 30 min ago
    assert scheduler.run_once() == 1
    assert scheduler.run_once() == 0
    assert len(policy_checkpoints(engine, policy["id"])) == 1


def test_a_run_missed_beyond_the_window_is_skipped(engine, manila, conf,
                                                   scheduler, clock):
    conf.set_override("scheduler_catchup_window", 600, group="share_worker")
    manila.add_share()
    policy = engine.create_policy(ctx(), hourly())
    clock.jump(3600 + 1200)
    assert scheduler.run_once() == 0
    assert policy_checkpoints(engine, policy["id"]) == []
    assert engine.show_policy(ctx(), policy["id"])["next_run_at"] > \
        policy["next_run_at"]


def test_overlapping_runs_for_a_share_are_coalesced(engine, manila,
                                                    scheduler, clock):
    manila.add_share()
    policy = engine.create_policy(ctx(), hourly())
    clock.jump(3600)
    scheduler.run_once()
    wait_for(lambda: manila.snapshots.items, what="first snapshot")
    clock.jump(3600)                        # the snapshot still creating
    assert scheduler.run_once() == 1
    assert len(policy_checkpoints(engine, policy["id"])) == 1
    finish_snapshots(manila)
    wait_for(lambda: policy_checkpoints(engine, policy["id"])[0]["status"]
             == "available")
    clock.jump(3600)
    scheduler.run_once()
    assert len(policy_checkpoints(engine, policy["id"])) == 2


def test_a_tick_left_pending_is_taken_over_without_duplicates(
        engine, manila, scheduler, clock, conf):
    share = manila.add_share()
    policy = engine.create_policy(ctx(), hourly(
        resources={"share_ids": [share.id]}))
    row = engine.policies.get_row(policy["id"])
    clock.jump(3600)
    now = clock()
    # A worker claimed the tick, recorded its checkpoint and died.
    assert engine.policies.claim_tick(
        row, row.next_run_at + datetime.timedelta(hours=1), row.next_run_at,
        now + datetime.timedelta(seconds=30))
    key = row.next_run_at.isoformat(timespec="microseconds") + "Z"
    engine.protect(ctx(), {"type": SHARE, "id": share.id},
                   checkpoint_id=run_checkpoint_id(row.id, share.id, key),
                   trigger="schedule", policy_id=row.id)
    assert scheduler.run_once() == 0          # its lease still runs
    clock.jump(31)
    assert scheduler.run_once() == 1
    assert len(policy_checkpoints(engine, policy["id"])) == 1
    assert engine.policies.get_row(policy["id"]).pending_tick is None


# -- retention --

def hourly_runs(engine, manila, scheduler, clock, policy, runs):
    """*runs* hourly runs of *policy* (one share), each checkpoint
    available before the next."""
    for i in range(runs):
        clock.jump(3600)
        assert scheduler.run_once() == 1
        wait_for(lambda: len(manila.snapshots.items) == i + 1)  # noqa: B023
        finish_snapshots(manila)
        wait_for(lambda: all(c["status"] == "available" for c in
                             policy_checkpoints(engine, policy["id"])))


def test_retention_keeps_the_newest_available_checkpoints(
        engine, manila, scheduler, clock):
    manila.add_share()
    policy = engine.create_policy(ctx(), hourly(
        retention={"max_count": 2}))
    hourly_runs(engine, manila, scheduler, clock, policy, 4)
    assert scheduler.prune_once() == 2
    cps = policy_checkpoints(engine, policy["id"])     # newest first
    assert [c["status"] for c in cps] == [
        "available", "available", "deleting", "deleting"]
    assert engine.sink.wait(cps[3]["id"],
                            "share_worker.checkpoint.delete.start")[
        "policy_id"] == policy["id"]
    assert scheduler.prune_once() == 0


def test_errored_checkpoints_never_push_out_the_last_good_one(
        engine, manila, scheduler, clock):
    share = manila.add_share()
    policy = engine.create_policy(ctx(), hourly(
        resources={"share_ids": [share.id]},
        retention={"max_count": 1, "max_age_seconds": 60}))
    clock.jump(3600)
    scheduler.run_once()
    wait_for(lambda: manila.snapshots.items)
    finish_snapshots(manila)
    wait_for(lambda: policy_checkpoints(engine, policy["id"])[0]["status"]
             == "available")
    manila.shares.items.pop(share.id)        # later runs fail
    for errors in (["error"], ["error", "error"]):
        clock.jump(3600)
        scheduler.run_once()
        wait_for(lambda: [c["status"] for c in policy_checkpoints(
            engine, policy["id"])] == errors + ["available"])  # noqa: B023
    assert scheduler.prune_once() == 0       # old, but the only good one


# -- Manila events --

def test_create_event_protects_a_matching_share_once(engine, manila):
    share = manila.add_share(metadata={"backup": "gold"})
    manila.add_share(metadata={"backup": "none"})
    gold = engine.create_policy(ctx(), {
        "name": "gold", "resources": {"metadata": {"backup": "gold"}},
        "triggers": ["share.create.end"]})
    engine.create_policy(ctx(), {
        "name": "quiet", "resources": {"all_shares": True}})
    made = engine.on_share_event("share.create.end", "p1", share.id,
                                 "event:m-1")
    assert [(c["trigger"], c["policy_id"], c["resource"]["id"])
            for c in made] == [("event", gold["id"], share.id)]
    again = engine.on_share_event("share.create.end", "p1", share.id,
                                  "event:m-1")
    assert [c["id"] for c in again] == [made[0]["id"]]
    assert len(policy_checkpoints(engine, gold["id"])) == 1
    assert engine.on_share_event("share.extend.end", "p1", share.id,
                                 "event:m-2") == []
    assert engine.on_share_event("share.create.end", "p2", share.id,
                                 "event:m-3") == []


def test_delete_event_retires_the_share_from_policies(engine):
    policy = engine.create_policy(ctx(), hourly(
        resources={"share_ids": ["s1", "s2"]}))
    engine.on_share_event("share.delete.end", "p1", "s1", "event:m-9")
    assert engine.show_policy(ctx(), policy["id"])["resources"] == {
        "share_ids": ["s2"]}


def test_an_all_shares_policy_protects_the_event_share_if_usable(engine,
                                                                 manila):
    good = manila.add_share()
    broken = manila.add_share(status="error")
    policy = engine.create_policy(ctx(), {
        "name": "all", "resources": {"all_shares": True},
        "triggers": ["share.create.end", "share.extend.end"]})
    made = engine.on_share_event("share.extend.end", "p1", good.id, "e:1")
    assert [c["resource"]["id"] for c in made] == [good.id]
    assert engine.on_share_event("share.create.end", "p1", broken.id,
                                 "e:2") == []
    assert engine.on_share_event("share.create.end", "p1", "gone",
                                 "e:3") == []
    assert len(policy_checkpoints(engine, policy["id"])) == 1


def test_the_scheduler_thread_wakes_for_each_due_tick(engine, manila, conf):
    """A pause lasts until the next run falls due (or a policy changes),
    not a whole scheduler_interval."""
    conf.set_override("scheduler_interval", 60, group="share_worker")
    scheduler = Scheduler(engine, conf)
    scheduler.start()
    try:
        policy = engine.create_policy(ctx(), hourly(
            schedule={"interval_seconds": 1}))
        wait_for(lambda: scheduler.fired >= 2, timeout=10,
                 what="two ticks a second apart")
    finally:
        scheduler.stop()
    assert engine.policies.soonest() > engine.policies.get_row(
        policy["id"]).created_at


def test_retention_keeps_a_checkpoint_being_restored_from(engine, manila,
                                                          scheduler, clock):
    """Invariant 11: retention skips a checkpoint with a restore in
    progress (pruning no other instead) and prunes it once the restore
    ends."""
    manila.add_share()
    policy = engine.create_policy(ctx(), hourly(retention={"max_count": 1}))
    hourly_runs(engine, manila, scheduler, clock, policy, 2)
    older = policy_checkpoints(engine, policy["id"])[-1]
    restore = engine.restore(ctx(), older["id"])
    wait_for(lambda: [s for s in manila.shares.items.values()
                      if s.status == "creating"], what="the restore")
    assert scheduler.prune_once() == 0
    assert [c["status"] for c in policy_checkpoints(engine, policy["id"])] \
        == ["available", "available"]
    for share in manila.shares.items.values():
        if share.status == "creating":
            share.status = "available"
    engine.sink.wait(restore["id"], "share_worker.restore.end")
    assert scheduler.prune_once() == 1
    assert policy_checkpoints(engine, policy["id"])[-1]["status"] == \
        "deleting"
