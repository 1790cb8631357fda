"""The real test cloud: Keystone 30 and Manila 23 (dummy driver) on loopback.

    def test_something(real_cloud):
        sess = real_cloud.session("sw-user-a")       # keystoneauth1 session
        manila = real_cloud.manila("sw-user-a")      # python-manilaclient
        real_cloud.users["share_worker"].project_id

``engine_conf`` (which the functional fixtures ``worker_conf``,
``start_service``, ``rpc`` and ``events`` build on) is overridden here: the
worker runs with ``auth_strategy = keystone`` and its service user in
``[manila_client]``, over the session's own RabbitMQ vhost. ``shares``
makes shares and removes them (and their snapshots) after the test.

``real_cloud`` runs ``tools/cloud/cloud.py start`` once per session: it
installs the services' venvs on first use (minutes), starts what is not
running and is a no-op when all runs. A cloud that cannot start fails the
test with the script's output; nothing is skipped. The cloud is left
running at the end: ``tools/cloud/stop`` stops it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from keystoneauth1.identity import v3
from manilaclient import api_versions
from manilaclient import client as manila_client
from oslo_context import context as o_context

from share_worker.clients.trusts import TrustActor
from tests.functional.cloud.shares import Shares

CLOUD_SCRIPT = (pathlib.Path(__file__).resolve().parents[3]
                / "tools" / "cloud" / "cloud.py")
# A first run installs both venvs (about 4 minutes here) before starting.
START_TIMEOUT = 1200


@dataclasses.dataclass(frozen=True)
class CloudUser:
    username: str
    password: str
    user_id: str
    project_name: str
    project_id: str
    user_domain_name: str
    project_domain_name: str


@dataclasses.dataclass(frozen=True)
class RealCloud:
    """What ``tools/cloud/cloud.py start`` wrote to cloud.json."""

    auth_url: str
    region_name: str
    manila_url: str
    manila_api_version: str
    share_type: str
    share_type_id: str
    pool: str
    #: a share type on a backend whose snapshot create/delete take
    #: ``slow_delays`` seconds each
    slow_share_type: str
    slow_delays: dict[str, float]
    transport_url: str
    control_exchange: str
    notification_topic: str
    users: dict[str, CloudUser]
    state_dir: str
    log_dir: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RealCloud:
        def known(kind: type, values: dict[str, Any]) -> dict[str, Any]:
            # Fields cloud.json gains later must not break older tests.
            names = {f.name for f in dataclasses.fields(kind)}
            return {k: v for k, v in values.items() if k in names}

        users = {key: CloudUser(**known(CloudUser, value))
                 for key, value in data["users"].items()}
        return cls(**known(cls, dict(data, users=users)))

    @property
    def service_user(self) -> CloudUser:
        """share_worker's own user: admin in the service project."""
        return self.users["share_worker"]

    def auth(self, user: str) -> v3.Password:
        """Project-scoped password auth for USER (a key of ``users``)."""
        found = self.users[user]
        return v3.Password(
            auth_url=self.auth_url, username=found.username,
            password=found.password,
            user_domain_name=found.user_domain_name,
            project_name=found.project_name,
            project_domain_name=found.project_domain_name)

    def session(self, user: str) -> ks_session.Session:
        return ks_session.Session(auth=self.auth(user), timeout=30)

    def token(self, user: str) -> str:
        """A new project-scoped token for USER (remembered: no log line
        of the run may hold it)."""
        token = self.session(user).get_token()
        ISSUED.add(token)
        return token

    def context(self, user: str, token: str | None = None,
                **kwargs: Any) -> o_context.RequestContext:
        """USER's request context with a new token (or *token*)."""
        found = self.users[user]
        return o_context.RequestContext(
            user_id=found.user_id, project_id=found.project_id,
            auth_token=token or self.token(user), **kwargs)

    def manila_with_token(self, token: str) -> Any:
        """A manilaclient v2 client sending *token* as is."""
        sess = ks_session.Session(
            auth=token_endpoint.Token(self.manila_url, token), timeout=30)
        return manila_client.Client(self._version(), session=sess,
                                    service_catalog_url=self.manila_url)

    def revoke(self, token: str) -> None:
        """Revoke *token* in Keystone, as the admin."""
        self.session("admin").delete(
            "/auth/tokens", headers={"X-Subject-Token": token},
            endpoint_filter={"service_type": "identity",
                             "version": (3, 0)})

    def _version(self) -> api_versions.APIVersion:
        return min(api_versions.APIVersion(self.manila_api_version),
                   api_versions.APIVersion(api_versions.MAX_VERSION))

    def manila(self, user: str) -> Any:
        """A manilaclient v2 client for USER; the endpoint comes from the
        catalog (service type sharev2), at the highest microversion both
        this client and the server speak."""
        return manila_client.Client(self._version(),
                                    session=self.session(user),
                                    service_type="sharev2",
                                    region_name=self.region_name)


def _start_cloud() -> dict[str, Any]:
    try:
        result = subprocess.run(
            [sys.executable, str(CLOUD_SCRIPT), "start", "--json"],
            capture_output=True, text=True, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired as err:
        pytest.fail("tools/cloud/cloud.py start took over %d s:\n%s"
                    % (START_TIMEOUT, err.stderr), pytrace=False)
    if result.returncode:
        pytest.fail("tools/cloud/cloud.py start failed (exit %d):\n%s"
                    % (result.returncode, result.stderr[-6000:]),
                    pytrace=False)
    return json.loads(result.stdout)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_cloud: needs the real Keystone and Manila that "
        "tools/cloud/start runs (deselect with -m 'not real_cloud')")


#: every token the tier signed in with, and every trust the worker made
ISSUED: set[str] = set()


@pytest.fixture(scope="session")
def real_cloud(tmp_path_factory) -> Iterator[RealCloud]:
    """The cloud; at the end of the tier, every log line the run wrote
    (the worker's included: it runs in this process) is searched for the
    tokens, passwords and trust ids used: none may appear."""
    cloud = RealCloud.from_json(_start_cloud())
    log_path = tmp_path_factory.mktemp("logs") / "run.log"
    handler = logging.FileHandler(log_path)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    real_delegate = TrustActor.delegate

    def delegate(self, ctx):
        trust_id = real_delegate(self, ctx)
        ISSUED.add(trust_id)
        return trust_id

    TrustActor.delegate = delegate
    try:
        yield cloud
    finally:
        TrustActor.delegate = real_delegate
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()
        secrets = set(ISSUED) | {u.password for u in cloud.users.values()}
        text = log_path.read_text(errors="replace")
        leaked = sorted(s[:12] + "..." for s in secrets if s and s in text)
        assert leaked == [], "secrets in the run's log: %s" % leaked


@pytest.fixture
def engine_conf(conf, real_cloud, tmp_path):
    """The worker against the real cloud: keystone auth, its service user
    from [manila_client] (keystoneauth1), a SQLite store, fast polls."""
    group = "manila_client"
    conf.register_opts(ks_loading.get_auth_plugin_conf_options("password"),
                       group=group)
    svc = real_cloud.service_user
    for key, value in {
            "auth_type": "password", "auth_url": real_cloud.auth_url,
            "username": svc.username, "password": svc.password,
            "user_domain_name": svc.user_domain_name,
            "project_name": svc.project_name,
            "project_domain_name": svc.project_domain_name,
            "region_name": real_cloud.region_name}.items():
        conf.set_override(key, value, group=group)
    conf.set_override("auth_strategy", "keystone", group="share_worker")
    conf.set_override("connection", "sqlite:///%s" % (tmp_path / "store.db"),
                      group="database")
    for key, value in {"poll_interval": 0.2, "retry_backoff": 0.1,
                       "lease_seconds": 10}.items():
        conf.set_override(key, value, group="share_worker")
    return conf


@pytest.fixture
def shares(real_cloud):
    made = Shares(real_cloud)
    yield made
    made.cleanup()
