"""All of share_worker's options, registered on a ConfigOpts handed in.

There is no global ``CONF``: the command line builds one ``ConfigOpts`` and
passes it down::

    from oslo_config import cfg
    from share_worker import conf as sw_conf
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    conf([], project="share_worker")
"""

from oslo_config import cfg

from share_worker.conf import (
    database,
    default,
    manila_client,
    manila_notifications,
    share_worker,
)

MODULES = (default, share_worker, database, manila_client,
           manila_notifications)


def register_opts(conf: cfg.ConfigOpts) -> None:
    for module in MODULES:
        module.register_opts(conf)
