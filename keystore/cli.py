"""``brokerd secrets``: the master key and the vault, on the server's own machine, with the
server up or down (docs/admin.md#the-vault)::

    brokerd secrets new-master-key FILE          a fresh key in a new owner-only FILE
    brokerd secrets list    [--config FILE]      the vault's entries: names and times, never values
    brokerd secrets add     NAME [--config FILE] [--value-file FILE]
    brokerd secrets rotate  NAME [--config FILE] [--value-file FILE]
    brokerd secrets remove  NAME [--config FILE]
    brokerd secrets verify  [--config FILE]      check every entry authenticates
    brokerd secrets mfa-enroll USER [--config FILE] [--data-dir DIR]   enrol a user in TOTP (prints its secret once)
    brokerd secrets mfa-reset  USER [--config FILE] [--data-dir DIR]   remove a user's enrolment

A value is never an argument (it would stay in the shell's history and in ``ps``): it is
asked for twice without echo on a terminal, or read from ``--value-file``, or from standard
input when that is not a terminal (one trailing newline dropped). The admin shell's
``vault`` commands do the same through the running server.

Exit codes: 0 done; 1 the vault refused (a tampered file, a missing entry); 2 usage, a bad
configuration or no usable master key.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

import msgspec

from keystore.masterkey import MasterKeyError, write_new_key
from keystore.store import StoreError
from keystore.totp import MfaRefused, open_mfa
from keystore.vault import open_vault, references
from model.config import Config, ConfigError, load_setup

OK, FAILED, USAGE = 0, 1, 2
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "conf" / "server.toml"


class ValueRefused(Exception):
    """No value was given, or the two typed did not match."""


def read_value(name: str, value_file: str | None = None) -> bytes:
    """The value for entry ``name``: from ``value_file``, else typed twice without echo on a
    terminal, else all of standard input. One trailing newline is dropped (``echo`` adds it)."""
    if value_file is not None:
        try:
            data = Path(value_file).read_bytes()
        except OSError as error:
            raise ValueRefused(f"cannot read {value_file}: {error.strerror}") from None
    elif sys.stdin.isatty():
        first = getpass.getpass(f"value for {name} (not shown): ")
        if getpass.getpass("again, to confirm: ") != first:
            raise ValueRefused("the two values differ; nothing stored")
        data = first.encode("utf-8")
    else:
        data = sys.stdin.buffer.read()
    data = data.removesuffix(b"\n").removesuffix(b"\r")
    if not data:
        raise ValueRefused(f"no value given for {name}; nothing stored")
    return data


def parse_args(argv: list[str], prog: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog, description="brokerd's master key and vault of venue credentials")
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-master-key", help="write a fresh master key to a new file (mode 600)")
    new_key.add_argument("file")
    for name, text in (("list", "the vault's entries, never their values"), ("verify", "check every entry authenticates")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", default=str(DEFAULT_CONFIG))
    for name, text in (("add", "seal a new entry"), ("rotate", "seal a new value for an entry"), ("remove", "remove an entry")):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")
        command.add_argument("--config", default=str(DEFAULT_CONFIG))
        if name != "remove":
            command.add_argument("--value-file", help="read the value from this file (default: ask, or standard input)")
    for name, text in (("mfa-enroll", "enrol a user in TOTP (the first platform operator, with the server down)"), ("mfa-reset", "remove a user's TOTP enrolment")):
        command = commands.add_parser(name, help=text)
        command.add_argument("user")
        command.add_argument("--config", default=str(DEFAULT_CONFIG))
        command.add_argument("--data-dir", help="the server's data dir (default: that of the config), where mfa.json lives unless [secrets] mfa_file names it")
    return parser.parse_args(argv)


def main(argv: list[str], prog: str = "brokerd secrets") -> int:
    args = parse_args(argv, prog)
    try:
        return run(args)
    except (MasterKeyError, ConfigError, ValueRefused) as problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        return USAGE
    except StoreError as problem:
        print(f"{prog}: {problem}", file=sys.stderr)
        return FAILED


def run(args: argparse.Namespace) -> int:
    if args.command == "new-master-key":
        try:
            write_new_key(Path(args.file))
        except FileExistsError:
            raise ValueRefused(f"{args.file} exists; a master key is never overwritten (what it sealed would be lost)") from None
        except OSError as error:
            raise ValueRefused(f"cannot write {args.file}: {error.strerror}") from None
        print(f"new master key in {args.file} (mode 600); point [secrets] master_key_file at it, and keep a copy offline")
        return OK
    config = load_setup(args.config).config
    if args.command.startswith("mfa-"):
        return mfa(args, config)
    vault = open_vault(config.secrets)
    if args.command == "list":
        entries = vault.list() if vault.exists() else []
        for info in entries:
            print(f"{info.name}  created {info.created}  rotated {info.rotated}")
        print(f"{len(entries)} entries in {vault.path}")
    elif args.command == "verify":
        print(f"{vault.verify()} entries in {vault.path}: every one authenticates")
    elif args.command == "remove":
        where = references(config).get(args.name)
        if where:
            raise StoreError(f"{', '.join(where)} names {args.name!r}; change that first; nothing removed")
        vault.remove(args.name)
        print(f"removed {args.name} from {vault.path}")
    else:
        value = read_value(args.name, args.value_file)
        info = (vault.add if args.command == "add" else vault.rotate)(args.name, value)
        print(f"{args.command}: {info.name} (rotated {info.rotated}); a FIX session uses it from its next logon")
    return OK


def mfa(args: argparse.Namespace, config: Config) -> int:
    """``mfa-enroll USER`` prints the secret and its otpauth:// URI once; ``mfa-reset USER``."""
    if args.user not in {user.key for user in load_setup(args.config).users}:
        raise ValueRefused(f"{args.user} is not a user of {args.config}'s users file")
    if args.data_dir:
        config = msgspec.structs.replace(config, server=msgspec.structs.replace(config.server, data_dir=args.data_dir))
    store = open_mfa(config)
    if args.command == "mfa-reset":
        print(f"{args.user}: {'enrolment removed' if store.reset(args.user) else 'was not enrolled'}")
        return OK
    try:
        secret, uri = store.enroll(args.user, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    except MfaRefused as refused:
        raise StoreError(str(refused)) from None
    print(f"{args.user} enrolled in {store.store.path}; shown this once, add it to an authenticator app now:")
    print(f"secret {secret}")
    print(uri)
    return OK
