"""A worker process for crash tests: starts an engine, accepts the
protects / restores named on the command line, prints READY, then runs
until it is killed.

    python -m tests.functional.engine_proc --config-file w.conf \
        --protect SHARE_ID:CHECKPOINT_ID --restore CHECKPOINT_ID
"""

import argparse
import sys
import threading

from oslo_config import cfg
from oslo_context import context as o_context

from share_worker import conf as sw_conf
from share_worker import service


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-file", required=True)
    parser.add_argument("--project", default="proj-a")
    parser.add_argument("--protect", action="append", default=[])
    parser.add_argument("--restore", action="append", default=[])
    args = parser.parse_args()
    conf = cfg.ConfigOpts()
    sw_conf.register_opts(conf)
    conf(["--config-file", args.config_file], project="share_worker")
    engine = service.build_engine(conf)
    engine.start()
    ctx = o_context.RequestContext(user_id="user-1", project_id=args.project)
    for item in args.protect:
        share_id, checkpoint_id = item.split(":")
        engine.protect(ctx, {"type": "OS::Manila::Share", "id": share_id},
                       checkpoint_id=checkpoint_id)
    for checkpoint_id in args.restore:
        restore = engine.restore(ctx, checkpoint_id)
        print("RESTORE", restore["id"], flush=True)
    print("READY", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
