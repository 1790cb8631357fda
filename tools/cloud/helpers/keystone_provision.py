"""Ensure the projects, users, grants and catalog entries of the test cloud.

Runs in Keystone's venv (python-keystoneclient). Reads a JSON request on
stdin (see localcloud/keystone.py: provision) and prints the ids it ensured:

    {"projects": {"service": "<id>", ...}, "users": {"manila": "<id>", ...}}

Every step looks before it creates, so running it again changes nothing.
"""

import json
import sys

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

DOMAIN = "default"
SERVICES = {"identity": "keystone", "sharev2": "manilav2"}


def admin_client(request):
    auth = v3.Password(auth_url=request["auth_url"], username="admin",
                       password=request["admin_password"],
                       user_domain_id=DOMAIN, system_scope="all")
    return client.Client(session=ks_session.Session(auth=auth, timeout=30))


def one(manager, **filters):
    found = manager.list(**filters)
    return found[0] if found else None


def ensure_project(ks, name):
    return (one(ks.projects, name=name, domain=DOMAIN)
            or ks.projects.create(name=name, domain=DOMAIN))


def ensure_role(ks, name):
    return one(ks.roles, name=name) or ks.roles.create(name=name)


def password_works(request, name, password, project):
    auth = v3.Password(auth_url=request["auth_url"], username=name,
                       password=password, user_domain_id=DOMAIN,
                       project_name=project, project_domain_id=DOMAIN)
    try:
        ks_session.Session(auth=auth, timeout=30).get_token()
    except ks_exc.Unauthorized:
        return False
    return True


def ensure_user(ks, request, spec, project, role):
    user = one(ks.users, name=spec["name"], domain=DOMAIN)
    if user is None:
        user = ks.users.create(name=spec["name"], domain=DOMAIN,
                               password=spec["password"],
                               default_project=project)
    ks.roles.grant(role, user=user, project=project)  # no-op when granted
    # Only a changed password is set: setting it revokes the user's tokens.
    if not password_works(request, spec["name"], spec["password"],
                          spec["project"]):
        ks.users.update(user, password=spec["password"])
    return user


def ensure_endpoints(ks, service_type, url, region):
    service = one(ks.services, type=service_type)
    if service is None:
        service = ks.services.create(name=SERVICES[service_type],
                                     type=service_type)
    for interface in ("public", "internal"):
        endpoint = one(ks.endpoints, service=service, interface=interface,
                       region_id=region)
        if endpoint is None:
            ks.endpoints.create(service=service, url=url, region=region,
                                interface=interface)
        elif endpoint.url != url:  # the ports were changed
            ks.endpoints.update(endpoint, url=url)


def main():
    request = json.load(sys.stdin)
    ks = admin_client(request)
    roles = {}
    projects = {}
    users = {}
    for spec in request["users"]:
        project = projects.get(spec["project"])
        if project is None:
            project = projects[spec["project"]] = ensure_project(
                ks, spec["project"])
        role = roles.get(spec["role"])
        if role is None:
            role = roles[spec["role"]] = ensure_role(ks, spec["role"])
        users[spec["name"]] = ensure_user(ks, request, spec, project, role)
    for service_type, url in request["endpoints"].items():
        ensure_endpoints(ks, service_type, url, request["region"])
    users["admin"] = one(ks.users, name="admin", domain=DOMAIN)
    admin_project = one(ks.projects, name="admin", domain=DOMAIN)
    json.dump({"projects": dict({name: p.id for name, p in projects.items()},
                                admin=admin_project.id),
               "users": {name: u.id for name, u in users.items()}},
              sys.stdout)


if __name__ == "__main__":
    main()
