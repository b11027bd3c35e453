"""The vault: venue credentials, sealed in ``[secrets] vault_file`` and named from the
venues' session files as ``vault:NAME`` (``Password=vault:MM1`` in a quickfix ``.cfg``).

A reference stays a reference everywhere but where the credential is used: the supervisor,
the config and status views, and the session file quickfix is given carry ``vault:NAME``;
the FIX session opens the vault at each logon (``adapters/fix/session.py``), so a rotated
value is used from the next logon on, and the plaintext lives only for the moment of it.

Which settings of a session file may name a vault entry: ``Password`` and ``Username``,
the ones brokerd itself puts in (or checks on) a Logon. Any other setting is quickfix's,
written to the file quickfix reads: a reference there is refused at start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from keystore.masterkey import MasterKeyError, load_master_key
from keystore.store import SecretStore, StoreError, check_name
from model.config import Config, SecretsSection
from model.errors import ConfigError

PURPOSE = "vault"
PREFIX = "vault:"
CREDENTIAL_KEYS = ("Username", "Password")  # the session settings that may name a vault entry

Resolver = Callable[[str], str]


def reference(value: str) -> str | None:
    """The entry ``value`` names (``vault:MM1`` → ``MM1``), or ``None`` for a plain value."""
    if not value.startswith(PREFIX):
        return None
    return check_name(value[len(PREFIX) :])


def open_vault(section: SecretsSection, environ: Mapping[str, str] = os.environ) -> SecretStore:
    """The vault under the configured master key (``MasterKeyError`` without one)."""
    return SecretStore(Path(section.vault_file), load_master_key(section, environ), PURPOSE)


def resolver(section: SecretsSection) -> Resolver:
    """``resolve(value)``: ``value`` itself, or the vault entry it names, read afresh from the
    file at each call (a rotation counts from the next call). Raises ``StoreError`` or
    ``MasterKeyError`` with a one-line reason that never holds the value."""

    def resolve(value: str) -> str:
        name = reference(value)
        return value if name is None else open_vault(section).get_text(name)

    return resolve


def session_references(path: Path) -> dict[str, str]:
    """``{setting: entry}`` for each ``vault:`` value of a quickfix session file. Raises
    ``ConfigError`` for a reference in a setting other than ``CREDENTIAL_KEYS``."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.lstrip().startswith(("#", ";")):  # a comment, for quickfix too
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value.startswith(PREFIX):
            continue
        if key not in CREDENTIAL_KEYS:
            raise ConfigError(f"{path}:{number}: {key} names a vault entry; only {' and '.join(CREDENTIAL_KEYS)} may")
        try:
            found[key] = reference(value) or ""
        except StoreError as error:
            raise ConfigError(f"{path}:{number}: {error}") from None
    return found


def references(config: Config) -> dict[str, list[str]]:
    """``{entry: [where it is named, ...]}`` over every venue's and the drop copy's session
    file (their paths resolved, as ``model.config.load_setup`` leaves them)."""
    files = [(f"venue {venue.name}", venue.session_config) for venue in config.venues if venue.kind == "fix"]
    if config.drop_copy.enabled:
        files.append(("drop_copy", config.drop_copy.session_config))
    named: dict[str, list[str]] = {}
    for who, file in files:
        for key, entry in session_references(Path(file)).items():
            named.setdefault(entry, []).append(f"{who} {key}")
    return named


def uses_secrets(config: Config) -> bool:
    """Whether the server needs the master key: a vault reference, or a vault file."""
    return bool(references(config)) or Path(config.secrets.vault_file).exists()


def check_at_start(config: Config, environ: Mapping[str, str] = os.environ) -> int:
    """Before anything starts: when sealed secrets are in use, the master key loads, the
    vault verifies whole, and every entry named exists. Returns the number of entries
    (0 when no secret is in use); raises ``ConfigError``, ``MasterKeyError`` or
    ``StoreError`` with one line for the operator."""
    if not uses_secrets(config):
        return 0
    named = references(config)
    vault = open_vault(config.secrets, environ)
    if not vault.exists():
        first = next(iter(named))
        raise ConfigError(
            f"{', '.join(named[first])} names vault entry {first!r}, but there is no vault file {vault.path}"
            f" (add it: brokerd secrets add {first} --config FILE)"
        )
    held = {info.name for info in vault.list()}
    for entry, where in named.items():
        if entry not in held:
            raise ConfigError(f"{', '.join(where)} names vault entry {entry!r}, which {vault.path} does not hold"
                              f" (add it: brokerd secrets add {entry} --config FILE)")  # fmt: skip
    return len(held)


__all__ = ["MasterKeyError", "PURPOSE", "Resolver", "StoreError", "check_at_start", "open_vault", "reference", "references", "resolver"]
