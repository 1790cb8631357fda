"""A private RabbitMQ node that a test starts, stops, kills and removes,
so outage tests never touch the machine's broker (rabbit@localhost)::

    with RabbitNode() as node:            # start() now, remove() at the end
        node.url                          # rabbit://guest:guest@127.0.0.1:N/
        node.stop(); node.start()         # a restart: durable queues stay
        node.kill(); node.start()         # a crash (SIGKILL), then recovery
        node.queue_depths()               # {"queue-name": messages, ...}

The node has its own name (``swtest-<hex>@localhost``), AMQP and Erlang
distribution ports, and config, data and log directories in a temporary
directory that ``remove()`` deletes; the machine's rabbitmq-env.conf and
rabbitmq.conf are not read, and every ``rabbitmqctl`` call has ``-n``.
The node runs in the foreground as our child (not ``-detached``), so a
failed boot is noticed at once and ``remove()`` can reap what it started.
Run as root, node and CLI run as the ``rabbitmq`` user with its HOME, as
the /usr/sbin wrappers do, so they share its Erlang cookie.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from typing import Any, NoReturn

import kombu

from share_worker.testing.tcp_proxy import free_port

BIN_DIR = "/usr/lib/rabbitmq/bin"   # what the /usr/sbin wrappers run
START_TIMEOUT = 60.0
_CLI_PORTS = range(35672, 35683)    # rabbitmqctl's own distribution ports


def _run_as() -> tuple[dict[str, Any], str]:
    """subprocess arguments that drop root to ``rabbitmq``, and a HOME."""
    home = os.path.expanduser("~")
    if os.geteuid() != 0:
        return {}, home
    try:
        user = pwd.getpwnam("rabbitmq")
    except KeyError:
        return {}, home
    groups = os.getgrouplist(user.pw_name, user.pw_gid)
    return ({"user": user.pw_uid, "group": user.pw_gid,
             "extra_groups": groups}, user.pw_dir)


class RabbitNode:
    """A RabbitMQ node of its own; see the module docstring."""

    def __init__(self, prefix: str = "swtest", bin_dir: str = BIN_DIR
                 ) -> None:
        self.node_name = "%s-%s@localhost" % (prefix, uuid.uuid4().hex[:8])
        self.bin_dir = bin_dir
        self.dir: str | None = None
        self._port = self._dist_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_as, self._home = _run_as()

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("node %s never started" % self.node_name)
        return self._port

    @property
    def url(self) -> str:
        """An oslo.messaging transport URL."""
        return "rabbit://guest:guest@127.0.0.1:%d/" % self.port

    @property
    def amqp_url(self) -> str:
        """A kombu URL (the default vhost)."""
        return "amqp://guest:guest@127.0.0.1:%d//" % self.port

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The OS pid of the node's Erlang VM while it runs."""
        if not self.running or self.dir is None:
            return None
        assert self._proc is not None
        with contextlib.suppress(OSError, ValueError):
            with open(os.path.join(self.dir, "node.pid")) as f:
                pid = int(f.read().strip())
            if os.getpgid(pid) == self._proc.pid:   # ours, not a stale one
                return pid
        out = self.rabbitmqctl("eval", "os:getpid().").stdout
        return int(out.strip().strip('"'))

    # -- life cycle --------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> RabbitNode:
        """Boot the node (again: a restart keeps its data) and return once
        it answers ``await_startup`` and accepts an AMQP connection."""
        if self.running:
            return self
        if self.dir is None:
            self._prepare()
        assert self.dir is not None
        deadline = time.monotonic() + timeout
        with open(os.path.join(self.dir, "log", "console.log"), "ab") as out:
            self._proc = subprocess.Popen(
                [os.path.join(self.bin_dir, "rabbitmq-server")],
                env=self._env(), cwd=self.dir, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                **self._run_as)
        try:
            self._await_up(deadline)
        except BaseException:
            self._kill_group()
            raise
        return self

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        """Stop the node cleanly (``rabbitmqctl stop``); its data stays."""
        if not self.running:
            return
        assert self._proc is not None
        try:
            stopped = self.rabbitmqctl("stop", check=False,
                                       timeout=timeout).returncode == 0
        except subprocess.TimeoutExpired:
            stopped = False
        if not stopped:
            self._proc.terminate()   # the script turns this into a stop
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_group()
            self._fail("did not stop in %.0f s; killed it" % timeout)

    def restart(self, timeout: float = START_TIMEOUT) -> RabbitNode:
        self.stop(timeout)
        return self.start(timeout)

    def kill(self, timeout: float = 30.0) -> None:
        """SIGKILL the node's Erlang VM: a crash, no clean shutdown."""
        pid = self.pid
        if pid is None or self._proc is None:
            return
        os.kill(pid, signal.SIGKILL)
        try:
            self._proc.wait(timeout)   # the script exits with its VM
        except subprocess.TimeoutExpired:
            self._kill_group()

    def remove(self) -> None:
        """Stop the node if it runs (kill it if it will not stop) and
        delete its directory.  Safe to call more than once."""
        try:
            if self.running:
                self.stop()
        finally:
            self._kill_group()
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def __enter__(self) -> RabbitNode:
        try:
            return self.start()
        except BaseException:
            self.remove()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    # -- inspection ---------------------------------------------------------

    def rabbitmqctl(self, *args: str, check: bool = True,
                    timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``rabbitmqctl -n <this node> *args``."""
        result = subprocess.run(
            [os.path.join(self.bin_dir, "rabbitmqctl"), "-n", self.node_name,
             *args], env=self._env(), capture_output=True, text=True,
            timeout=timeout, cwd=self.dir or "/", **self._run_as)
        if check and result.returncode != 0:
            raise RuntimeError("rabbitmqctl -n %s %s failed (%d): %s" % (
                self.node_name, " ".join(args), result.returncode,
                (result.stderr or result.stdout).strip()))
        return result

    def queue_depths(self, vhost: str = "/") -> dict[str, int]:
        """Messages (ready and unacknowledged) in each queue of vhost."""
        out = self.rabbitmqctl("list_queues", "-p", vhost, "name",
                               "messages", "--formatter", "json", "-q").stdout
        return {row["name"]: int(row["messages"])
                for row in json.loads(out or "[]")}

    def log_tail(self, lines: int = 30) -> str:
        """The end of the node's console output and of its log file."""
        if self.dir is None:
            return ""
        tails = []
        for name in ("console.log", "%s.log" % self.node_name):
            with contextlib.suppress(OSError):
                with open(os.path.join(self.dir, "log", name),
                          errors="replace") as f:
                    tails.append("--- %s\n%s" % (
                        name, "".join(f.readlines()[-lines:])))
        return "\n".join(tails)

    # -- internals ---------------------------------------------------------

    def _prepare(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="swtest-rabbit-")
        os.chmod(self.dir, 0o755)
        for sub in ("mnesia", "log", "conf.d"):
            os.mkdir(os.path.join(self.dir, sub))
        self._port = free_port(exclude=_CLI_PORTS)
        self._dist_port = free_port(exclude=[*_CLI_PORTS, self._port])
        # No plugin (no management on 15672), and an empty env file in
        # place of the machine's, which says NODENAME=rabbit@localhost.
        files = {"rabbitmq.conf": "listeners.tcp.default = 127.0.0.1:%d\n"
                                  "loopback_users = none\n" % self._port,
                 "enabled_plugins": "[].\n", "rabbitmq-env.conf": ""}
        for name, text in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(text)
        if "user" in self._run_as:
            for root, dirs, names in os.walk(self.dir):
                for name in [".", *dirs, *names]:
                    os.chown(os.path.join(root, name), self._run_as["user"],
                             self._run_as["group"])

    def _env(self) -> dict[str, str]:
        def path(*parts: str) -> str:
            return os.path.join(self.dir or tempfile.gettempdir(), *parts)

        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/bin"),
            "HOME": self._home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_CONF_ENV_FILE": path("rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": path("rabbitmq.conf"),
            "RABBITMQ_CONFIG_FILES": path("conf.d", "*.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": path("advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": path("enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": path("mnesia"),
            "RABBITMQ_LOG_BASE": path("log"),
            "RABBITMQ_PID_FILE": path("node.pid"),
            "ERL_CRASH_DUMP": path("log", "erl_crash.dump"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        if self._dist_port:   # else it is AMQP port + 20000: maybe > 65535
            env["RABBITMQ_DIST_PORT"] = str(self._dist_port)
        return env

    def _await_up(self, deadline: float) -> None:
        def port_open() -> bool:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self._port), 1).close()
                return True
            return False

        def booted() -> bool:
            left = max(1, int(deadline - time.monotonic()))
            return self.rabbitmqctl("await_startup", "--timeout", str(left),
                                    check=False, timeout=left + 10
                                    ).returncode == 0

        def amqp_works() -> bool:
            with contextlib.suppress(Exception):
                with kombu.Connection(self.amqp_url, connect_timeout=5) as c:
                    c.connect()
                    return True
            return False

        for what, ready in (("open its AMQP port", port_open),
                            ("pass await_startup", booted),
                            ("accept an AMQP connection", amqp_works)):
            while not ready():
                assert self._proc is not None
                if self._proc.poll() is not None:
                    self._fail("exited while booting")
                if time.monotonic() > deadline:
                    self._fail("did not %s in time" % what)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(0.1)   # a pause that notices a crash

    def _fail(self, what: str) -> NoReturn:
        raise RuntimeError("RabbitMQ node %s (port %d) %s\n%s" % (
            self.node_name, self._port, what, self.log_tail()))

    def _kill_group(self) -> None:
        """SIGKILL the script and everything it started (one session)."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(30)
