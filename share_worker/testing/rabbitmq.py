"""A RabbitMQ virtual host of its own for a test run or a benchmark.

Created and removed with ``rabbitmqctl`` (the broker on this machine),
so runs never see each other's queues::

    with VirtualHost() as vhost:
        vhost.url    # rabbit://guest:guest@127.0.0.1:5672/sw-test-1a2b3c
"""

from __future__ import annotations

import os
import subprocess
import uuid

HOST = os.environ.get("SHARE_WORKER_TEST_RABBIT_HOST", "127.0.0.1")
PORT = int(os.environ.get("SHARE_WORKER_TEST_RABBIT_PORT", "5672"))
USER = os.environ.get("SHARE_WORKER_TEST_RABBIT_USER", "guest")
PASSWORD = os.environ.get("SHARE_WORKER_TEST_RABBIT_PASSWORD", "guest")


def _ctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", *args], capture_output=True,
                            text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("rabbitmqctl %s failed: %s" % (
            " ".join(args), (result.stderr or result.stdout).strip()))
    return result.stdout


class VirtualHost:
    """A uniquely named vhost with full rights for the test user."""

    def __init__(self, prefix: str = "sw-test") -> None:
        self.name = "%s-%s" % (prefix, uuid.uuid4().hex[:10])

    @property
    def url(self) -> str:
        return "rabbit://%s:%s@%s:%d/%s" % (USER, PASSWORD, HOST, PORT,
                                            self.name)

    def create(self) -> VirtualHost:
        _ctl("add_vhost", self.name)
        _ctl("set_permissions", "-p", self.name, USER, ".*", ".*", ".*")
        return self

    def delete(self) -> None:
        _ctl("delete_vhost", self.name)

    def queue_depths(self) -> dict[str, int]:
        """Messages in each queue of the vhost (ready + unacknowledged)."""
        out = _ctl("-q", "list_queues", "-p", self.name, "name", "messages")
        rows = (line.split("\t") for line in out.splitlines() if "\t" in line)
        return {name: int(count) for name, count in rows if count.isdigit()}

    def __enter__(self) -> VirtualHost:
        return self.create()

    def __exit__(self, *exc_info: object) -> None:
        self.delete()
