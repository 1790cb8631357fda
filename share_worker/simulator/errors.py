"""Manila's error bodies, so manilaclient raises the right exception.

    >>> from share_worker.simulator import errors
    >>> errors.fault_body(404, "Share x could not be found.")
    {'itemNotFound': {'code': 404, 'message': 'Share x could not be found.'}}

Manila wraps every error in a ``Fault``: ``{<name>: {"code", "message"}}``
with the name chosen by status code ("computeFault" when unknown); a 413
also carries ``retryAfter`` and a ``Retry-After`` header.  Keystone's
auth_token middleware answers 401 with its own ``{"error": {...}}`` body.
"""

from __future__ import annotations

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    501: "notImplemented",
    503: "serviceUnavailable",
}

# webob's default explanations, used by Manila when none is given.
DEFAULT_MESSAGES = {
    400: "The server could not comply with the request since it is "
    "either malformed or otherwise incorrect.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    406: "The server could not comply with the request since it is "
    "either malformed or otherwise incorrect.",
    409: "There was a conflict when trying to complete your request.",
    413: "The body of your request was too large for this server.",
    422: "Unable to process the contained instructions",
    429: "The client has sent too many requests in a given amount of time",
    500: "The server has either erred or is incapable of performing the "
    "requested operation.",
    502: "Bad gateway.",
    503: "The server is currently unavailable. Please try again at a "
    "later time.",
    504: "The gateway has timed out.",
}

UNAUTHORIZED_BODY = {
    "error": {
        "code": 401,
        "title": "Unauthorized",
        "message": "The request you have made requires authentication.",
    }
}


class ApiError(Exception):
    """Raised to answer a request with one of Manila's fault bodies."""

    def __init__(self, code: int, message: str | None = None) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "")
        super().__init__(f"{code}: {self.message}")

    def body(self) -> dict:
        return fault_body(self.code, self.message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "0"} if self.code == 413 else {}


class Unauthorized(ApiError):
    """Raised when a request carries no token or one Keystone rejects."""

    def __init__(self) -> None:
        super().__init__(401, UNAUTHORIZED_BODY["error"]["message"])

    def body(self) -> dict:
        return {"error": dict(UNAUTHORIZED_BODY["error"])}

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Keystone uri="http://keystone/"'}


def fault_body(code: int, message: str | None = None) -> dict:
    """Return the body Manila's ``Fault`` builds for ``code``."""
    name = FAULT_NAMES.get(code, "computeFault")
    fault: dict = {
        "code": code,
        "message": message or DEFAULT_MESSAGES.get(code, ""),
    }
    if code == 413:
        fault["retryAfter"] = "0"
    return {name: fault}


def not_found(message: str | None = None) -> ApiError:
    return ApiError(404, message)


def bad_request(message: str | None = None) -> ApiError:
    return ApiError(400, message)


def forbidden(message: str | None = None) -> ApiError:
    return ApiError(403, message)


def conflict(message: str | None = None) -> ApiError:
    return ApiError(409, message)


def over_quota(message: str) -> ApiError:
    return ApiError(413, message)
