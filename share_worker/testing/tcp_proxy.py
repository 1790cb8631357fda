"""A TCP proxy a test puts in front of a server to fake an outage::

    with TcpProxy("127.0.0.1", 5432) as proxy:     # PostgreSQL
        url = "postgresql+psycopg2://postgres@127.0.0.1:%d/postgres" % (
            proxy.port)
        proxy.cut()       # open connections get an RST, connect() refused
        proxy.restore()   # listening and forwarding again, same port
        proxy.stall()     # a black hole: sockets stay up, no byte moves
        proxy.unstall()   # the held bytes flow again

``cut()`` closes the listening socket, so a connect() during a cut is
refused by the kernel, as when the server is down; ``restore()`` binds
the same port again (SO_REUSEADDR).  A port picked for you lies below
the kernel's ephemeral range, so no outgoing connection takes it while
the proxy is cut.  One thread accepts; each connection has one thread
polling both sockets and a wake-up socketpair, 64 KiB per recv().
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable

CHUNK = 64 * 1024
JOIN_TIMEOUT = 10.0
_OPEN, _STALLED, _CUT, _STOPPED = "open", "stalled", "cut", "stopped"
_IN = select.POLLIN | select.POLLPRI


def free_port(host: str = "127.0.0.1", exclude: Iterable[int] = ()) -> int:
    """A port free on ``host`` now, below the ephemeral range if possible
    (so outgoing connections never borrow it while its owner is down)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 1024
    below = range(max(1024, low - 12000), low)
    for port in [*random.sample(below, min(200, len(below))), 0, 0, 0]:
        with socket.socket() as probe:
            with contextlib.suppress(OSError):
                probe.bind((host, port))
                if probe.getsockname()[1] not in (0, *exclude):
                    return probe.getsockname()[1]
    raise RuntimeError("no free port on %s" % host)


def _reset(sock: socket.socket | None) -> None:
    """Close with SO_LINGER 0, so the peer gets an RST, not a FIN."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    sock.close()


class _Waker:
    """A socketpair: poll() on ``fd``, ``wake()`` from any thread."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)
        self.fd = self._r.fileno()

    def wake(self) -> None:
        with contextlib.suppress(OSError):
            self._w.send(b"x")

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._r.recv(4096):
                pass

    def wait(self) -> None:
        poller = select.poll()
        poller.register(self.fd, _IN)
        poller.poll()
        self.drain()

    def close(self) -> None:
        self._r.close()
        self._w.close()


class _Conn:
    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self.waker = _Waker()
        self.paused = threading.Event()
        self.thread: threading.Thread | None = None


class TcpProxy:
    """Forwards ``listen_host:port`` to ``target_host:target_port``."""

    def __init__(self, target_host: str, target_port: int,
                 listen_host: str = "127.0.0.1", listen_port: int = 0
                 ) -> None:
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self._port = listen_port
        self._state = _STOPPED
        self._lock = threading.Lock()
        self._conns: set[_Conn] = set()
        self._acceptor: threading.Thread | None = None
        self._acceptor_waker: _Waker | None = None
        self._serial = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def connections(self) -> int:
        """Client connections open now (held ones during a stall too)."""
        with self._lock:
            return len(self._conns)

    def start(self) -> TcpProxy:
        if self._state != _STOPPED:
            raise RuntimeError("proxy already started")
        self._port = self._port or free_port(self.listen_host)
        self._listen(self._port)
        self._state = _OPEN
        return self

    def cut(self) -> None:
        """Reset every open connection and refuse new ones; returns once
        they are all closed."""
        self._close_all(_CUT)

    def restore(self) -> None:
        """Listen on the same port and forward again (ends a stall too)."""
        if self._state == _STOPPED:
            raise RuntimeError("proxy is stopped")
        if self._state == _CUT:
            self._listen(self._port)
        self._set_state(_OPEN)

    def stall(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Stop moving bytes (both ways); connect() still succeeds, but new
        connections are held without reaching the target.  Returns once
        every connection thread has paused."""
        if self._state != _OPEN:
            raise RuntimeError("cannot stall a %s proxy" % self._state)
        deadline = time.monotonic() + timeout
        for conn in self._set_state(_STALLED):
            if not conn.paused.wait(max(0.0, deadline - time.monotonic())):
                raise RuntimeError("a proxied connection did not pause")

    def unstall(self) -> None:
        if self._state == _STALLED:
            self._set_state(_OPEN)

    def stop(self) -> None:
        """Reset all connections, close the listener, join every thread."""
        self._close_all(_STOPPED)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------

    def _set_state(self, state: str) -> list[_Conn]:
        with self._lock:
            self._state = state
            conns = list(self._conns)
            for conn in conns:
                conn.paused.clear()
        for conn in conns:
            conn.waker.wake()
        return conns

    def _listen(self, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.listen_host, port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._acceptor_waker = _Waker()
        self._acceptor = threading.Thread(
            target=self._accept_loop, args=(listener, self._acceptor_waker),
            name="tcp-proxy-%d-accept" % port, daemon=True)
        self._acceptor.start()

    def _close_all(self, state: str) -> None:
        with self._lock:
            if self._state == _STOPPED or self._state == state:
                return
            self._state = state
        threads = []
        if self._acceptor is not None and self._acceptor_waker is not None:
            self._acceptor_waker.wake()  # it closes the listener
            threads.append(self._acceptor)
            self._acceptor.join(JOIN_TIMEOUT)
            self._acceptor = self._acceptor_waker = None
        with self._lock:  # no new connection once the acceptor is gone
            conns = list(self._conns)
        for conn in conns:
            conn.waker.wake()
        deadline = time.monotonic() + JOIN_TIMEOUT
        for conn in conns:
            if conn.thread is not None:
                threads.append(conn.thread)
                conn.thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            raise RuntimeError("tcp proxy threads did not stop in time")

    def _accept_loop(self, listener: socket.socket, waker: _Waker) -> None:
        poller = select.poll()
        poller.register(listener, _IN)
        poller.register(waker.fd, _IN)
        try:
            while True:
                if any(fd == waker.fd for fd, _ in poller.poll()):
                    return
                try:
                    client, _ = listener.accept()
                except OSError:
                    continue
                self._adopt(client)
        finally:
            listener.close()
            waker.close()

    def _adopt(self, client: socket.socket) -> None:
        conn = _Conn(client)
        with self._lock:
            if self._state in (_CUT, _STOPPED):
                _reset(client)
                conn.waker.close()
                return
            self._serial += 1
            conn.thread = threading.Thread(
                target=self._serve, args=(conn,), daemon=True,
                name="tcp-proxy-%d-conn-%d" % (self._port, self._serial))
            self._conns.add(conn)
        conn.thread.start()

    def _serve(self, conn: _Conn) -> None:
        graceful = False
        try:
            if self._hold(conn):
                conn.upstream = socket.create_connection(self.target, 5.0)
                graceful = self._pump(conn)
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            for sock in (conn.client, conn.upstream):
                if graceful and sock is not None:
                    sock.close()
                else:
                    _reset(sock)
            conn.paused.set()
            conn.waker.close()

    def _hold(self, conn: _Conn) -> bool:
        """Wait out a stall; False when the proxy is cut or stopped."""
        while True:
            state = self._state
            if state == _OPEN:
                return True
            if state != _STALLED:
                return False
            conn.paused.set()
            conn.waker.wait()

    def _pump(self, conn: _Conn) -> bool:
        """Forward until both directions are closed (True) or the proxy
        is cut or stopped or a socket fails (False: reset both)."""
        assert conn.upstream is not None
        ends = (conn.client, conn.upstream)
        for sock in ends:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = {ends[0]: ends[1], ends[1]: ends[0]}
        by_fd = {sock.fileno(): sock for sock in ends}
        pending = {sock: bytearray() for sock in ends}  # bytes to send it
        eof = {sock: False for sock in ends}            # it sent FIN
        shut = {sock: False for sock in ends}           # we sent it FIN
        poller = select.poll()
        poller.register(conn.waker.fd, _IN)
        polled = set(ends)
        for sock in ends:
            poller.register(sock, 0)
        while True:
            if not self._hold(conn):
                return False
            for sock in polled:
                mask = select.POLLOUT if pending[sock] else 0
                if not eof[sock] and len(pending[peer[sock]]) < CHUNK:
                    mask |= _IN
                poller.modify(sock, mask)
            events = poller.poll()
            if any(fd == conn.waker.fd for fd, _ in events):
                conn.waker.drain()  # re-read the state before moving bytes
                continue
            for fd, event in events:
                sock = by_fd[fd]
                if event & (select.POLLERR | select.POLLNVAL):
                    return False
                if eof[sock]:
                    if event & select.POLLHUP:
                        return False  # gone while we still had to write
                    continue
                if event & (_IN | select.POLLHUP):
                    try:
                        data = sock.recv(CHUNK)
                    except BlockingIOError:
                        continue
                    if data:
                        pending[peer[sock]] += data
                    else:
                        eof[sock] = True
            for sock in ends:
                if pending[sock]:
                    with contextlib.suppress(BlockingIOError):
                        del pending[sock][:sock.send(pending[sock])]
                if eof[peer[sock]] and not pending[sock] and not shut[sock]:
                    sock.shutdown(socket.SHUT_WR)
                    shut[sock] = True
                if eof[sock] and shut[sock] and sock in polled:
                    poller.unregister(sock)  # else POLLHUP, forever
                    polled.discard(sock)
            if all(shut.values()):
                return True
