"""The one exception hierarchy of share_worker.

The classes named in DESIGN section 3 (``InvalidInput`` ... ``Busy``) are
the contract: their *names* reach RPC callers as
``oslo_messaging.RemoteError.exc_type``, and ``code`` is what a failed
record carries in its ``error`` dict::

    >>> from share_worker import exception
    >>> err = exception.InvalidInput(reason="force: not a boolean")
    >>> err.to_error()
    {'code': 'InvalidInput', 'message': 'Invalid input: force: not a boolean'}
"""

from __future__ import annotations


class ShareWorkerError(Exception):
    """Raised when share_worker refuses or fails something; base class."""

    msg_fmt = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = self.msg_fmt
        self.kwargs = kwargs
        super().__init__(message)

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def message(self) -> str:
        return str(self)

    def to_error(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


# -- the wire contract's error names ----------------------------------------

class InvalidInput(ShareWorkerError):
    """Raised when a request's arguments are malformed or out of range."""

    msg_fmt = "Invalid input: %(reason)s"


class UnsupportedResourceType(ShareWorkerError):
    """Raised when no plugin serves the requested resource type."""

    msg_fmt = ("Resource type %(resource_type)s is not supported; "
               "supported types: %(supported)s")


class ResourceNotFound(ShareWorkerError):
    """Raised when a protectable resource (a share, a project) is missing."""

    msg_fmt = "%(resource_type)s %(resource_id)s could not be found"


class CheckpointNotFound(ShareWorkerError):
    """Raised when no checkpoint with that id is visible to the caller."""

    msg_fmt = "Checkpoint %(checkpoint_id)s could not be found"


class RestoreNotFound(ShareWorkerError):
    """Raised when no restore with that id is visible to the caller."""

    msg_fmt = "Restore %(restore_id)s could not be found"


class PolicyNotFound(ShareWorkerError):
    """Raised when no protection policy with that id is visible."""

    msg_fmt = "Policy %(policy_id)s could not be found"


class InvalidState(ShareWorkerError):
    """Raised when an object's status does not allow the operation."""

    msg_fmt = "%(reason)s"


class Forbidden(ShareWorkerError):
    """Raised when the caller's identity does not allow the operation."""

    msg_fmt = "Forbidden: %(reason)s"


class Busy(ShareWorkerError):
    """Raised when the worker already has max_in_flight operations."""

    msg_fmt = ("The worker is busy: %(in_flight)s operations in flight "
               "(max_in_flight=%(limit)s); retry later")


# -- failures recorded on operations (not raised to RPC callers) ------------

class ManilaError(ShareWorkerError):
    """Raised when Manila answers with an error that retrying won't fix."""

    msg_fmt = "Manila refused the request: %(reason)s"


class ManilaUnavailable(ShareWorkerError):
    """Raised when Manila is unreachable or answers 5xx (retryable)."""

    msg_fmt = "Manila is unavailable: %(reason)s"


class QuotaExceeded(ShareWorkerError):
    """Raised when a quota is exhausted: Manila's (a 413 on a create) or
    one of the worker's per-project ones (the message says which)."""

    msg_fmt = "Manila quota exceeded: %(reason)s"


class OperationTimeout(ShareWorkerError):
    """Raised when a wait on Manila outlives its timeout."""

    msg_fmt = "%(what)s did not finish within %(timeout)s seconds"


class ResourceError(ShareWorkerError):
    """Raised when a Manila object reaches an error status."""

    msg_fmt = "%(what)s went to status %(status)s"


class Unavailable(ShareWorkerError):
    """Raised when a service the worker can't take a request without
    does not answer for now; the request is kept and tried again."""

    msg_fmt = "A service is unavailable: %(reason)s"
    #: what does not answer, for the log lines of an outage
    service = "a service"


class StoreUnavailable(Unavailable):
    """Raised when the store can't be reached or refused a transaction
    for a passing reason; what needed it is kept and tried again."""

    msg_fmt = "The store is unavailable: %(reason)s"
    service = "the store"


class IdentityUnavailable(Unavailable):
    """Raised when Keystone can't validate a request's token for now (no
    answer, a timeout, a 5xx); the request is kept and tried again."""

    msg_fmt = ("Keystone could not validate the request's token: "
               "%(reason)s")
    service = "Keystone"


class LeaseLost(ShareWorkerError):
    """Raised when this worker no longer holds an operation's lease: it
    makes no further change in Manila for it (another worker does)."""

    msg_fmt = "The lease on %(what)s is no longer this worker's"


class PluginLoadError(ShareWorkerError):
    """Raised at start-up when a protectable/protection plugin fails."""

    msg_fmt = "Could not load %(namespace)s plugin %(name)s: %(reason)s"


class ConfigurationError(ShareWorkerError):
    """Raised at start-up when the configuration cannot work."""

    msg_fmt = "Configuration error: %(reason)s"


CONTRACT_ERRORS = (
    InvalidInput, UnsupportedResourceType, ResourceNotFound,
    CheckpointNotFound, RestoreNotFound, PolicyNotFound, InvalidState,
    Forbidden, Busy, QuotaExceeded,
)
