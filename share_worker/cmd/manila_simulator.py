"""``share-worker-manila-simulator``: run the Manila simulator standalone.

    $ share-worker-manila-simulator --port 0 --snapshot-delay 2 \\
          --seed-shares 2000 --project bench
    http://127.0.0.1:41234/v2

The first line on stdout is the ``/v2`` endpoint, printed once the server
listens, so a parent process can read it.  SIGTERM or SIGINT stops it.
Drive it over HTTP with the ``/_sim`` routes (see
:mod:`share_worker.simulator`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from share_worker.simulator import ManilaSimulator
from share_worker.simulator.server import SimulatorServer

_DELAYS = (
    ("share_create", "--share-create-delay"),
    ("share_delete", "--share-delete-delay"),
    ("snapshot_create", "--snapshot-delay"),
    ("snapshot_delete", "--snapshot-delete-delay"),
    ("revert", "--revert-delay"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8786,
                        help="0 picks a free port")
    parser.add_argument("--max-version", default=None,
                        help="highest microversion served (default 2.98)")
    for name, flag in _DELAYS:
        parser.add_argument(flag, dest=name, type=float, default=0.0,
                            help=f"seconds {name.replace('_', ' ')} takes")
    parser.add_argument("--seed-shares", type=int, default=0, metavar="N",
                        help="create N available shares at start")
    parser.add_argument("--project", default="demo",
                        help="project of the seeded shares")
    parser.add_argument("--admin-project", action="append", default=None,
                        help="project whose users are admins (repeatable; "
                        "default: admin)")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    sim = ManilaSimulator(
        max_version=args.max_version,
        admin_projects=args.admin_project or ("admin",),
        delays={name: getattr(args, name) for name, _flag in _DELAYS},
    )
    if args.seed_shares:
        sim.create_shares(args.project, args.seed_shares)
    server = SimulatorServer(sim, args.host, args.port)
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.start()
    print(server.url, flush=True)
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
