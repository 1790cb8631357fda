"""``share-worker``: the RPC server that protects Manila shares.

    share-worker --config-file /etc/share_worker/share_worker.conf
    share-worker --demo        # local RabbitMQ + bundled Manila simulator

SIGTERM or SIGINT stops it cleanly within ``[share_worker]
shutdown_timeout`` seconds, broker or store unreachable included:
requests not yet recorded go back to their queue, in-flight operations
and unsent events stay in the store, and all resume at the next start
(or on another worker).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence

from oslo_config import cfg
from oslo_log import log as logging

from share_worker import conf as sw_conf
from share_worker import exception, log_escaping, messaging
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
    log_escaping.install()        # no caller-supplied text forges a line
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
    grace = conf.share_worker.shutdown_timeout + 1.0
    if not _stop_within(worker, grace):
        # Everything the worker accepted is in the store or its queue:
        # leaving now loses nothing.
        LOG.error("share_worker did not stop within %.0f s; exiting",
                  grace)
        logging_flush()
        os._exit(1)
    if demo is not None:
        demo.stop()
    return 0


def _stop_within(worker: WorkerService, timeout: float) -> bool:
    """Stop *worker* on a thread of its own; whether it ended in time."""
    thread = threading.Thread(target=worker.stop, name="stop", daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive()


def logging_flush() -> None:
    import logging as std_logging

    for handler in std_logging.getLogger().handlers:
        try:
            handler.flush()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


if __name__ == "__main__":
    sys.exit(main())
