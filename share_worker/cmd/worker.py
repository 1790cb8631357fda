"""``share-worker``: the RPC server that protects Manila shares.

    share-worker --config-file /etc/share_worker/share_worker.conf
    share-worker --demo        # local RabbitMQ + bundled Manila simulator

SIGTERM or SIGINT stops it cleanly: in-flight operations stay in the store
and resume at the next start (or on another worker).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence

from oslo_config import cfg
from oslo_log import log as logging

from share_worker import conf as sw_conf
from share_worker import exception, messaging
from share_worker.service import WorkerService

LOG = logging.getLogger(__name__)

_cli_opts = [
    cfg.BoolOpt("demo", default=False,
                help="Demo mode: start the bundled Manila simulator beside "
                     "the worker (noauth, a demo share), then protect, "
                     "restore and delete that share over RPC, printing the "
                     "status events. Never used unless asked for."),
]


def prepare(argv: Sequence[str] | None) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    messaging.register_opts(conf)
    logging.register_options(conf)
    conf.register_cli_opts(_cli_opts)
    conf(list(argv) if argv is not None else sys.argv[1:],
         project="share_worker")
    logging.setup(conf, "share_worker")
    return conf


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(argv) if argv is not None else sys.argv[1:]
    conf = prepare(argv)
    demo = None
    if conf.demo:
        from share_worker import demo as demo_mod

        demo = demo_mod.Demo(conf)
        demo.start_simulator()
        demo.start_listener()
    try:
        worker = WorkerService(conf, argv)
    except (exception.ConfigurationError, exception.PluginLoadError) as e:
        LOG.error("%s", e)
        print("share-worker: %s" % e, file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        LOG.info("Signal %d received", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.start()
    if demo is not None:
        demo.run_in_background(stopping)
    stopping.wait()
    worker.stop()
    if demo is not None:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
