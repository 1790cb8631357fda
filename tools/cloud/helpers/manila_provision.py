"""Steps of the test cloud's Manila that need its venv's libraries.

    python manila_provision.py database       # create the database if missing
    python manila_provision.py drop-database
    python manila_provision.py share-type     # ensure it, wait for the pool

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


def share_type(request):
    manila, version = _admin_client(request)
    wanted = request["extra_specs"]
    found = [t for t in manila.share_types.list(show_all=True)
             if t.name == request["name"]]
    if found:
        current = found[0]
        if current.get_keys() != wanted:
            current.set_keys(wanted)
    else:
        current = manila.share_types.create(
            request["name"], spec_driver_handles_share_servers=False,
            extra_specs={k: v for k, v in wanted.items()
                         if k != "driver_handles_share_servers"})
    return {"share_type_id": current.id,
            "pool": _wait_pool(manila, request["timeout"]),
            "api_version": version.get_string()}


def _wait_pool(manila, timeout):
    """The scheduler learns the dummy pool from manila-share's first
    capabilities report, a few seconds after both started."""
    until = time.monotonic() + timeout
    while True:
        pools = manila.pools.list()
        if pools:
            return pools[0].name
        if time.monotonic() >= until:
            raise SystemExit("no pool in scheduler-stats/pools after %.0f s"
                             % timeout)
        time.sleep(0.5)


STEPS = {"database": database, "drop-database": drop_database,
         "share-type": share_type}

if __name__ == "__main__":
    json.dump(STEPS[sys.argv[1]](json.load(sys.stdin)), sys.stdout)
