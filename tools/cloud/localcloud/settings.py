"""Where the cloud lives and which ports it uses, from the environment.

    settings = Settings.from_env()
    settings.keystone_url     # 'http://127.0.0.1:25000/v3'

Every knob is an environment variable with a default; nothing here is
specific to one machine. Venvs are cached under SHARE_WORKER_CLOUD_HOME and
shared by every checkout; the state (databases, keys, passwords, logs, pid
files) lives in SHARE_WORKER_CLOUD_STATE, by default beside the venvs.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

TOOLS_DIR = pathlib.Path(__file__).resolve().parents[1]
HELPERS_DIR = TOOLS_DIR / "helpers"

KEYSTONE_VERSION = "30.0.0"
MANILA_VERSION = "23.0.1"
# What each venv holds; every name pinned. The constraints files beside
# cloud.py pin the rest of the tree to a set that is known to work.
KEYSTONE_REQUIREMENTS = (
    "keystone==%s" % KEYSTONE_VERSION,
    "gunicorn==27.0.1",
    "python-keystoneclient==6.0.0",
)
MANILA_REQUIREMENTS = (
    "manila==%s" % MANILA_VERSION,
    "python-manilaclient==6.3.0",
    "gunicorn==27.0.1",
    "psycopg2-binary==2.9.13",
)


def _env(name: str, default: str) -> str:
    return os.environ.get("SHARE_WORKER_CLOUD_" + name) or default


@dataclasses.dataclass(frozen=True)
class Settings:
    home: pathlib.Path
    state: pathlib.Path
    host: str
    keystone_port: int
    manila_port: int
    pg_url: str
    manila_db: str
    rabbit_url: str
    manila_vhost: str
    ready_timeout: float

    @classmethod
    def from_env(cls) -> Settings:
        home = pathlib.Path(_env(
            "HOME", os.path.expanduser("~/.cache/share_worker-cloud")))
        return cls(
            home=home,
            state=pathlib.Path(_env("STATE", str(home / "state"))),
            host="127.0.0.1",
            keystone_port=int(_env("KEYSTONE_PORT", "25000")),
            manila_port=int(_env("MANILA_PORT", "28786")),
            # A server with trust auth for this user; the database is
            # created on it when missing.
            pg_url=_env("PG", "postgresql://postgres@127.0.0.1:5432"),
            manila_db=_env("MANILA_DB", "share_worker_manila"),
            rabbit_url=_env("RABBIT", "rabbit://guest:guest@127.0.0.1:5672"),
            manila_vhost=_env("MANILA_VHOST", "share_worker_manila"),
            ready_timeout=float(_env("READY_TIMEOUT", "120")),
        )

    # -- derived paths and URLs -------------------------------------------

    @property
    def keystone_venv(self) -> pathlib.Path:
        return self.home / ("keystone-" + KEYSTONE_VERSION)

    @property
    def manila_venv(self) -> pathlib.Path:
        return self.home / ("manila-" + MANILA_VERSION)

    @property
    def logs(self) -> pathlib.Path:
        return self.state / "logs"

    @property
    def run(self) -> pathlib.Path:
        """Pid files."""
        return self.state / "run"

    @property
    def cloud_json(self) -> pathlib.Path:
        return self.state / "cloud.json"

    @property
    def secrets_json(self) -> pathlib.Path:
        return self.state / "secrets.json"

    @property
    def keystone_url(self) -> str:
        return "http://%s:%d/v3" % (self.host, self.keystone_port)

    @property
    def manila_url(self) -> str:
        return "http://%s:%d/v2" % (self.host, self.manila_port)

    @property
    def manila_transport_url(self) -> str:
        return "%s/%s" % (self.rabbit_url.rstrip("/"), self.manila_vhost)

    @property
    def manila_db_url(self) -> str:
        # SQLAlchemy 2.1 takes plain postgresql:// for psycopg 3; the venv
        # has psycopg2.
        _, rest = self.pg_url.rstrip("/").split("://", 1)
        return "postgresql+psycopg2://%s/%s" % (rest, self.manila_db)
