"""Keystone: configuration, one-time bootstrap, the gunicorn process and
the projects, users and catalog entries the tests need.

    prepare(settings, secrets)      # config; db_sync, keys, bootstrap once
    process(settings).start()
    wait_ready(settings, until)
    ids = provision(settings, secrets)
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import pathlib
import subprocess

from localcloud import procs
from localcloud import settings as settings_mod
from localcloud.settings import HELPERS_DIR, Settings
from localcloud.venvs import Venv

# Users the tests sign in as: (user, project, role). The admin user and
# project come from keystone-manage bootstrap.
USERS = (
    ("manila", "service", "admin"),
    ("share_worker", "service", "admin"),
    ("sw-user-a", "sw-project-a", "member"),
    ("sw-user-b", "sw-project-b", "member"),
    # personas of project A for the policy defaults
    ("sw-reader-a", "sw-project-a", "reader"),
    ("sw-admin-a", "sw-project-a", "admin"),
)


def venv(settings: Settings) -> Venv:
    return Venv(settings.keystone_venv, settings_mod.KEYSTONE_REQUIREMENTS,
                settings_mod.TOOLS_DIR / "keystone-constraints.txt")


def _dir(settings: Settings) -> pathlib.Path:
    return settings.state / "keystone"


def config_file(settings: Settings) -> pathlib.Path:
    return _dir(settings) / "keystone.conf"


def _write_config(settings: Settings) -> None:
    base = _dir(settings)
    config_file(settings).write_text(f"""\
[DEFAULT]
use_stderr = true

[database]
connection = sqlite:///{base}/keystone.db

[token]
provider = fernet

[fernet_tokens]
key_repository = {base}/fernet-keys

[fernet_receipts]
key_repository = {base}/receipt-keys

[credential]
key_repository = {base}/credential-keys

[cache]
# In-process cache: token validation drops from ~340 ms to ~3 ms.
enabled = true
backend = oslo_cache.dict

[identity]
# Cheap hashing: these passwords only guard a throw-away test cloud.
password_hash_rounds = 4
""")


def _manage(settings: Settings, *args: str,
            env: dict[str, str] | None = None) -> None:
    command = [venv(settings).bin("keystone-manage"), "--config-file",
               str(config_file(settings)), *args]
    log = settings.logs / "keystone-manage.log"
    with open(log, "ab") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                env=procs.service_env(env))
    if result.returncode:
        raise procs.CloudError("keystone-manage %s failed\n%s"
                               % (args[0], procs.log_tail(log)))


def prepare(settings: Settings, secrets: dict[str, str]) -> None:
    """Write the config; create the database, keys and admin once."""
    base = _dir(settings)
    base.mkdir(parents=True, exist_ok=True)
    settings.logs.mkdir(parents=True, exist_ok=True)
    _write_config(settings)
    done = base / "bootstrapped"
    if done.exists():
        return
    # Independent steps, each mostly keystone-manage importing Keystone:
    # run side by side.
    steps = [("db_sync",)] + [
        (setup, "--keystone-user", "root", "--keystone-group", "root")
        for setup in ("fernet_setup", "receipt_setup", "credential_setup")]
    with concurrent.futures.ThreadPoolExecutor(len(steps)) as pool:
        for future in [pool.submit(_manage, settings, *step)
                       for step in steps]:
            future.result()
    _manage(settings, "bootstrap",
            "--bootstrap-region-id", "RegionOne",
            "--bootstrap-public-url", settings.keystone_url,
            "--bootstrap-internal-url", settings.keystone_url,
            # The password from the environment keeps it off "ps".
            env={"OS_BOOTSTRAP_PASSWORD": secrets["admin"]})
    done.write_text("")


def process(settings: Settings) -> procs.Process:
    # keystone.wsgi.api reads its config from OS_KEYSTONE_CONFIG_FILES;
    # helpers/keystone_wsgi.py hides gunicorn's argv from it.
    argv = procs.gunicorn_argv(
        venv(settings).bin("gunicorn"), settings.host, settings.keystone_port,
        "keystone_wsgi:application", HELPERS_DIR)
    env = {"OS_KEYSTONE_CONFIG_FILES": str(config_file(settings))}
    return procs.Process("keystone", argv, settings.run, settings.logs,
                         env=env)


def wait_ready(settings: Settings, until: float) -> None:
    procs.wait_http(settings.keystone_url, until, [process(settings)],
                    ok=lambda status, body: status == 200)


def provision(settings: Settings, secrets: dict[str, str]) -> dict:
    """Ensure projects, users, grants and the catalog; returns their ids.

    Runs helpers/keystone_provision.py in Keystone's venv; the request,
    passwords included, goes over stdin, never on a command line. The ids
    are kept with a digest of the request: a restart with the same ports
    and passwords skips the helper (its database is in the same state dir;
    ``cloud.py clean`` resets both).
    """
    request = {
        "auth_url": settings.keystone_url,
        "admin_password": secrets["admin"],
        "users": [{"name": name, "project": project, "role": role,
                   "password": secrets[name]}
                  for name, project, role in USERS],
        "region": "RegionOne",
        "endpoints": {
            "identity": settings.keystone_url,
            "sharev2": settings.manila_url,
        },
    }
    digest = hashlib.sha256(
        json.dumps(request, sort_keys=True).encode()).hexdigest()
    done = _dir(settings) / "provisioned.json"
    if done.exists():
        cached = json.loads(done.read_text())
        if cached["request"] == digest:
            return cached["ids"]
    ids = venv(settings).run_json(
        HELPERS_DIR / "keystone_provision.py", request,
        settings.logs / "keystone_provision.log")
    done.write_text(json.dumps({"request": digest, "ids": ids}))
    return ids
