"""Options of the ``[DEFAULT]`` group owned by share_worker.

``transport_url`` and ``control_exchange`` belong to oslo.messaging and are
registered by it; this module holds the worker's own::

    from oslo_config import cfg
    from share_worker.conf import default
    conf = cfg.ConfigOpts()
    default.register_opts(conf)
    conf([])
    conf.state_path
"""

import os
import socket

from oslo_config import cfg

opts = [
    cfg.StrOpt("host",
               default=socket.gethostname(),
               sample_default="<hostname>",
               help="Name of this worker: the publisher id of its status "
                    "notifications is share_worker.<host>, and it owns the "
                    "leases it takes on operations under this name, so "
                    "give each worker process a distinct one."),
    cfg.StrOpt("state_path",
               default=os.path.join(os.path.expanduser("~"), ".local",
                                    "share", "share_worker"),
               sample_default="$HOME/.local/share/share_worker",
               help="Directory for the worker's state; the default SQLite "
                    "store lives here."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(opts)


def list_opts() -> list:
    return [("DEFAULT", opts)]
