"""Microversion parsing and Manila's version documents.

    >>> from share_worker.simulator import versions
    >>> versions.parse("2.73") >= versions.parse("2.27")
    True
    >>> versions.document("http://h/", "2.98")["id"]
    'v2.0'

Manila reads ``X-OpenStack-Manila-API-Version`` (default 2.0), answers a
malformed value with 400 and one outside [min, max] with 406, and echoes
the header with ``Vary`` on every versioned response.
"""

from __future__ import annotations

import functools
import re

from share_worker.simulator import errors

HEADER = "X-OpenStack-Manila-API-Version"
MIN_VERSION = "2.0"
DEFAULT_MAX_VERSION = "2.98"
DEFAULT_VERSION = "2.0"

Version = tuple[int, int]

_VERSION_RE = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


@functools.lru_cache(maxsize=256)
def parse(text: str) -> Version:
    """Parse ``"2.73"`` into ``(2, 73)``; raise ValueError if malformed."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        raise ValueError(text)
    return int(match.group(1)), int(match.group(2))


def to_str(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def negotiate(header: str | None, max_version: str) -> Version:
    """Return the version a request asked for, as Manila checks it."""
    if header is None:
        return parse(DEFAULT_VERSION)
    try:
        requested = parse(header)
    except ValueError:
        raise errors.bad_request(
            f"API Version String {header} is of invalid format. Must be of "
            "format MajorNum.MinorNum."
        ) from None
    if not parse(MIN_VERSION) <= requested <= parse(max_version):
        raise errors.ApiError(
            406,
            f"Version {to_str(requested)} is not supported by the API. "
            f"Minimum is {MIN_VERSION} and maximum is {max_version}.",
        )
    return requested


def document(root_url: str, max_version: str) -> dict:
    """Return the ``v2.0`` entry of Manila's version list."""
    return {
        "id": "v2.0",
        "status": "CURRENT",
        "version": max_version,
        "min_version": MIN_VERSION,
        "updated": "2015-08-27T11:33:21Z",
        "links": [
            {
                "rel": "describedby",
                "type": "text/html",
                "href": "http://docs.openstack.org/",
            },
            {"rel": "self", "href": root_url.rstrip("/") + "/v2/"},
        ],
        "media-types": [
            {
                "base": "application/json",
                "type": "application/vnd.openstack.share+json;version=1",
            }
        ],
    }
