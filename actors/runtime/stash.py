"""Large creation data of a detached actor, kept in the Ray cluster's key-value store (the
GCS) instead of in its creation arguments.

Ray keeps an actor's creation arguments to run its constructor again when it restarts. An
argument over its inline limit (100 KB) goes to the object store, owned by the process that
created the actor: once that process is gone — the driver of a server on a cluster, which
may die and leave the server running — Ray cannot restart the actor (ray-project/ray#53727;
Ray logs "has constructor arguments in the object store" at its creation). The supervisor
is created by the driver with the accounts file in its setup (about 46 bytes an account:
over the limit from about 2,200 accounts), so its creation arguments carry a key instead,
and the accounts are put here first.

Guarantees:

* ``put`` returns a key naming the value's namespace, name and digest; ``get`` of that key
  returns exactly the bytes put, or raises ``LookupError`` — never another value (a later
  start with another accounts file puts another key).
* The value lives as long as the cluster (it survives the driver), until ``drop``.
"""

from __future__ import annotations

import hashlib
import zlib

from ray.experimental import internal_kv

KV_NAMESPACE = "brokerd"


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
    value = zlib.decompress(stored)
    if hashlib.sha256(value).hexdigest() != key.rsplit("/", 1)[1]:
        raise LookupError(f"what is stored under {key} is not what was put")
    return value


def drop(key: str) -> None:
    internal_kv._internal_kv_del(key, namespace=KV_NAMESPACE)
