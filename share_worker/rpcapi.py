"""Client side of the share_worker RPC API, for other services.

Only a transport URL is needed::

    from oslo_context import context
    from share_worker import rpcapi

    api = rpcapi.ShareWorkerAPI.from_url(
        "rabbit://guest:guest@127.0.0.1:5672/")
    ctxt = context.RequestContext(user_id="u", project_id="p",
                                  auth_token=token)
    checkpoint = api.protect(ctxt, {"type": "OS::Manila::Share",
                                    "id": share_id})
    api.cast_delete(ctxt, checkpoint["id"])     # fire and forget

Errors come back as ``oslo_messaging.RemoteError`` whose ``exc_type`` is
one of the contract's names (``InvalidInput``, ``CheckpointNotFound``,
``Busy`` ...).

API version history:

* 1.0 - protect, restore, delete; show/list checkpoints and restores;
  protectable types, instances and dependents; plugin schemas.
* 1.1 - protection policies: create_policy, show_policy, list_policies,
  update_policy, delete_policy. The 1.0 methods are still sent as 1.0,
  so this client keeps working with a 1.0 worker for them.
* 1.2 - limits, all projects, quotas: ``list_*`` take ``filters``
  ``{"all_projects": true}`` (sent as 1.2; other lists keep their
  version), page size capped at the worker's ``max_page_size``, sizes
  of fields and requests bounded, ``QuotaExceeded``.
"""

from __future__ import annotations

from typing import Any

import oslo_messaging
from oslo_config import cfg

RPC_API_VERSION = "1.2"
#: the version a list asking for every project is sent with
ALL_PROJECTS_VERSION = "1.2"
#: the version the 1.0 methods are sent with
BASE_VERSION = "1.0"
EXCHANGE = "share_worker"
TOPIC = "share_worker"


def _context(ctxt: Any) -> dict:
    if hasattr(ctxt, "to_dict"):
        return ctxt.to_dict()
    if isinstance(ctxt, dict):
        return ctxt
    raise TypeError("ctxt must be a RequestContext or its to_dict() dict")


def _list_version(filters: dict | None, version: str) -> str:
    if filters and filters.get("all_projects"):
        return ALL_PROJECTS_VERSION
    return version


class ShareWorkerAPI:
    """One method per RPC method; ``cast_*`` variants return at once."""

    def __init__(self, transport: oslo_messaging.Transport,
                 topic: str = TOPIC, exchange: str = EXCHANGE,
                 timeout: int | None = None,
                 version_cap: str = RPC_API_VERSION,
                 retry: int | None = None) -> None:
        """*timeout*: seconds a call waits for its reply; *retry*: broker
        connection attempts before giving up (None: retry forever)."""
        target = oslo_messaging.Target(exchange=exchange, topic=topic,
                                       version=BASE_VERSION)
        self.transport = transport
        self._client = oslo_messaging.get_rpc_client(
            transport, target, version_cap=version_cap, timeout=timeout,
            retry=retry)

    @classmethod
    def from_url(cls, transport_url: str, **kwargs: Any) -> ShareWorkerAPI:
        """A client on its own ConfigOpts: no global state touched."""
        from share_worker import messaging

        conf = cfg.ConfigOpts()
        messaging.register_opts(conf)
        conf([], project="share_worker_client", default_config_files=[],
             default_config_dirs=[])
        return cls(messaging.rpc_transport(conf, transport_url), **kwargs)

    def close(self) -> None:
        self.transport.cleanup()

    def _call(self, ctxt: Any, method: str, _version: str = BASE_VERSION,
              **kwargs: Any) -> Any:
        return self._client.prepare(version=_version).call(
            _context(ctxt), method, **kwargs)

    def _cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        self._client.prepare().cast(_context(ctxt), method, **kwargs)

    # -- protect / restore / delete (call and cast) ------------------------

    def protect(self, ctxt: Any, resource: dict, options: dict | None = None,
                checkpoint_id: str | None = None) -> dict:
        return self._call(ctxt, "protect", resource=resource,
                          options=options, checkpoint_id=checkpoint_id)

    def cast_protect(self, ctxt: Any, resource: dict,
                     options: dict | None = None,
                     checkpoint_id: str | None = None) -> None:
        self._cast(ctxt, "protect", resource=resource, options=options,
                   checkpoint_id=checkpoint_id)

    def restore(self, ctxt: Any, checkpoint_id: str,
                options: dict | None = None) -> dict:
        return self._call(ctxt, "restore", checkpoint_id=checkpoint_id,
                          options=options)

    def cast_restore(self, ctxt: Any, checkpoint_id: str,
                     options: dict | None = None) -> None:
        self._cast(ctxt, "restore", checkpoint_id=checkpoint_id,
                   options=options)

    def delete(self, ctxt: Any, checkpoint_id: str) -> dict:
        return self._call(ctxt, "delete", checkpoint_id=checkpoint_id)

    def cast_delete(self, ctxt: Any, checkpoint_id: str) -> None:
        self._cast(ctxt, "delete", checkpoint_id=checkpoint_id)

    # -- records -------------------------------------------------------------

    def show_checkpoint(self, ctxt: Any, checkpoint_id: str) -> dict:
        return self._call(ctxt, "show_checkpoint",
                          checkpoint_id=checkpoint_id)

    def list_checkpoints(self, ctxt: Any, filters: dict | None = None,
                         limit: int | None = None,
                         marker: str | None = None) -> list:
        return self._call(ctxt, "list_checkpoints",
                          _list_version(filters, BASE_VERSION),
                          filters=filters, limit=limit, marker=marker)

    def show_restore(self, ctxt: Any, restore_id: str) -> dict:
        return self._call(ctxt, "show_restore", restore_id=restore_id)

    def list_restores(self, ctxt: Any, filters: dict | None = None,
                      limit: int | None = None,
                      marker: str | None = None) -> list:
        return self._call(ctxt, "list_restores",
                          _list_version(filters, BASE_VERSION),
                          filters=filters, limit=limit, marker=marker)

    # -- protectables and schemas -------------------------------------------

    def list_protectable_types(self, ctxt: Any) -> list:
        return self._call(ctxt, "list_protectable_types")

    def show_protectable_type(self, ctxt: Any, resource_type: str) -> dict:
        return self._call(ctxt, "show_protectable_type",
                          resource_type=resource_type)

    def list_protectable_instances(self, ctxt: Any, resource_type: str,
                                   parameters: dict | None = None) -> list:
        return self._call(ctxt, "list_protectable_instances",
                          resource_type=resource_type,
                          parameters=parameters)

    def show_protectable_instance(self, ctxt: Any, resource_type: str,
                                  resource_id: str) -> dict:
        return self._call(ctxt, "show_protectable_instance",
                          resource_type=resource_type,
                          resource_id=resource_id)

    def list_protectable_dependents(self, ctxt: Any, resource_type: str,
                                    resource_id: str) -> list:
        return self._call(ctxt, "list_protectable_dependents",
                          resource_type=resource_type,
                          resource_id=resource_id)

    def show_plugin_schemas(self, ctxt: Any, resource_type: str) -> dict:
        return self._call(ctxt, "show_plugin_schemas",
                          resource_type=resource_type)

    # -- protection policies (1.1) -----------------------------------------

    def create_policy(self, ctxt: Any, policy: dict) -> dict:
        return self._call(ctxt, "create_policy", "1.1", policy=policy)

    def show_policy(self, ctxt: Any, policy_id: str) -> dict:
        return self._call(ctxt, "show_policy", "1.1", policy_id=policy_id)

    def list_policies(self, ctxt: Any, filters: dict | None = None,
                      limit: int | None = None,
                      marker: str | None = None) -> list:
        return self._call(ctxt, "list_policies",
                          _list_version(filters, "1.1"), filters=filters,
                          limit=limit, marker=marker)

    def update_policy(self, ctxt: Any, policy_id: str,
                      changes: dict) -> dict:
        return self._call(ctxt, "update_policy", "1.1", policy_id=policy_id,
                          changes=changes)

    def delete_policy(self, ctxt: Any, policy_id: str) -> None:
        self._call(ctxt, "delete_policy", "1.1", policy_id=policy_id)
