"""Request tokens at rest: an operation keeps its caller's Keystone
token (it acts in Manila as the caller until it ends) only encrypted,
with Fernet keys from configuration::

    cipher = TokenCipher.from_conf(conf)
    stored = cipher.encrypt(ctx.auth_token)    # 'fernet:gAAAA...'
    cipher.decrypt(stored)                     # the token, or None

``[share_worker] token_encryption_keys`` lists the keys (each what
``cryptography.fernet.Fernet.generate_key()`` prints): the first
encrypts, every one decrypts, so a key is rotated by putting a new one
first and dropping the old one once the operations recorded before are
finished (at most the longest operation timeout later). Without it, each
host makes a key file of its own under ``state_path`` (mode 0600): that
serves one host; workers on several hosts sharing a PostgreSQL store
need the same keys on every host, or one can't take over another's
operations as their callers.
"""

from __future__ import annotations

import logging
import os

from cryptography import fernet
from oslo_config import cfg

from share_worker import exception

LOG = logging.getLogger(__name__)

PREFIX = "fernet:"
KEY_FILE = "token_encryption.key"


def _key_file(state_path: str) -> bytes:
    """This host's key, made on first use (mode 0600)."""
    path = os.path.join(state_path, KEY_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, "rb") as f:
            return f.read().strip()
    key = fernet.Fernet.generate_key()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    LOG.info("Made a token encryption key in %s", path)
    return key


class TokenCipher:
    """Encrypts tokens with the first key, decrypts with any."""

    def __init__(self, keys: list[bytes | str]) -> None:
        if not keys:
            raise exception.ConfigurationError(
                reason="[share_worker] token_encryption_keys: no key")
        try:
            self._fernet = fernet.MultiFernet(
                [fernet.Fernet(k) for k in keys])
        except (ValueError, TypeError) as e:
            raise exception.ConfigurationError(
                reason="[share_worker] token_encryption_keys: a key is not "
                       "a Fernet key (32 url-safe base64-encoded bytes, as "
                       "Fernet.generate_key() makes): %s" % e) from None

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> TokenCipher:
        keys = list(conf.share_worker.token_encryption_keys or [])
        if not keys:
            os.makedirs(conf.state_path, exist_ok=True)
            keys = [_key_file(conf.state_path)]
        return cls(keys)

    def encrypt(self, token: str | None) -> str | None:
        if not token:
            return None
        return PREFIX + self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, stored: str | None) -> str | None:
        """The token; None when there is none or no key opens it (the
        operation then can't act as its caller, and says so)."""
        if not stored:
            return None
        if not stored.startswith(PREFIX):
            return stored          # recorded before tokens were encrypted
        try:
            return self._fernet.decrypt(
                stored[len(PREFIX):].encode()).decode()
        except fernet.InvalidToken:
            LOG.warning("A stored request token was encrypted with a key "
                        "this worker does not have ([share_worker] "
                        "token_encryption_keys)")
            return None
