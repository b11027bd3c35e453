"""Large creation data of a detached actor, kept in the Ray cluster's key-value store (the
GCS) instead of in its creation arguments.

Ray keeps an actor's creation arguments to run its constructor again when it restarts. An
argument over its inline limit (100 KB) goes to the object store, owned by the process that
created the actor: once that process is gone — the driver of a server on a cluster, which
may die and leave the server running — Ray cannot restart the actor (ray-project/ray#53727;
Ray logs "has constructor arguments in the object store" at its creation). The supervisor
is created by the driver with the setup — the configuration and the instruments, users and
accounts files (an account about 46 bytes of it, an instrument about 95: over the limit from
about 2,200 accounts or 1,000 instruments) — so its creation arguments carry a key instead,
and the setup is put here first. The supervisor creates the other actors the same way
(``Role.create``): their lists of instruments and the gateways' setup are put here and
passed as a ``Ref``, since the objects the supervisor owns are lost when it dies and is
restarted, and each actor's constructor ``take``s them.

Guarantees:

* ``put`` returns a key naming the value's namespace, name and digest; ``get`` of that key
  returns exactly the bytes put, or raises ``LookupError`` — never another value (a later
  start with another setup puts another key).
* The value lives as long as the cluster (it survives the driver and the supervisor), until
  ``drop`` or ``drop_all`` of its namespace (the driver's stop).
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, TypeVar

import msgspec
from ray.experimental import internal_kv

KV_NAMESPACE = "brokerd"
T = TypeVar("T")


class Ref(msgspec.Struct, frozen=True):
    """A value put here, passed as a creation argument in its place (``take`` reads it)."""

    key: str


def ref(namespace: str, value: Any) -> Ref:
    """``value`` (msgspec-encodable) put under ``namespace`` and the name of its type."""
    return Ref(put(namespace, type(value).__name__, msgspec.msgpack.encode(value)))


def take(value: T | Ref, kind: type[T]) -> T:
    """``value`` itself, or what its ``Ref`` names decoded as ``kind``."""
    if isinstance(value, Ref):
        return msgspec.msgpack.decode(get(value.key), type=kind)
    return value


def key_of(namespace: str, name: str, value: bytes) -> str:
    """The key ``put`` stores ``value`` under: any driver with the same value finds it."""
    return f"{namespace}/{name}/{hashlib.sha256(value).hexdigest()}"


def put(namespace: str, name: str, value: bytes) -> str:
    """``value`` stored (compressed) under ``key_of(namespace, name, value)``; the key."""
    key = key_of(namespace, name, value)
    internal_kv._internal_kv_put(key, zlib.compress(value, 1), overwrite=True, namespace=KV_NAMESPACE)
    return key


def get(key: str) -> bytes:
    """The bytes ``put`` stored under ``key``, checked against the digest the key names."""
    stored = internal_kv._internal_kv_get(key, namespace=KV_NAMESPACE)
    if stored is None:
        raise LookupError(f"nothing stored under {key} in the cluster's key-value store")
    try:
        value = zlib.decompress(stored)
    except zlib.error as error:
        raise LookupError(f"what is stored under {key} is not what was put: {error}") from None
    if hashlib.sha256(value).hexdigest() != key.rpartition("/")[2]:
        raise LookupError(f"what is stored under {key} is not what was put")
    return value


def drop(key: str) -> None:
    internal_kv._internal_kv_del(key, namespace=KV_NAMESPACE)


def drop_all(namespace: str) -> int:
    """Every value put under ``namespace`` dropped (a server's, once it ended); how many."""
    return int(internal_kv._internal_kv_del(f"{namespace}/", del_by_prefix=True, namespace=KV_NAMESPACE))
