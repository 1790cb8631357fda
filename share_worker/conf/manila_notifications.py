"""Options of the ``[manila_notifications]`` group: where the worker
listens to Manila's own notifications (``share.create.end``, ...).

Manila publishes them on its ``control_exchange`` (Manila's default is
``openstack``), topic ``notifications``, when its
``[oslo_messaging_notifications] driver = messagingv2``. The worker
consumes them through its own pool (its own queue), so consumers such as
Ceilometer keep receiving every message.

Example::

    from oslo_config import cfg
    from share_worker.conf import manila_notifications
    conf = cfg.ConfigOpts()
    manila_notifications.register_opts(conf)
    conf([])
    conf.manila_notifications.exchange    # 'openstack'
"""

from oslo_config import cfg

GROUP = cfg.OptGroup("manila_notifications",
                     title="Manila's notifications the worker consumes")

opts = [
    cfg.BoolOpt("enabled", default=True,
                help="Listen to Manila's notifications and protect shares "
                     "whose policies name the event in their triggers."),
    cfg.StrOpt("transport_url", secret=True,
               help="Transport URL of the broker and virtual host Manila "
                    "publishes on. Unset: the worker's own "
                    "[DEFAULT] transport_url."),
    cfg.StrOpt("exchange", default="openstack",
               help="Manila's control_exchange (Manila's default is "
                    "'openstack'; many deployments set 'manila')."),
    cfg.ListOpt("topics", default=["notifications"],
                help="Manila's [oslo_messaging_notifications] topics."),
    cfg.StrOpt("pool", default="share_worker_manila_events",
               help="Listener pool: the name of the worker's own queue on "
                    "Manila's topics, so other consumers keep their "
                    "messages. Workers sharing a pool share the events. "
                    "It must differ from [share_worker] topic, which names "
                    "the RPC queue on the same broker."),
    cfg.IntOpt("prefetch", default=16, min=1, max=1000,
               help="Most notifications this process holds at once; one "
                    "is acknowledged only once it has been acted on."),
    cfg.IntOpt("retry_attempts", default=6, min=1, max=100,
               help="Tries of a notification that failed for a transient "
                    "reason (the worker is Busy) before it is dropped with "
                    "a log line. A store that can't be reached is waited "
                    "for instead (not counted): the notification stays in "
                    "the worker's hands and the others in the queue."),
    cfg.FloatOpt("retry_backoff", default=1.0, min=0.01, max=60.0,
                 help="Seconds before the second try of such a "
                      "notification; doubles for each later one (at most "
                      "60)."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    # A group of its own: a shared OptGroup would share its options (and
    # their overrides) between every ConfigOpts of the process.
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title,
                                     help=GROUP.help))
    conf.register_opts(opts, group=GROUP)


def list_opts() -> list:
    return [(GROUP, opts)]
