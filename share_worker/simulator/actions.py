"""``POST .../action`` dispatch by action name and microversion.

    >>> from share_worker.simulator import actions
    >>> name, _ = actions.resolve("POST /shares/{id}/action",
    ...                           {"force_delete": None}, (2, 7))
    >>> name
    'force_delete'

Manila renamed ``os-force_delete``/``os-reset_status`` to
``force_delete``/``reset_status`` in 2.7; an action outside its version
range answers 404 (the method "does not exist"), an unknown one 400.
"""

from __future__ import annotations

from collections.abc import Callable

from share_worker.simulator import admin_actions, errors, revert

_OLD = ((2, 0), (2, 6))
_NEW = ((2, 7), (99, 99))

# action name: (min version, max version, controller)
_SHARE_ACTIONS = {
    "os-force_delete": (*_OLD, admin_actions.share_force_delete),
    "force_delete": (*_NEW, admin_actions.share_force_delete),
    "os-reset_status": (*_OLD, admin_actions.share_reset_status),
    "reset_status": (*_NEW, admin_actions.share_reset_status),
    "revert": (revert.MIN_VERSION, (99, 99), revert.revert),
}
_SNAPSHOT_ACTIONS = {
    "os-force_delete": (*_OLD, admin_actions.snapshot_force_delete),
    "force_delete": (*_NEW, admin_actions.snapshot_force_delete),
    "os-reset_status": (*_OLD, admin_actions.snapshot_reset_status),
    "reset_status": (*_NEW, admin_actions.snapshot_reset_status),
}
_TABLES = {
    "POST /shares/{id}/action": _SHARE_ACTIONS,
    "POST /snapshots/{id}/action": _SNAPSHOT_ACTIONS,
}


def resolve(route: str, body: object,
            version: tuple[int, int]) -> tuple[str, Callable]:
    """Return ``(action name, handler(store, ctx, call))`` for a body."""
    if not isinstance(body, dict) or len(body) != 1:
        raise errors.bad_request("Malformed request body")
    (name, info), = body.items()
    entry = _TABLES[route].get(name)
    if entry is None:
        raise errors.bad_request(f"There is no such action: {name}")
    low, high, controller = entry
    if not low <= version <= high:
        raise errors.not_found()

    def handler(store, ctx, call):
        return controller(store, ctx, call.args["id"], info)

    return name, handler
