"""``share-worker-ctl``: the command-line client for people.

    export SHARE_WORKER_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/
    export OS_PROJECT_ID=proj-a
    share-worker-ctl protect 5f1c0e3a-share-id --option force=true --wait
    share-worker-ctl list --status available
    share-worker-ctl restore CHECKPOINT_ID --name back --wait
    share-worker-ctl --json show CHECKPOINT_ID
    share-worker-ctl watch --checkpoint CHECKPOINT_ID
    share-worker-ctl delete CHECKPOINT_ID --cast
    share-worker-ctl policy create nightly --all-shares --cron "30 2 * * *" \\
        --timezone Europe/Paris --max-count 7 --trigger share.create.end
    share-worker-ctl policy list
    share-worker-ctl policy update POLICY_ID --disable

It speaks the RPC contract of DESIGN section 3 (policies: 3.1) through
:class:`share_worker.rpcapi.ShareWorkerAPI` and follows the status
notifications of section 4 (``watch``, ``--wait``) with a listener of its
own. Output is for people (tables, ``key: value`` lines) unless ``--json``
is given. Exit codes: 0 done, 1 refused or failed (the worker's error on
stderr), 2 usage error or timeout, 130 interrupted.

Embedding and tests inject their own client and listener::

    main(["list"], api_factory=FakeAPI, listener_factory=FakeListener)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

#: oslo.messaging imports oslo.service, which warns about eventlet on
#: import; a person running a command has nothing to do about it.
_EVENTLET_WARNING = r"\s*Eventlet is deprecated"


def main(argv: Sequence[str] | None = None,
         api_factory: Callable[..., Any] | None = None,
         listener_factory: Callable[..., Any] | None = None) -> int:
    """Run one ``share-worker-ctl`` command; return its exit code.

    *api_factory* ``(transport_url, topic=, exchange=, timeout=)`` returns
    a client like ``ShareWorkerAPI`` (the default is its ``from_url``);
    *listener_factory* ``(transport_url=, exchange=, topic=, endpoint=)``
    returns a started notification listener with a ``stop()`` method.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_EVENTLET_WARNING)
        from share_worker.cmd import ctl_cli
    return ctl_cli.run(argv, api_factory=api_factory,
                       listener_factory=listener_factory)


if __name__ == "__main__":
    raise SystemExit(main())
