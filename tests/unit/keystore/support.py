"""A master key file and a ``[secrets]`` section for the keystore's tests."""

from __future__ import annotations

from pathlib import Path

from keystore.masterkey import write_new_key
from model.config import SecretsSection


def secrets_in(folder: Path) -> SecretsSection:
    """A fresh owner-only master key file in ``folder`` and a vault beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "master.key"
    write_new_key(key)
    return SecretsSection(master_key_file=str(key), vault_file=str(folder / "vault.json"))
