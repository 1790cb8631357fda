"""The simulator's records: shares, snapshots, share types, identities.

    >>> from share_worker.simulator import models
    >>> t = models.ShareType.new("default", {"snapshot_support": "True"})
    >>> t.supports("snapshot_support")
    True

Records are plain dataclasses owned by :class:`~.store.Store`; only code
holding the store's lock touches them.  ``gen`` counts status changes so a
pending timed transition can tell it has been overtaken (e.g. by
``reset_status``).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid

CREATING = "creating"
CREATING_FROM_SNAPSHOT = "creating_from_snapshot"
AVAILABLE = "available"
ERROR = "error"
DELETING = "deleting"
ERROR_DELETING = "error_deleting"
REVERTING = "reverting"
REVERTING_ERROR = "reverting_error"
RESTORING = "restoring"
INACTIVE = "inactive"

# Statuses ``reset_status`` accepts (Manila's AdminActionsMixin).
RESETTABLE = (
    CREATING,
    AVAILABLE,
    DELETING,
    ERROR,
    ERROR_DELETING,
    "migrating",
    "migrating_to",
    "server_migrating",
)

DEFAULT_TYPE_SPECS = {
    "driver_handles_share_servers": "False",
    "snapshot_support": "True",
    "create_share_from_snapshot_support": "True",
    "revert_to_snapshot_support": "True",
}

_TRUE = ("1", "t", "true", "on", "y", "yes")
_CAPABILITIES = (
    "snapshot_support",
    "create_share_from_snapshot_support",
    "revert_to_snapshot_support",
    "mount_snapshot_support",
)


def new_id() -> str:
    return str(uuid.uuid4())


def is_true(value: object) -> bool:
    """Interpret an extra spec or query flag as Manila does."""
    text = str(value).strip().lower()
    if text.startswith("<is>"):
        text = text[4:].strip()
    return text in _TRUE


def format_time(timestamp: float) -> str:
    """Format a UNIX time the way Manila serialises ``created_at``."""
    moment = datetime.datetime.fromtimestamp(
        timestamp, datetime.timezone.utc
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")


@dataclasses.dataclass
class ShareType:
    id: str
    name: str
    extra_specs: dict[str, str]
    is_public: bool = True
    description: str | None = None

    @classmethod
    def new(
        cls,
        name: str,
        extra_specs: dict[str, str] | None = None,
        is_public: bool = True,
        type_id: str | None = None,
    ) -> ShareType:
        specs = {"driver_handles_share_servers": "False"}
        specs.update({k: str(v) for k, v in (extra_specs or {}).items()})
        return cls(type_id or new_id(), name, specs, is_public)

    def supports(self, capability: str) -> bool:
        return is_true(self.extra_specs.get(capability, "False"))


@dataclasses.dataclass
class Share:
    id: str
    project_id: str
    user_id: str
    size: int
    share_proto: str
    share_type: ShareType
    created_at: float
    status: str
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    share_network_id: str | None = None
    availability_zone: str = "nova"
    snapshot_id: str | None = None
    is_public: bool = False
    host: str = "simulator@backend#pool"
    gen: int = 0
    # Copied from the share type at creation, as Manila does.
    snapshot_support: bool = dataclasses.field(init=False)
    create_share_from_snapshot_support: bool = dataclasses.field(init=False)
    revert_to_snapshot_support: bool = dataclasses.field(init=False)
    mount_snapshot_support: bool = dataclasses.field(init=False)
    created_at_text: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        for capability in _CAPABILITIES:
            setattr(self, capability, self.share_type.supports(capability))
        self.created_at_text = format_time(self.created_at)


@dataclasses.dataclass
class Snapshot:
    id: str
    share_id: str
    project_id: str
    user_id: str
    size: int
    share_size: int
    share_proto: str
    created_at: float
    status: str
    name: str | None = None
    description: str | None = None
    metadata: dict[str, str] = dataclasses.field(default_factory=dict)
    gen: int = 0
    #: deleted but for its row: Manila answers 400 when it has to show it
    instance_gone: bool = False
    created_at_text: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.created_at_text = format_time(self.created_at)


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a request acts as, from its token."""

    user_id: str
    project_id: str
    is_admin: bool = False


@dataclasses.dataclass
class RequestContext:
    """What a handler needs to know about the request it serves."""

    identity: Identity
    version: tuple[int, int]
    root_url: str  # "http://host:port", no trailing slash
    url_project_id: str | None = None

    def at_least(self, version: tuple[int, int]) -> bool:
        return self.version >= version

    def link_prefix(self, versioned: bool) -> str:
        prefix = self.root_url + ("/v2" if versioned else "")
        if self.url_project_id:
            prefix += "/" + self.url_project_id
        return prefix
