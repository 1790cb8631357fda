"""Record ids derived from what names a request, so a request repeated
(redelivered, retried after a crash, taken over) finds the record its
first try made instead of making another::

    >>> request_record_id("checkpoint", "p1", "5f0c...") == \\
    ...     request_record_id("checkpoint", "p1", "5f0c...")
    True
    >>> len(run_checkpoint_id("pol-1", "share-1", "2026-01-01T00:00"))
    36
"""

from __future__ import annotations

import uuid

_REQUEST_NAMESPACE = uuid.UUID("0c6bd5e4-3f0a-4d57-9b0e-6b1c2f9a8e31")
_RUN_NAMESPACE = uuid.UUID("5a1f3c1e-9d1b-4f7e-8f53-2d0c6b7e4a10")


def request_record_id(kind: str, project_id: str, key: str | None) -> str:
    """The id of the *kind* record a request makes: derived from the
    request's own unique id *key* (the same on every redelivery of it),
    or random for a request that carries none."""
    if not key:
        return str(uuid.uuid4())
    return str(uuid.uuid5(_REQUEST_NAMESPACE,
                          "%s/%s/%s" % (kind, project_id, key)))


def run_checkpoint_id(policy_id: str, share_id: str, key: str) -> str:
    """The checkpoint a policy's run *key* makes of *share_id*."""
    return str(uuid.uuid5(_RUN_NAMESPACE, "%s/%s/%s" % (policy_id, share_id,
                                                        key)))
