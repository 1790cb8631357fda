"""Run a simulator on 127.0.0.1 for a test, and build manilaclients for it.

    >>> from share_worker.simulator.fixture import SimulatorFixture
    >>> fx = SimulatorFixture(max_version="2.72")
    >>> fx.start()
    >>> manila = fx.client("proj", version="2.72")
    >>> manila.shares.list()
    []
    >>> fx.stop()

Use it as a context manager, with ``start()``/``stop()``, or (the
``fixtures`` package being installed) as a ``fixtures.Fixture`` via
``self.useFixture(SimulatorFixture())``.  ``.url`` is the ``/v2``
endpoint, ``.sim`` the :class:`~.core.ManilaSimulator`.
"""

from __future__ import annotations

from typing import Any

from share_worker.simulator.core import ManilaSimulator
from share_worker.simulator.server import SimulatorServer

try:
    import fixtures

    _Base: Any = fixtures.Fixture
except ImportError:  # pragma: no cover - fixtures is a test dependency
    fixtures = None
    _Base = object


class SimulatorFixture(_Base):
    """A :class:`ManilaSimulator` served on an ephemeral local port."""

    def __init__(self, sim: ManilaSimulator | None = None,
                 host: str = "127.0.0.1", port: int = 0,
                 **sim_kwargs: Any) -> None:
        if fixtures is not None:
            super().__init__()
        self.sim = sim or ManilaSimulator(**sim_kwargs)
        self._host = host
        self._port = port
        self._server: SimulatorServer | None = None

    # fixtures.Fixture protocol
    def _setUp(self) -> None:
        self._start_server()
        self.addCleanup(self._stop_server)

    def start(self) -> None:
        if fixtures is not None:
            self.setUp()
        else:
            self._start_server()

    def stop(self) -> None:
        if fixtures is not None:
            self.cleanUp()
        else:
            self._stop_server()

    def __enter__(self) -> SimulatorFixture:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> bool:
        self.stop()
        return False

    def _start_server(self) -> None:
        self._server = SimulatorServer(self.sim, self._host, self._port)
        self._server.start()

    def _stop_server(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("simulator fixture is not started")
        return self._server.root_url

    @property
    def url(self) -> str:
        """The Manila ``/v2`` endpoint (no project id in it)."""
        return self.root_url + "/v2"

    def client(self, project_id: str, user_id: str = "u",
               version: str = "2.73", token: str | None = None,
               project_in_url: bool = False, **client_kwargs: Any) -> Any:
        """Return a real manilaclient acting as ``user_id@project_id``.

        The token defaults to Manila's noauth form ``user:project``; pass
        one registered with ``sim.add_token`` to act as Keystone would.
        """
        endpoint = self.url + (f"/{project_id}" if project_in_url else "")
        return manila_client(endpoint, project_id, user_id, version, token,
                             **client_kwargs)


def manila_client(endpoint: str, project_id: str, user_id: str = "u",
                  version: str = "2.73", token: str | None = None,
                  **client_kwargs: Any) -> Any:
    """Build a manilaclient for any simulator endpoint (e.g. one run by
    the console script in another process)."""
    from keystoneauth1 import session, token_endpoint
    from manilaclient import client

    auth = token_endpoint.Token(endpoint, token or f"{user_id}:{project_id}")
    return client.Client(
        version,
        session=session.Session(auth=auth),
        service_catalog_url=endpoint,
        **client_kwargs,
    )
