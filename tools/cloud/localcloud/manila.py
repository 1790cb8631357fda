"""Manila with the dummy driver: database, RabbitMQ vhost, configuration,
its three processes and the default share type.

    prepare(settings, secrets)      # database, vhost, config, schema once
    for p in processes(settings): p.start()
    wait_ready(settings, until)
    info = finish(settings, secrets, until)   # share types, pools
"""

from __future__ import annotations

import pathlib
import subprocess
import time
import urllib.parse

from localcloud import procs
from localcloud import settings as settings_mod
from localcloud.settings import HELPERS_DIR, Settings
from localcloud.venvs import Venv

SHARE_TYPE = "default"
#: A share type on a backend whose snapshots take seconds to create and
#: delete, for tests that act while an operation is under way.
SLOW_SHARE_TYPE = "slow"
#: Seconds the slow backend's dummy driver sleeps in these methods.
SLOW_DELAYS = {"create_snapshot": 6, "delete_snapshot": 6}
#: backend section -> (share_backend_name, share type, method delays)
BACKENDS = {
    "dummy1": ("DUMMY1", SHARE_TYPE, {}),
    "dummy2": ("DUMMY2", SLOW_SHARE_TYPE, SLOW_DELAYS),
}
EXTRA_SPECS = {
    "driver_handles_share_servers": "False",
    "snapshot_support": "True",
    "create_share_from_snapshot_support": "True",
    "revert_to_snapshot_support": "True",
}
# The "host" the services report; pools are named <host>@<backend>#<pool>.
HOST = "share-worker-cloud"


def venv(settings: Settings) -> Venv:
    return Venv(settings.manila_venv, settings_mod.MANILA_REQUIREMENTS,
                settings_mod.TOOLS_DIR / "manila-constraints.txt")


def _dir(settings: Settings) -> pathlib.Path:
    return settings.state / "manila"


def config_file(settings: Settings) -> pathlib.Path:
    return _dir(settings) / "manila.conf"


def share_types() -> dict[str, dict[str, str]]:
    """Each share type's extra specs; each type lives on its own backend."""
    return {share_type: dict(EXTRA_SPECS, share_backend_name=name)
            for name, share_type, _ in BACKENDS.values()}


def _backend_section(section: str) -> str:
    name, _, delays = BACKENDS[section]
    listed = ",".join("%s:%s" % item for item in sorted(delays.items()))
    return f"""
[{section}]
share_driver = manila.tests.share.drivers.dummy.DummyDriver
driver_handles_share_servers = False
share_backend_name = {name}
# Latency only where listed: the default per-method delays of 2-4 s stay
# off only when the dict below is set (empty or not) as well.
dummy_driver_default_driver_method_delay = 0
dummy_driver_driver_methods_delays = {listed}
"""


def _write_config(settings: Settings, secrets: dict[str, str]) -> bool:
    """Write manila.conf; True when its content changed."""
    base = _dir(settings)
    etc = settings.manila_venv / "etc" / "manila"
    backends = "".join(_backend_section(s) for s in BACKENDS)
    enabled = ",".join(BACKENDS)
    text = f"""\
[DEFAULT]
host = {HOST}
state_path = {base}/state
api_paste_config = {etc}/api-paste.ini
rootwrap_config = {etc}/rootwrap.conf
auth_strategy = keystone
transport_url = {settings.manila_transport_url}
enabled_share_backends = {enabled}
enabled_share_protocols = NFS,CIFS
default_share_type = {SHARE_TYPE}

[database]
connection = {settings.manila_db_url}

[oslo_concurrency]
lock_path = {base}/lock

[oslo_messaging_notifications]
# control_exchange stays "openstack": notifications go to that exchange,
# topic "notifications", in the vhost above.
driver = messagingv2

[keystone_authtoken]
www_authenticate_uri = {settings.keystone_url}
auth_url = {settings.keystone_url}
auth_type = password
username = manila
password = {secrets["manila"]}
user_domain_name = Default
project_name = service
project_domain_name = Default
# No token cache: a revoked token is refused at once, as it would be by a
# deployment whose cache has expired (tests revoke tokens mid-operation).
token_cache_time = -1
{backends}"""
    path = config_file(settings)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    path.chmod(0o600)
    return True


def _rabbitmqctl(*args: str) -> str:
    result = subprocess.run(["rabbitmqctl", "-q", *args],
                            capture_output=True, text=True)
    if result.returncode:
        raise procs.CloudError("rabbitmqctl %s failed: %s"
                               % (" ".join(args), result.stderr.strip()))
    return result.stdout


#: queues on Manila's vhost that no one reads (notifications nobody
#: listens to, test listeners' pools) are capped and expire when unused
_QUEUE_POLICY = '{"max-length": 1000, "expires": 600000}'


def _ensure_vhost(settings: Settings) -> None:
    names = _rabbitmqctl("list_vhosts", "name").split()
    if settings.manila_vhost not in names:
        user = urllib.parse.urlsplit(settings.rabbit_url).username or "guest"
        _rabbitmqctl("add_vhost", settings.manila_vhost)
        _rabbitmqctl("set_permissions", "-p", settings.manila_vhost, user,
                     ".*", ".*", ".*")
    _rabbitmqctl("set_policy", "-p", settings.manila_vhost,
                 "share-worker-cloud-queues", ".*", _QUEUE_POLICY,
                 "--apply-to", "queues")


def delete_vhost(settings: Settings) -> None:
    if settings.manila_vhost in _rabbitmqctl("list_vhosts", "name").split():
        _rabbitmqctl("delete_vhost", settings.manila_vhost)


def _database(settings: Settings, step: str) -> dict:
    return venv(settings).run_json(
        HELPERS_DIR / "manila_provision.py",
        {"pg_url": settings.pg_url, "name": settings.manila_db},
        settings.logs / "manila_provision.log", step)


def drop_database(settings: Settings) -> None:
    _database(settings, "drop-database")


def prepare(settings: Settings, secrets: dict[str, str]) -> None:
    """Database and vhost when missing, the config, the schema once.
    Manila processes still running with an older config are stopped (and
    started again with the rest)."""
    base = _dir(settings)
    for path in (base / "state", base / "lock", settings.logs):
        path.mkdir(parents=True, exist_ok=True)
    if _write_config(settings, secrets):
        for process in processes(settings):
            if process.stop():
                procs.log("%s: stopped (configuration changed)"
                          % process.name)
    with procs.timed("rabbitmq vhost"):
        _ensure_vhost(settings)
    with procs.timed("manila database"):
        created = _database(settings, "database")["created"]
    synced = base / "db-synced"
    if created or not synced.exists():
        _sync_schema(settings)
        synced.write_text(settings.manila_db)


def _sync_schema(settings: Settings) -> None:
    with procs.timed("manila db sync"):
        log = settings.logs / "manila-manage.log"
        with open(log, "ab") as out:
            result = subprocess.run(
                [venv(settings).bin("manila-manage"), "--config-file",
                 str(config_file(settings)), "db", "sync"],
                stdout=out, stderr=subprocess.STDOUT,
                env=procs.service_env())
        if result.returncode:
            raise procs.CloudError("manila-manage db sync failed\n%s"
                                   % procs.log_tail(log))


def processes(settings: Settings) -> list[procs.Process]:
    env = venv(settings)
    conf = str(config_file(settings))
    api = procs.gunicorn_argv(
        env.bin("gunicorn"), settings.host, settings.manila_port,
        "manila_wsgi:application", HELPERS_DIR)
    return [
        procs.Process("manila-api", api, settings.run, settings.logs,
                      env={"SHARE_WORKER_CLOUD_MANILA_CONF": conf}),
        procs.Process("manila-scheduler",
                      [env.bin("manila-scheduler"), "--config-file", conf],
                      settings.run, settings.logs),
        procs.Process("manila-share",
                      [env.bin("manila-share"), "--config-file", conf],
                      settings.run, settings.logs),
    ]


def wait_ready(settings: Settings, until: float) -> None:
    root = "http://%s:%d/" % (settings.host, settings.manila_port)
    procs.wait_http(root, until, processes(settings),
                    ok=lambda status, body: status in (200, 300))


def finish(settings: Settings, secrets: dict[str, str],
           until: float) -> dict:
    """Ensure the share types and wait for every backend's pool."""
    request = {"auth_url": settings.keystone_url,
               "admin_password": secrets["admin"],
               "share_types": share_types(),
               "backends": [name for name, _, _ in BACKENDS.values()],
               "timeout": max(1.0, until - time.monotonic())}
    try:
        return venv(settings).run_json(
            HELPERS_DIR / "manila_provision.py", request,
            settings.logs / "manila_provision.log", "share-types")
    except procs.CloudError as err:
        tails = "\n".join(procs.log_tail(p.log)
                          for p in processes(settings)[1:])
        raise procs.CloudError("%s\n%s" % (err, tails)) from None
