"""Steps of the test cloud's Manila that need its venv's libraries.

    python manila_provision.py database       # create the database if missing
    python manila_provision.py drop-database
    python manila_provision.py share-types    # ensure them, wait for the pools

Reads a JSON request on stdin (see localcloud/manila.py), prints JSON.
"""

import contextlib
import json
import sys
import time

import psycopg2
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from manilaclient import api_versions
from manilaclient import client as manila_client


def _server(pg_url):
    conn = psycopg2.connect(pg_url.rstrip("/") + "/postgres")
    # CREATE/DROP DATABASE refuse transactions, and "with conn" opens one.
    conn.autocommit = True
    return contextlib.closing(conn)


def database(request):
    with _server(request["pg_url"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                    (request["name"],))
        if cur.fetchone():
            return {"created": False}
        cur.execute('CREATE DATABASE "%s"' % request["name"])
        return {"created": True}


def drop_database(request):
    with _server(request["pg_url"]) as conn, conn.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)'
                    % request["name"])
    return {"dropped": True}


def _admin_client(request):
    auth = v3.Password(auth_url=request["auth_url"], username="admin",
                       password=request["admin_password"],
                       user_domain_id="default", project_name="admin",
                       project_domain_id="default")
    sess = ks_session.Session(auth=auth, timeout=30)
    # The highest microversion both this client and the server speak.
    root = sess.get_endpoint(service_type="sharev2", interface="public")
    versions = sess.get(root.rsplit("/v2", 1)[0] + "/",
                        authenticated=False, raise_exc=False).json()
    server_max = max(api_versions.APIVersion(v["version"])
                     for v in versions["versions"] if v["version"])
    version = min(server_max, api_versions.APIVersion(
        api_versions.MAX_VERSION))
    return manila_client.Client(version, session=sess,
                                service_type="sharev2"), version


def _ensure_share_type(manila, name, wanted):
    found = [t for t in manila.share_types.list(show_all=True)
             if t.name == name]
    if found:
        current = found[0]
        if current.get_keys() != wanted:
            current.set_keys(wanted)
        return current
    return manila.share_types.create(
        name, spec_driver_handles_share_servers=False,
        extra_specs={k: v for k, v in wanted.items()
                     if k != "driver_handles_share_servers"})


def share_types(request):
    """Ensure each share type; wait until every backend has its pool."""
    manila, version = _admin_client(request)
    types = {}
    for name, wanted in request["share_types"].items():
        types[name] = _ensure_share_type(manila, name, wanted).id
    return {"share_types": types,
            "pools": _wait_pools(manila, request["backends"],
                                 request["timeout"]),
            "api_version": version.get_string()}


def _wait_pools(manila, backends, timeout):
    """The scheduler learns each dummy pool from manila-share's first
    capabilities report, a few seconds after both started. Returns
    {share_backend_name: pool name}."""
    until = time.monotonic() + timeout
    while True:
        pools = {}
        for pool in manila.pools.list(detailed=True):
            backend = (pool.capabilities or {}).get("share_backend_name")
            pools.setdefault(backend, pool.name)
        if all(name in pools for name in backends):
            return {name: pools[name] for name in backends}
        if time.monotonic() >= until:
            raise SystemExit("pools of %s not all in scheduler-stats/pools "
                             "after %.0f s (found %s)"
                             % (backends, timeout, sorted(pools)))
        time.sleep(0.5)


STEPS = {"database": database, "drop-database": drop_database,
         "share-types": share_types}

if __name__ == "__main__":
    json.dump(STEPS[sys.argv[1]](json.load(sys.stdin)), sys.stdout)
