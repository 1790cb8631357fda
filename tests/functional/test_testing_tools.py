"""The outage tools on the real services: a private RabbitMQ node that is
restarted, killed and removed, and a TCP proxy that cuts and stalls the
way to PostgreSQL and to an echo server::

    .venv/bin/pytest -p no:cacheprovider tests/functional/test_testing_tools.py
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import amqp.exceptions
import kombu
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from share_worker.testing import rabbitmq
from share_worker.testing.rabbitmq_node import RabbitNode
from share_worker.testing.tcp_proxy import TcpProxy
from tests.conftest import PG_SERVER, wait_for

# -- a private RabbitMQ node -------------------------------------------------


@pytest.fixture(scope="module")
def node() -> Iterator[RabbitNode]:
    node = RabbitNode()
    try:
        yield node.start()
    finally:
        node.remove()


def publish(node: RabbitNode, queue: str, body: dict) -> None:
    """A persistent message to a durable queue, confirmed by the broker
    (so it is on disk when this returns)."""
    with kombu.Connection(node.amqp_url,
                          transport_options={"confirm_publish": True}) as c:
        with c.Producer() as producer:
            producer.publish(body, routing_key=queue, delivery_mode=2,
                             declare=[kombu.Queue(queue, durable=True)])


def take(node: RabbitNode, queue: str) -> dict | None:
    with kombu.Connection(node.amqp_url) as conn:
        message = kombu.Queue(queue, durable=True)(conn.channel()).get()
        if message is None:
            return None
        message.ack()
        return message.payload


def test_restart_keeps_durable_queue_and_persistent_message(node):
    queue = "restart-%s" % uuid.uuid4().hex[:8]
    publish(node, queue, {"n": 1})
    assert node.queue_depths()[queue] == 1

    node.restart()

    assert node.queue_depths()[queue] == 1
    assert take(node, queue) == {"n": 1}
    assert node.queue_depths()[queue] == 0
    # The machine's broker never saw the queue: the node is a separate one.
    assert node.port != rabbitmq.PORT
    machine = "amqp://%s:%s@%s:%d//" % (rabbitmq.USER, rabbitmq.PASSWORD,
                                        rabbitmq.HOST, rabbitmq.PORT)
    with kombu.Connection(machine) as conn:
        with pytest.raises(amqp.exceptions.NotFound):
            kombu.Queue(queue)(conn.channel()).queue_declare(passive=True)


def test_kill_is_a_crash_and_start_recovers(node):
    queue = "kill-%s" % uuid.uuid4().hex[:8]
    publish(node, queue, {"n": 1})
    # A queue declared just before a crash may be lost with it (RabbitMQ
    # writes its metadata lazily); a confirmed message on a queue that
    # is on disk is not. A clean restart puts the queue on disk.
    node.restart()
    assert take(node, queue) == {"n": 1}
    publish(node, queue, {"n": 2})
    pid = node.pid
    assert pid is not None

    node.kill()

    assert not node.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", node.port), 2).close()

    node.start()

    assert node.pid != pid
    assert take(node, queue) == {"n": 2}   # it was confirmed, so on disk


def test_remove_leaves_no_node_behind():
    with RabbitNode() as node:
        pid, data_dir = node.pid, node.dir
        assert node.rabbitmqctl("status").returncode == 0
    assert pid is not None and data_dir is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(data_dir)
    assert node.rabbitmqctl("status", check=False).returncode != 0


# -- the TCP proxy -----------------------------------------------------------


class EchoServer:
    """Sends every byte back; closes its side after the client's FIN."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(target=self._echo, args=(conn,),
                                      daemon=True)
            self.threads.append(thread)
            thread.start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(65536):
                conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)   # wakes the accept()
        self.sock.close()
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def recv_exactly(sock: socket.socket, size: int, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "EOF after %d of %d bytes" % (len(data), size)
        data += chunk
    return data


def test_proxy_forwards_both_ways_and_passes_half_close(echo):
    payload = os.urandom(8 * 1024 * 1024)
    received = bytearray()
    with TcpProxy("127.0.0.1", echo.port) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), 5)

        def read_to_eof() -> None:
            while chunk := client.recv(1 << 20):
                received.extend(chunk)

        reader = threading.Thread(target=read_to_eof)
        reader.start()
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)   # the echo server ends on our FIN
        reader.join(20)
        client.close()
        assert not reader.is_alive()
        assert bytes(received) == payload


def test_proxy_cut_resets_refuses_and_restore_reuses_the_port(echo):
    with TcpProxy("127.0.0.1", echo.port) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), 5)
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
        port = proxy.port

        proxy.cut()

        assert proxy.connections == 0
        with pytest.raises(ConnectionResetError):
            client.recv(4)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), 2)

        proxy.restore()

        assert proxy.port == port
        with socket.create_connection(("127.0.0.1", port), 5) as again:
            again.sendall(b"pong")
            assert recv_exactly(again, 4) == b"pong"
        client.close()


def test_proxy_stall_is_a_black_hole_until_unstall(echo):
    with TcpProxy("127.0.0.1", echo.port) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), 5)
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"

        proxy.stall()

        client.sendall(b"held")
        late = socket.create_connection(("127.0.0.1", proxy.port), 5)
        late.sendall(b"late")   # connect() works; nothing goes further
        for sock in (client, late):
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(4)
        assert proxy.connections == 2 and echo.accepted == 1

        proxy.unstall()

        assert recv_exactly(client, 4) == b"held"
        assert recv_exactly(late, 4) == b"late"
        assert echo.accepted == 2
        client.close()
        late.close()


def test_proxy_stop_joins_its_threads(echo):
    proxy = TcpProxy("127.0.0.1", echo.port).start()
    clients = [socket.create_connection(("127.0.0.1", proxy.port), 5)
               for _ in range(3)]
    for client in clients:
        client.sendall(b"x")
        assert recv_exactly(client, 1) == b"x"
    prefix = "tcp-proxy-%d-" % proxy.port
    assert proxy.connections == 3

    proxy.stop()

    assert proxy.connections == 0
    assert not [t for t in threading.enumerate()
                if t.name.startswith(prefix)]
    for client in clients:
        with pytest.raises(ConnectionResetError):
            client.recv(1)
        client.close()


@pytest.mark.postgres
def test_proxy_cut_and_restore_in_front_of_postgresql():
    server = sa.engine.make_url(PG_SERVER)
    with TcpProxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        engine = sa.create_engine(
            server.set(host="127.0.0.1", port=proxy.port,
                       database="postgres"),
            poolclass=NullPool, connect_args={"connect_timeout": 5})
        select_1 = sa.text("SELECT 1")
        conn = engine.connect()
        assert conn.execute(select_1).scalar() == 1
        wait_for(lambda: proxy.connections == 1, what="a proxied connection")

        started = time.monotonic()
        proxy.cut()
        with pytest.raises(sa.exc.OperationalError):
            conn.execute(select_1)
        with pytest.raises(sa.exc.OperationalError, match="refused"):
            engine.connect()
        assert time.monotonic() - started < 2
        conn.close()

        proxy.restore()

        with engine.connect() as again:
            assert again.execute(select_1).scalar() == 1
        engine.dispose()
