"""Options of the ``[database]`` group: where checkpoints live.

Example::

    from oslo_config import cfg
    from share_worker.conf import database
    conf = cfg.ConfigOpts()
    database.register_opts(conf)
    conf([])
    conf.database.connection   # None: a SQLite file under state_path
"""

from oslo_config import cfg

GROUP = cfg.OptGroup("database", title="Store of checkpoints, restores "
                                       "and operations")

opts = [
    cfg.StrOpt("connection",
               secret=True,
               help="SQLAlchemy URL of the store, e.g. "
                    "postgresql+psycopg2://user:pass@host/share_worker. "
                    "Unset: the SQLite file $state_path/share_worker.sqlite "
                    "(one worker process only; use PostgreSQL for several)."),
    cfg.IntOpt("pool_size", default=10, min=1,
               help="Connections kept open to a PostgreSQL store."),
    cfg.BoolOpt("auto_migrate", default=True,
                help="Upgrade the store's schema to the newest version at "
                     "start-up."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    # A group of its own: a shared OptGroup would share its options (and
    # their overrides) between every ConfigOpts of the process.
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title,
                                     help=GROUP.help))
    conf.register_opts(opts, group=GROUP)


def list_opts() -> list:
    return [(GROUP, opts)]
