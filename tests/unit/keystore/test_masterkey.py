"""The master key (``keystore/masterkey.py``): from a file or a variable, never shown."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from keystore.masterkey import MasterKeyError, load_master_key, parse_key, read_key_file, write_new_key
from model.config import SecretsSection


def test_a_new_key_file_is_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    write_new_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(path.read_text().strip())) == 32
    before = path.read_text()
    with pytest.raises(FileExistsError):
        write_new_key(path)
    assert path.read_text() == before


def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    write_new_key(path)
    path.chmod(0o640)
    with pytest.raises(MasterKeyError, match="open to group or others .*chmod 600"):
        read_key_file(path)


def test_base64_and_hex_keys_are_the_same_key_and_other_sizes_are_refused() -> None:
    raw = os.urandom(32)
    assert parse_key(raw.hex(), "t").key_id("vault") == parse_key(base64.b64encode(raw).decode(), "t").key_id("vault")
    with pytest.raises(MasterKeyError, match="must be 32 bytes, this one is 16"):
        parse_key(base64.b64encode(raw[:16]).decode(), "t")
    with pytest.raises(MasterKeyError, match="not a base64 or hex"):
        parse_key("not a key!", "t")


def test_the_file_counts_first_and_a_missing_one_is_an_error_not_a_fall_back(tmp_path: Path) -> None:
    raw = os.urandom(32)
    environ = {"BROKERD_MASTER_KEY": raw.hex()}
    from_env = load_master_key(SecretsSection(), environ)
    assert from_env.key_id("vault") == parse_key(raw.hex(), "t").key_id("vault")
    missing = SecretsSection(master_key_file=str(tmp_path / "none.key"))
    with pytest.raises(MasterKeyError, match="none.key does not exist"):
        load_master_key(missing, environ)
    with pytest.raises(MasterKeyError, match="no master key: set BROKERD_MASTER_KEY"):
        load_master_key(SecretsSection(), {})


def test_no_error_and_no_repr_shows_the_key(tmp_path: Path) -> None:
    secret_text = base64.b64encode(os.urandom(24)).decode()  # a wrong size: the error must not echo it
    with pytest.raises(MasterKeyError) as refused:
        load_master_key(SecretsSection(), {"BROKERD_MASTER_KEY": secret_text})
    assert secret_text not in str(refused.value)
    raw = os.urandom(32)
    assert raw.hex() not in repr(parse_key(raw.hex(), "t")) and "hidden" in repr(parse_key(raw.hex(), "t"))
