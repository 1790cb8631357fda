"""Callers' tokens are stored encrypted (Fernet, keys from
configuration, rotatable) and decrypted only for the Manila call."""

import os
import stat

import pytest
import sqlalchemy as sa
from cryptography import fernet
from oslo_context import context as o_context

from share_worker import exception
from share_worker.db import models
from share_worker.token_cipher import KEY_FILE, TokenCipher
from tests.conftest import wait_for

SHARE = "OS::Manila::Share"
TOKEN = "gAAAAABn-secret-user-token-0123456789"


def test_round_trip_and_rotation():
    old, new = fernet.Fernet.generate_key(), fernet.Fernet.generate_key()
    stored = TokenCipher([old]).encrypt(TOKEN)
    assert TOKEN not in stored and stored.startswith("fernet:")
    # the new key first: what the old one wrote still opens
    rotated = TokenCipher([new, old])
    assert rotated.decrypt(stored) == TOKEN
    assert TokenCipher([new]).decrypt(rotated.encrypt(TOKEN)) == TOKEN
    # a key this worker lacks: no token, never a crash
    assert TokenCipher([new]).decrypt(stored) is None
    assert rotated.encrypt(None) is None and rotated.decrypt(None) is None
    # a row written before encryption came in still works
    assert rotated.decrypt("plain-old-token") == "plain-old-token"


def test_a_bad_key_is_a_configuration_error():
    with pytest.raises(exception.ConfigurationError) as err:
        TokenCipher(["not-a-key"])
    assert "token_encryption_keys" in err.value.message


def test_without_keys_a_private_key_file_is_made(conf, tmp_path):
    conf.set_override("state_path", str(tmp_path / "state"))
    first = TokenCipher.from_conf(conf)
    path = tmp_path / "state" / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # the same host's next process reads the same key
    assert TokenCipher.from_conf(conf).decrypt(first.encrypt(TOKEN)) == TOKEN


def test_the_store_holds_no_readable_token(make_engine, manila):
    engine = make_engine()
    share = manila.add_share(project_id="p1")
    ctx = o_context.RequestContext(user_id="u1", project_id="p1",
                                   auth_token=TOKEN, overwrite=False)
    engine.protect(ctx, {"type": SHARE, "id": share.id})
    wait_for(lambda: engine.clients.contexts, what="a Manila call")
    # Manila got the caller's own token ...
    assert engine.clients.contexts[-1].auth_token == TOKEN
    # ... and no table holds it readable while the operation runs
    with engine.store.read() as conn:
        for table in models.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                assert TOKEN not in repr(tuple(row)), table.name
