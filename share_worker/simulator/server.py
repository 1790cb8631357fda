"""HTTP/1.1 keep-alive server in front of a :class:`~.core.ManilaSimulator`.

    >>> from share_worker.simulator import ManilaSimulator
    >>> from share_worker.simulator.server import SimulatorServer
    >>> server = SimulatorServer(ManilaSimulator(), "127.0.0.1", 0)
    >>> server.start()
    >>> server.url.endswith("/v2")
    True
    >>> server.stop()

One thread per connection (``ThreadingHTTPServer``); each response is
written in a single ``sendall`` with its ``Content-Length`` so keep-alive
connections never wait on Nagle's algorithm.
"""

from __future__ import annotations

import http.server
import logging
import socket
import threading
import time
from urllib import parse

from share_worker.simulator import errors, router
from share_worker.simulator.core import ManilaSimulator, Outcome

LOG = logging.getLogger(__name__)
_REASONS = {status.value: status.phrase for status in http.HTTPStatus}
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n"
)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "manila-simulator"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        LOG.debug("%s " + format, self.address_string(), *args)

    def handle_one_request(self) -> None:
        """Read one request (lean parser: the stdlib's email-based one
        costs more than the whole simulated API call)."""
        line = self.rfile.readline(65537)
        if not line:
            self.close_connection = True
            return
        self.requestline = line.decode("latin-1").rstrip("\r\n")
        parts = self.requestline.split(" ")
        if len(parts) != 3 or len(line) > 65536:
            self.close_connection = True
            self.wfile.write(_BAD_REQUEST)
            return
        self.command, self.path, self.request_version = parts
        headers = _Headers()
        while True:
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, _sep, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("Connection", "").lower()
        self.close_connection = connection == "close" or (
            self.request_version == "HTTP/1.0" and connection != "keep-alive"
        )
        self._serve()

    def _serve(self) -> None:
        split = parse.urlsplit(self.path)
        path = split.path
        query = dict(parse.parse_qsl(split.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or self.server.host_port
        try:
            outcome = self.server.sim.serve(
                self.command, split.path, query, self.headers, body,
                f"http://{host}",
            )
        except Exception:  # a simulator bug: answer like Manila would
            LOG.exception("simulator failed on %s %s", self.command, path)
            outcome = Outcome(router.Response(
                500, router.json_bytes(errors.fault_body(500)),
                {"Content-Type": "application/json"},
            ))
        if outcome.latency > 0:
            time.sleep(outcome.latency)
        response = outcome.response
        if response is None:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        reason = _REASONS.get(response.status, "")
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in response.headers.items()]
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + response.body)
        self.log_request(response.status, len(response.body))



class _Headers(dict):
    """Request headers, keyed in lower case, looked up in any case."""

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict.get(self, key.lower(), default)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int],
                 sim: ManilaSimulator) -> None:
        self.sim = sim
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.host_port = f"{host}:{port}"

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (killed, timed out) is no error of
        the simulator's: one debug line, not a traceback on stderr."""
        LOG.debug("connection from %s ended abruptly", client_address,
                  exc_info=True)


class SimulatorServer:
    """Serve ``sim`` on ``host:port`` (0: any free port)."""

    def __init__(self, sim: ManilaSimulator, host: str = "127.0.0.1",
                 port: int = 8786) -> None:
        self.sim = sim
        self._httpd = _Server((host, port), sim)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://{self._httpd.host_port}"

    @property
    def url(self) -> str:
        """The ``/v2`` endpoint to give manilaclient."""
        return self.root_url + "/v2"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"manila-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` is called elsewhere."""
        self._httpd.serve_forever(poll_interval=0.1)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
