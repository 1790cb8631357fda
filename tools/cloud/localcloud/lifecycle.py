"""install, start, stop, status and clean of the whole test cloud.

    settings = Settings.from_env()
    info = start(settings)     # what cloud.json holds
    stop(settings)

start is idempotent: with every process running and cloud.json written it
only checks both APIs answer. Otherwise it does each missing step, in an
order that lets Manila's processes boot while Keystone does.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import json
import secrets as secrets_mod
import shutil
import sys
import time
import urllib.parse
from collections.abc import Iterator

from localcloud import keystone, manila, procs
from localcloud.procs import log, timed
from localcloud.settings import Settings

PASSWORDS = ("admin",) + tuple(name for name, _, _ in keystone.USERS)
#: What cloud.json describes; a cloud started by a script with another
#: layout is set up again (changed config, share types) by ``start``.
LAYOUT = 2


def all_processes(settings: Settings) -> list[procs.Process]:
    return [keystone.process(settings)] + manila.processes(settings)


@contextlib.contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One start/stop/clean at a time (parallel test runners, CI)."""
    # Passwords live here: only the owner may look in.
    settings.state.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(settings.state / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install(settings: Settings) -> None:
    with _locked(settings):
        _install(settings)


def _install(settings: Settings) -> None:
    """Both venvs, in parallel; each is skipped when already current."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(keystone.venv(settings).ensure),
                       pool.submit(manila.venv(settings).ensure)]:
            future.result()


def _secrets(settings: Settings) -> dict[str, str]:
    """Passwords, generated once into the state dir (mode 0600)."""
    path = settings.secrets_json
    stored = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in PASSWORDS if name not in stored]
    if missing:
        stored.update({name: secrets_mod.token_urlsafe(18)
                       for name in missing})
        path.touch(mode=0o600)
        path.write_text(json.dumps(stored, indent=1))
    return stored


def _check_dependencies(settings: Settings) -> None:
    for url, default_port in ((settings.pg_url, 5432),
                              (settings.rabbit_url, 5672)):
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port or default_port
        if not procs.port_in_use(host, port):
            raise procs.CloudError(
                "nothing answers at %s:%s (%s); start it first, e.g. with "
                "tools/ensure-services" % (host, port, parts.scheme))
    ports = {"keystone": settings.keystone_port,
             "manila-api": settings.manila_port}
    for process in all_processes(settings):
        port = ports.get(process.name)
        if port and process.pid() is None and procs.port_in_use(
                settings.host, port):
            raise procs.CloudError(
                "port %d, wanted for %s, is taken by another program; set "
                "SHARE_WORKER_CLOUD_%s_PORT" % (
                    port, process.name,
                    process.name.split("-")[0].upper()))


def _already_running(settings: Settings) -> dict | None:
    if not settings.cloud_json.exists() or any(
            p.pid() is None for p in all_processes(settings)):
        return None
    info = json.loads(settings.cloud_json.read_text())
    if info.get("layout") != LAYOUT:
        log("started by another version of this script: setting up again")
        return None
    until = procs.deadline(10)
    keystone.wait_ready(settings, until)
    manila.wait_ready(settings, until)
    return info


def start(settings: Settings) -> dict:
    with _locked(settings):
        info = _already_running(settings)
        if info is not None:
            missing = {name for name, _, _ in keystone.USERS} - set(
                info["users"])
            if missing:
                # Users added since it started: grant them, keep running.
                log("already running; provisioning %s"
                    % ", ".join(sorted(missing)))
                info = _reprovisioned(settings, info)
            else:
                log("already running")
            return info
        _check_dependencies(settings)
        _install(settings)
        return _start(settings)


def _start(settings: Settings) -> dict:
    begun = time.monotonic()
    settings.cloud_json.unlink(missing_ok=True)  # written when ready
    passwords = _secrets(settings)
    # Keystone's and Manila's setup are independent, and the services too
    # until the first request reaches Manila's API.
    with timed("keystone and manila prepared"), \
            concurrent.futures.ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(keystone.prepare, settings, passwords),
                       pool.submit(manila.prepare, settings, passwords)]:
            future.result()
    for process in all_processes(settings):
        process.start()
    until = procs.deadline(settings.ready_timeout)
    with timed("keystone ready"):
        keystone.wait_ready(settings, until)
    with timed("keystone provisioned"):
        ids = keystone.provision(settings, passwords)
    with timed("manila api ready"):
        manila.wait_ready(settings, until)
    with timed("share types and pools"):
        found = manila.finish(settings, passwords, until)
    info = _describe(settings, passwords, ids, found)
    settings.cloud_json.touch(mode=0o600)
    settings.cloud_json.write_text(json.dumps(info, indent=1))
    log("ready in %.1f s; details in %s" % (time.monotonic() - begun,
                                             settings.cloud_json))
    return info


def _reprovisioned(settings: Settings, info: dict) -> dict:
    passwords = _secrets(settings)
    ids = keystone.provision(settings, passwords)
    info = dict(info, users=_users(passwords, ids))
    settings.cloud_json.write_text(json.dumps(info, indent=1))
    return info


def _users(passwords: dict[str, str], ids: dict) -> dict:
    projects = ids["projects"]
    users = {"admin": ("admin", "admin")}
    users.update({name: (name, project)
                  for name, project, _ in keystone.USERS})
    return {key: {"username": name, "password": passwords[name],
                  "user_id": ids["users"].get(name),
                  "project_name": project, "project_id": projects[project],
                  "user_domain_name": "Default",
                  "project_domain_name": "Default"}
            for key, (name, project) in users.items()}


def _describe(settings: Settings, passwords: dict[str, str], ids: dict,
              found: dict) -> dict:
    """cloud.json: everything a test needs to reach and sign in."""
    return {
        "auth_url": settings.keystone_url,
        "region_name": "RegionOne",
        "manila_url": settings.manila_url,
        "manila_api_version": found["api_version"],
        "layout": LAYOUT,
        "share_type": manila.SHARE_TYPE,
        "share_type_id": found["share_types"][manila.SHARE_TYPE],
        "pool": found["pools"][manila.BACKENDS["dummy1"][0]],
        "slow_share_type": manila.SLOW_SHARE_TYPE,
        "slow_share_type_id": found["share_types"][manila.SLOW_SHARE_TYPE],
        "slow_pool": found["pools"][manila.BACKENDS["dummy2"][0]],
        "slow_delays": manila.SLOW_DELAYS,
        "transport_url": settings.manila_transport_url,
        "control_exchange": "openstack",
        "notification_topic": "notifications",
        "users": _users(passwords, ids),
        "state_dir": str(settings.state),
        "log_dir": str(settings.logs),
    }


def stop(settings: Settings) -> None:
    with _locked(settings):
        # Manila first; all in parallel, each with its own deadline.
        processes = list(reversed(all_processes(settings)))
        with concurrent.futures.ThreadPoolExecutor(len(processes)) as pool:
            stopped = list(pool.map(lambda p: p.stop(), processes))
        for process, was_running in zip(processes, stopped, strict=True):
            log("%s: %s" % (process.name,
                            "stopped" if was_running else "not running"))
        settings.cloud_json.unlink(missing_ok=True)


def clean(settings: Settings) -> None:
    """Stop, then remove the state: database, vhost, keys, passwords."""
    stop(settings)
    with _locked(settings):
        if manila.venv(settings).exists():
            manila.drop_database(settings)
        else:
            log("database %s left on the server: no venv to drop it with"
                % settings.manila_db)
        manila.delete_vhost(settings)
    shutil.rmtree(settings.state)
    log("removed %s (venvs kept in %s)" % (settings.state, settings.home))


def status(settings: Settings) -> bool:
    """Print what runs; True when everything does."""
    out = sys.stdout
    running = True
    total_rss = total_pss = 0
    for process in all_processes(settings):
        pid = process.pid()
        if pid is None:
            running = False
            out.write("%-17s stopped\n" % process.name)
            continue
        rss, pss = process.memory_kib()
        total_rss, total_pss = total_rss + rss, total_pss + pss
        out.write("%-17s pid %-7d RSS %5d MiB  PSS %5d MiB\n"
                  % (process.name, pid, rss // 1024, pss // 1024))
    out.write("%-17s             RSS %5d MiB  PSS %5d MiB\n"
              % ("total", total_rss // 1024, total_pss // 1024))
    for name, env in (("keystone", keystone.venv(settings)),
                      ("manila", manila.venv(settings))):
        state = "installed" if env.is_current() else "not installed/outdated"
        out.write("%s venv: %s (%s)\n" % (name, env.path, state))
    out.write("keystone: %s\nmanila:   %s\nrabbit:   %s\nstate:    %s\n" % (
        settings.keystone_url, settings.manila_url,
        settings.manila_transport_url, settings.state))
    if running and settings.cloud_json.exists():
        out.write("cloud.json: %s\n" % settings.cloud_json)
    return running
