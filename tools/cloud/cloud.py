#!/usr/bin/env python3
"""A real Keystone and a real Manila (dummy driver) for functional tests.

    tools/cloud/cloud.py install   # venvs, cached in SHARE_WORKER_CLOUD_HOME
    tools/cloud/cloud.py start     # installs if needed; no-op when running
    tools/cloud/cloud.py start --json   # then print cloud.json on stdout
    tools/cloud/cloud.py status    # processes, memory, endpoints
    tools/cloud/cloud.py stop      # SIGTERM, SIGKILL after a deadline
    tools/cloud/cloud.py clean     # stop, drop the database, vhost, state

start writes $SHARE_WORKER_CLOUD_STATE/cloud.json (default
~/.cache/share_worker-cloud/state/cloud.json) with the endpoints, users,
passwords and project ids. Environment (all optional):
SHARE_WORKER_CLOUD_HOME, _STATE, _KEYSTONE_PORT (25000), _MANILA_PORT
(28786), _PG (postgresql://postgres@127.0.0.1:5432), _MANILA_DB
(share_worker_manila), _RABBIT (rabbit://guest:guest@127.0.0.1:5672),
_MANILA_VHOST (share_worker_manila), _READY_TIMEOUT (120 s), _PYTHON.
Needs PostgreSQL and RabbitMQ running (tools/ensure-services) and
rabbitmqctl; standard library only.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from localcloud import lifecycle  # noqa: E402
from localcloud.procs import CloudError  # noqa: E402
from localcloud.settings import Settings  # noqa: E402

COMMANDS = {
    "install": lifecycle.install,
    "start": lifecycle.start,
    "stop": lifecycle.stop,
    "clean": lifecycle.clean,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted([*COMMANDS, "status"]))
    parser.add_argument("--json", action="store_true",
                        help="start: print cloud.json instead of a status")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "status":
        return 0 if lifecycle.status(settings) else 3
    try:
        result = COMMANDS[args.command](settings)
        if args.command == "start" and args.json:
            json.dump(result, sys.stdout, indent=1)
        elif args.command == "start":
            lifecycle.status(settings)
    except CloudError as err:
        print("cloud %s failed: %s" % (args.command, err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
