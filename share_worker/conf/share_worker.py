"""Options of the ``[share_worker]`` group: topic, auth, engine tuning.

Example::

    from oslo_config import cfg
    from share_worker.conf import share_worker
    conf = cfg.ConfigOpts()
    share_worker.register_opts(conf)
    conf([])
    conf.share_worker.protect_timeout
"""

from oslo_config import cfg

GROUP = cfg.OptGroup("share_worker",
                     title="share_worker service and engine options")

opts = [
    cfg.StrOpt("topic", default="share_worker",
               help="RPC topic the worker consumes."),
    cfg.StrOpt("auth_strategy", default="keystone",
               choices=[("keystone", "act in Manila with the request's "
                                     "Keystone token"),
                        ("noauth", "act in Manila as the project the "
                                   "request names, with no identity check "
                                   "(Manila auth_strategy = noauth)")],
               help="How requests are authenticated. keystone: every "
                    "request's token is validated with Keystone and its "
                    "roles are checked against the oslo.policy rules. "
                    "noauth gives NO isolation between projects: any "
                    "caller on the bus acts as whatever project it "
                    "names, as a member of it (roles and is_admin it "
                    "claims are ignored); use it only with a Manila that "
                    "itself runs with auth_strategy = noauth, on a "
                    "private bus."),
    cfg.IntOpt("token_cache_seconds", default=60, min=0,
               help="auth_strategy = keystone: seconds a request token "
                    "Keystone validated is trusted without asking again "
                    "(never past its expiry). A revoked token is refused "
                    "at most this long after. 0: ask Keystone for every "
                    "request."),
    cfg.ListOpt("trust_roles", default=["member"],
                help="auth_strategy = keystone: the roles a protection "
                     "policy's Keystone trust delegates to the worker (its "
                     "scheduled and event-triggered checkpoints act with "
                     "them in the policy's project). The policy's creator "
                     "must hold each. Never delegate admin."),
    cfg.ListOpt("token_encryption_keys", default=[], secret=True,
                help="Fernet keys (cryptography's Fernet.generate_key()) "
                     "that encrypt the callers' Keystone tokens an "
                     "operation keeps in the store until it ends. The "
                     "first encrypts, all decrypt: rotate by putting a new "
                     "key first and dropping the old one once the "
                     "operations recorded before have finished. Empty: a "
                     "key file of this host's own under state_path, which "
                     "serves one host; workers on several hosts sharing a "
                     "store need the same keys here."),
    cfg.IntOpt("rpc_prefetch", default=64, min=1, max=10000,
               help="Most RPC requests this process holds at once before "
                    "they are handled. A request is acknowledged to the "
                    "broker only once it is recorded in the store (or "
                    "refused), so a crash loses none of them: the broker "
                    "redelivers the unacknowledged ones; while the store "
                    "is unreachable at most this many wait in the "
                    "worker's hands and the rest wait in the queue. They "
                    "are handled by [DEFAULT] executor_thread_pool_size "
                    "threads, which don't wait for the commits: a few "
                    "serve them all."),
    cfg.FloatOpt("shutdown_timeout", default=8.0, min=1.0, max=600.0,
                 help="Longest a stop (SIGTERM) takes, broker or store "
                      "unreachable included; the process exits at most one "
                      "second later whatever is still running. What is "
                      "unfinished stays in the store (requests not yet "
                      "recorded stay in their queue) and resumes at the "
                      "next start."),
    cfg.IntOpt("max_in_flight", default=10000, min=1,
               help="Most operations (protect, restore, delete) accepted "
                    "and not yet finished; beyond it requests are answered "
                    "Busy."),
    cfg.IntOpt("max_in_flight_per_project", default=5000, min=1,
               help="Most operations one project may have accepted and not "
                    "yet finished; beyond it its requests are answered "
                    "QuotaExceeded, so one project can't make the worker "
                    "Busy for everyone."),
    cfg.IntOpt("max_policies_per_project", default=100, min=0,
               help="Most protection policies one project may have; "
                    "create_policy beyond it is answered QuotaExceeded."),
    cfg.IntOpt("min_schedule_interval", default=60, min=1,
               help="Shortest time in seconds between two scheduled runs "
                    "of a policy: a smaller interval_seconds, or a cron "
                    "that fires more often, is refused (InvalidInput)."),
    cfg.IntOpt("max_page_size", default=1000, min=1, max=100000,
               help="Most records one list_* call returns: the default "
                    "limit, and the largest one honoured (page with "
                    "marker for more)."),
    cfg.IntOpt("deleted_retention", default=30 * 86400, min=0,
               help="Seconds a deleted checkpoint (with its restores and "
                    "events) stays in the store before the worker purges "
                    "it; 0: never purge."),
    cfg.FloatOpt("commit_delay", default=0.002, min=0.0, max=0.1,
                 help="Under load, seconds the share-worker process waits "
                      "for more accepted requests before it records them in "
                      "one transaction (like PostgreSQL's commit_delay): "
                      "fewer, larger transactions cost less CPU per "
                      "request. It applies only while requests arrive "
                      "together (less than this after a transaction that "
                      "recorded several); a lone request, or one caller "
                      "waiting for each of its requests, is recorded at "
                      "once. 0: never wait."),
    cfg.IntOpt("engine_processes", default=1, min=0, max=16,
               help="0: the share-worker process also advances the "
                    "operations it accepts (one process). N > 0: it only "
                    "accepts (RPC), and starts N engine processes that "
                    "advance every operation in the store, so accepting "
                    "never waits for the engine's CPU: with the default 1 "
                    "a burst of casts is recorded about twice as fast as "
                    "with 0. At start the worker takes requests once its "
                    "engine processes run (it waits at most 30 s for "
                    "them). An engine process ends when the share-worker "
                    "process does. With the default SQLite store at most "
                    "1; use PostgreSQL for more."),
    cfg.StrOpt("engine_priority", default="idle",
               choices=[
                   ("idle", "Linux SCHED_IDLE: engine processes run on CPU "
                            "time nothing else on the host wants. A burst "
                            "of requests is recorded first; operations "
                            "advance at full speed whenever the host has "
                            "spare CPU, and only slowly while it has none "
                            "(their timeouts still apply)."),
                   ("low", "engine processes run engine_nice lower than "
                           "the share-worker process: they still get a "
                           "share of a busy host's CPU."),
                   ("normal", "the share-worker process's own priority.")],
               help="CPU priority of engine processes (engine_processes "
                    "> 0). Callers wait for requests to be recorded, and "
                    "RabbitMQ has handed the messages over already, so "
                    "the share-worker process gets the CPU first; engine "
                    "processes use what is left, which is all of it when "
                    "no requests arrive. idle falls back to low with a "
                    "SQLite store (its one write lock is shared with the "
                    "share-worker process) and where SCHED_IDLE is not "
                    "available."),
    cfg.IntOpt("engine_nice", default=10, min=0, max=19,
               help="Niceness added to engine processes with "
                    "engine_priority = low."),
    cfg.IntOpt("manila_workers", default=8, min=1, max=64,
               help="Threads making Manila calls for the engine. Operations "
                    "waiting on Manila hold no thread."),
    cfg.FloatOpt("poll_interval", default=1.0, min=0.05,
                 help="Longest pause, in seconds, between two looks at a "
                      "Manila object the engine waits on (status polls are "
                      "one list call per project and cycle). A new wait's "
                      "first look comes when the recent waits of its kind "
                      "ended; later looks come after a quarter of the "
                      "wait's age, between poll_min_interval and this."),
    cfg.FloatOpt("poll_min_interval", default=0.2, min=0.05,
                 help="Shortest pause, in seconds, between two status "
                      "polls of one project's objects of one kind (and "
                      "between looks at an object about to be ready)."),
    cfg.IntOpt("protect_timeout", default=3600, min=1,
               help="Seconds a snapshot may take to become available."),
    cfg.IntOpt("restore_timeout", default=3600, min=1,
               help="Seconds a restored share (or a revert) may take to "
                    "become available."),
    cfg.IntOpt("delete_timeout", default=1800, min=1,
               help="Seconds a snapshot may take to disappear once "
                    "deleted."),
    cfg.IntOpt("cleanup_timeout", default=600, min=1,
               help="Seconds the engine keeps trying to delete a snapshot "
                    "or share left in error by a failed operation."),
    cfg.IntOpt("retry_attempts", default=6, min=0,
               help="Retries of a Manila call that failed with a 5xx or a "
                    "connection error before the operation fails."),
    cfg.FloatOpt("retry_backoff", default=1.0, min=0.01,
                 help="First retry delay in seconds; doubles per retry."),
    cfg.FloatOpt("retry_backoff_max", default=60.0, min=0.01,
                 help="Longest delay between two retries, in seconds."),
    cfg.IntOpt("lease_seconds", default=30, min=2,
               help="A worker owns the operations it advances for this "
                    "long and renews the lease as it goes. A worker that "
                    "stops cleanly releases its leases at once; the "
                    "operations of one that died are resumed (by any "
                    "worker, or by itself restarted) once it expires."),
    cfg.IntOpt("batch_size", default=5000, min=1,
               help="Most operations one reconciler cycle loads."),
    cfg.FloatOpt("scheduler_interval", default=5.0, min=0.05,
                 help="Longest pause of the scheduler between two looks "
                      "at the protection policies: it wakes up when the "
                      "next known run falls due, and sees policies other "
                      "workers create within this many seconds."),
    cfg.IntOpt("scheduler_catchup_window", default=3600, min=0,
               help="A scheduled run missed (the workers were down) by at "
                    "most this many seconds is made once when a worker "
                    "comes back; older missed runs are skipped. Never more "
                    "than one catch-up run per policy."),
    cfg.FloatOpt("retention_interval", default=10.0, min=0.05,
                 help="Seconds between two passes of retention over every "
                      "policy's checkpoints. A policy's retention also runs "
                      "within about half a second of one of its checkpoints "
                      "becoming available; this pass is the backstop."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    # A group of its own: a shared OptGroup would share its options (and
    # their overrides) between every ConfigOpts of the process.
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title,
                                     help=GROUP.help))
    conf.register_opts(opts, group=GROUP)


def list_opts() -> list:
    return [(GROUP, opts)]
