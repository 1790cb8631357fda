"""Filtering, sorting and paging of list requests, as Manila does them.

    >>> from share_worker.simulator import listing
    >>> page = listing.Page.from_query({"limit": "2", "sort_dir": "asc"})
    >>> page.paginate(iter([1, 2, 3]), key=None)
    [1, 2]

Records are kept in creation order, so the default ``created_at`` sort is
a walk over that order (reversed for ``desc``) that stops as soon as the
page is full; other keys sort the filtered records.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Callable, Iterable, Iterator

from share_worker.simulator import errors, models

_TRUE_FLAGS = ("1", "t", "true", "on", "y", "yes")
_FALSE_FLAGS = ("0", "f", "false", "off", "n", "no")


@dataclasses.dataclass
class Page:
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    limit: int | None = None
    offset: int = 0

    @classmethod
    def from_query(cls, query: dict[str, str]) -> Page:
        """Read paging and sorting options; 400 on bad values."""
        page = cls(
            sort_key=query.get("sort_key") or "created_at",
            sort_dir=(query.get("sort_dir") or "desc").lower(),
        )
        if page.sort_dir not in ("asc", "desc"):
            raise errors.bad_request(
                f"Wrong sort_dir filter provided: '{page.sort_dir}'."
            )
        if "limit" in query:
            page.limit = _non_negative(query["limit"], "limit")
        if "offset" in query:
            page.offset = _non_negative(query["offset"], "offset")
        return page

    def paginate(
        self,
        records: Iterable,
        key: Callable[[object], object] | None,
        newest_first: Iterable | None = None,
    ) -> list:
        """Return one page of ``records`` (given oldest first).

        ``key`` None means "creation order"; then ``newest_first`` may give
        the same records newest first, to avoid materialising them.
        """
        if key is None:
            if self.sort_dir == "desc":
                ordered: Iterator = iter(
                    newest_first
                    if newest_first is not None
                    else reversed(list(records))
                )
            else:
                ordered = iter(records)
        else:
            ordered = iter(
                sorted(
                    records,
                    key=lambda r: _sortable(key(r)),
                    reverse=self.sort_dir == "desc",
                )
            )
        stop = None if self.limit is None else self.offset + self.limit
        return list(itertools.islice(ordered, self.offset, stop))


def _non_negative(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise errors.bad_request(f"{name} param must be an integer") from None
    if number < 0:
        raise errors.bad_request(f"{name} param must be positive")
    return number


def _sortable(value: object) -> tuple:
    return (value is not None, value if value is not None else "")


def is_all_tenants(query: dict[str, str]) -> bool:
    """Interpret ``all_tenants`` like Manila's ``utils.is_all_tenants``."""
    if "all_tenants" not in query:
        return False
    value = query["all_tenants"].strip().lower()
    if value in ("", *_TRUE_FLAGS):
        return True
    if value in _FALSE_FLAGS:
        return False
    raise errors.bad_request(
        f"Invalid value '{query['all_tenants']}' for 'all_tenants' filter. "
        "It must be a boolean value."
    )


def parse_dict(text: str) -> dict:
    """Decode a dict filter the way manilaclient encodes it (``str(d)``)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise errors.bad_request(
            "Invalid value for metadata filter."
        ) from None
    if not isinstance(value, dict):
        raise errors.bad_request(
            f"Invalid input received: Wrong metadata filter provided: "
            f"{value}.."
        )
    return value


def metadata_matches(record_metadata: dict, wanted: dict) -> bool:
    return all(
        str(record_metadata.get(k)) == str(v) and k in record_metadata
        for k, v in wanted.items()
    )


def is_public_flag(query: dict[str, str]) -> bool:
    value = query.get("is_public", "false").strip().lower()
    return value in _TRUE_FLAGS or value == "all"


def share_sort_key(name: str) -> Callable | None:
    """Map a Manila share sort key to an accessor (None: creation)."""
    if name == "created_at":
        return None
    mapping: dict[str, Callable[[models.Share], object]] = {
        "name": lambda s: s.name,
        "display_name": lambda s: s.name,
        "share_type_id": lambda s: s.share_type.id,
        "share_type": lambda s: s.share_type.id,
        "availability_zone_id": lambda s: s.availability_zone,
        "availability_zone": lambda s: s.availability_zone,
        "snapshot": lambda s: s.snapshot_id,
        "share_network": lambda s: s.share_network_id,
    }
    if name in mapping:
        return mapping[name]
    if name in models.Share.__dataclass_fields__:
        return lambda s: getattr(s, name)
    raise errors.bad_request(f"Wrong sort_key filter provided: '{name}'.")


def snapshot_sort_key(name: str) -> Callable | None:
    if name == "created_at":
        return None
    if name in ("name", "display_name"):
        return lambda s: s.name
    if name in ("description", "display_description"):
        return lambda s: s.description
    if name in models.Snapshot.__dataclass_fields__:
        return lambda s: getattr(s, name)
    raise errors.bad_request(f"Wrong sort_key filter provided: '{name}'.")
