"""Finds protectable and protection plugins through stevedore.

Plugins are entry points in the ``share_worker.protectables`` and
``share_worker.protections`` namespaces; each class says which resource
type it serves::

    registry = PluginRegistry.load(clients)
    registry.protection("OS::Manila::Share")   # ManilaShareProtectionPlugin
    registry.protectable_types()               # ['OS::Manila::Share']

A plugin that fails to load stops start-up with one PluginLoadError.
"""

from __future__ import annotations

import logging
from typing import Any

from stevedore import extension

from share_worker import exception
from share_worker.plugins import base

LOG = logging.getLogger(__name__)

PROTECTABLES = "share_worker.protectables"
PROTECTIONS = "share_worker.protections"


def _load(namespace: str, invoke_args: tuple) -> list[Any]:
    failures: list[tuple[str, Exception]] = []

    def on_failure(_manager: Any, entrypoint: Any, err: Exception) -> None:
        failures.append((entrypoint.name, err))

    mgr = extension.ExtensionManager(
        namespace, invoke_on_load=True, invoke_args=invoke_args,
        on_load_failure_callback=on_failure)
    if failures:
        name, err = failures[0]
        raise exception.PluginLoadError(namespace=namespace, name=name,
                                        reason="%s: %s" % (
                                            type(err).__name__, err))
    return [ext.obj for ext in mgr]


class PluginRegistry:
    """Plugins by resource type (routing by dict lookup)."""

    def __init__(self, protectables: list[base.ProtectablePlugin],
                 protections: list[base.ProtectionPlugin]) -> None:
        self._protectables = {p.get_resource_type(): p for p in protectables}
        self._protections: dict[str, base.ProtectionPlugin] = {}
        for plugin in protections:
            for rtype in plugin.get_supported_resources_types():
                self._protections[rtype] = plugin

    @classmethod
    def load(cls, clients: Any) -> PluginRegistry:
        protectables = _load(PROTECTABLES, (clients,))
        protections = _load(PROTECTIONS, ())
        for plugin in protectables:
            if not isinstance(plugin, base.ProtectablePlugin):
                raise exception.PluginLoadError(
                    namespace=PROTECTABLES, name=type(plugin).__name__,
                    reason="not a ProtectablePlugin")
        for plugin in protections:
            if not isinstance(plugin, base.ProtectionPlugin):
                raise exception.PluginLoadError(
                    namespace=PROTECTIONS, name=type(plugin).__name__,
                    reason="not a ProtectionPlugin")
        registry = cls(protectables, protections)
        LOG.info("Loaded plugins: protectable %s, protection %s",
                 sorted(registry._protectables),
                 sorted(registry._protections))
        return registry

    def protectable_types(self) -> list[str]:
        return sorted(self._protectables)

    def protectable(self, resource_type: Any) -> base.ProtectablePlugin:
        return self._lookup(self._protectables, resource_type)

    def protection(self, resource_type: Any) -> base.ProtectionPlugin:
        return self._lookup(self._protections, resource_type)

    def dependent_types(self, resource_type: str) -> list[str]:
        """Types whose parent type is *resource_type*."""
        return sorted(t for t, p in self._protectables.items()
                      if resource_type in p.get_parent_resource_types())

    @staticmethod
    def _lookup(table: dict, resource_type: Any) -> Any:
        if not isinstance(resource_type, str) or resource_type not in table:
            raise exception.UnsupportedResourceType(
                resource_type=resource_type,
                supported=", ".join(sorted(table)) or "none")
        return table[resource_type]
