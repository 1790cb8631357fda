"""Plugin interfaces: Karbor's protectable / protection model, made durable.

A protection plugin hands the engine :class:`Operation` objects. An
operation never blocks on Manila: each *phase* is one short step (a Manila
call or the reading of a polled status) that returns a
:class:`Transition` saying what comes next. The engine persists the
transition, so a restarted worker resumes at the last phase::

    op = plugin.get_protect_operation(resource)
    t = op.act("start", step)          # checks the share, snapshots it
    t.wait                             # Wait("snapshot", "<id>")
    t = op.observe("wait_snapshot", step, {"status": "available", ...})
    t.outcome                          # Outcome(success=True)

Plugins know nothing of messaging or of the store's tables.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime
from typing import Any

from oslo_context import context as o_context

from share_worker import exception


@dataclasses.dataclass(frozen=True)
class Wait:
    """A Manila object the engine polls for the operation.

    ``listed_as``: the status the object keeps while the wait lasts
    (``deleting``, ``reverting``); the poll then lists only objects in that
    status, and looks up the ones that left it.
    """

    kind: str            # "snapshot" or "share"
    id: str
    listed_as: str | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How the operation ended."""

    success: bool
    error: dict | None = None


@dataclasses.dataclass
class Transition:
    """What one step decided.

    ``phase``: the next phase (ignored when ``outcome`` is set).
    ``wait``: the next phase waits for this object's status.
    ``timeout``: seconds the next phase may take (a new deadline).
    ``record``: changes to the record's ``saved_info`` / ``target``.
    ``outcome``: the operation is finished.
    """

    phase: str | None = None
    wait: Wait | None = None
    timeout: float | None = None
    record: dict = dataclasses.field(default_factory=dict)
    outcome: Outcome | None = None


class StepContext(abc.ABC):
    """What an operation sees of the engine during one step."""

    #: operation state persisted between steps (mutate it freely)
    state: dict
    #: the record's id (checkpoint or restore id)
    record_id: str
    #: project that owns the record
    project_id: str
    #: True when this process did not start the operation, or the last
    #: attempt failed mid-call: a create may already have happened.
    maybe_done: bool
    #: True when another worker (or this one's earlier life) held the
    #: operation before: it may still be finishing a Manila call.
    taken_over: bool
    #: when the operation was accepted
    created_at: datetime.datetime

    @abc.abstractmethod
    def client(self) -> Any:
        """A Manila client acting as the requester."""

    @abc.abstractmethod
    def service_client(self) -> Any:
        """A Manila client with the worker's own (admin) rights."""

    @abc.abstractmethod
    def fence(self) -> None:
        """Make sure the operation is still this worker's before a call
        that changes Manila (and hold it for that call); raises
        LeaseLost when it is not, StoreUnavailable when that can't be
        told now."""

    @abc.abstractmethod
    def timeout(self, name: str) -> float:
        """A configured timeout in seconds: protect, restore, delete,
        cleanup."""


class Operation(abc.ABC):
    """A resumable protect, restore or delete, driven phase by phase;
    every operation begins at phase ``start``."""

    @abc.abstractmethod
    def act(self, phase: str, step: StepContext) -> Transition:
        """Do the one Manila call of *phase*; never wait."""

    @abc.abstractmethod
    def observe(self, phase: str, step: StepContext,
                observed: dict | None) -> Transition:
        """React to the polled status (None: the object is gone)."""

    @abc.abstractmethod
    def fail(self, step: StepContext,
             error: exception.ShareWorkerError) -> Transition:
        """The operation failed: clean up what it made, then finish."""


class ProtectablePlugin(abc.ABC):
    """Lists and shows resources of one type (Karbor's method names)."""

    @abc.abstractmethod
    def get_resource_type(self) -> str:
        """The resource type served, e.g. ``OS::Manila::Share``."""

    @abc.abstractmethod
    def get_parent_resource_types(self) -> list[str]:
        """Types whose instances own resources of this type."""

    @abc.abstractmethod
    def list_resources(self, context: o_context.RequestContext,
                       parameters: dict | None = None) -> list[dict]:
        """The caller's protectable resources."""

    @abc.abstractmethod
    def show_resource(self, context: o_context.RequestContext,
                      resource_id: str,
                      parameters: dict | None = None) -> dict:
        """One resource; its extra_info says whether it can be protected."""

    @abc.abstractmethod
    def get_dependent_resources(self, context: o_context.RequestContext,
                                parent_resource: dict) -> list[dict]:
        """Resources of this type that belong to *parent_resource*."""


class ProtectionPlugin(abc.ABC):
    """Protects, restores and deletes resources (Karbor's method names)."""

    @abc.abstractmethod
    def get_supported_resources_types(self) -> list[str]:
        """Resource types this plugin protects."""

    @abc.abstractmethod
    def get_options_schema(self, resource_type: str) -> dict:
        """JSON Schema of protect options."""

    @abc.abstractmethod
    def get_restore_schema(self, resource_type: str) -> dict:
        """JSON Schema of restore options."""

    @abc.abstractmethod
    def get_saved_info_schema(self, resource_type: str) -> dict:
        """JSON Schema of what a checkpoint keeps about the resource."""

    @abc.abstractmethod
    def get_saved_info(self, metadata_store: Any, resource: dict) -> dict:
        """The saved_info of *resource*'s checkpoint (from the store)."""

    @abc.abstractmethod
    def prepare_protect(self, checkpoint_id: str,
                        options: dict | None) -> dict:
        """Fill omitted protect options, validate; InvalidInput if bad."""

    @abc.abstractmethod
    def prepare_restore(self, checkpoint: dict,
                        options: dict | None) -> tuple[dict, dict]:
        """Validate restore options; returns (options, target)."""

    @abc.abstractmethod
    def get_protect_operation(self, resource: dict) -> Operation:
        """The operation that protects *resource*."""

    @abc.abstractmethod
    def get_restore_operation(self, resource: dict) -> Operation:
        """The operation that restores *resource*'s checkpoint."""

    @abc.abstractmethod
    def get_delete_operation(self, resource: dict) -> Operation:
        """The operation that deletes *resource*'s checkpoint."""
