"""Placement of accounts and symbols: stable across processes, runs and hash seeds."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib

import pytest

from model.routing import shard_of


def test_the_shard_is_crc32_of_the_key_modulo_the_count() -> None:
    assert shard_of("A1", 2) == zlib.crc32(b"A1") % 2
    assert shard_of("IBM", 7) == zlib.crc32(b"IBM") % 7


@pytest.mark.parametrize("count", [1, 2, 3, 16])
def test_every_key_lands_in_range(count: int) -> None:
    assert {shard_of(f"A{index}", count) for index in range(200)} <= set(range(count))


def test_many_keys_spread_over_every_shard() -> None:
    assert {shard_of(f"T{index:02d}", 4) for index in range(40)} == {0, 1, 2, 3}


def test_the_placement_is_the_same_in_another_process_with_another_hash_seed() -> None:
    keys = ["A1", "A2", "B1", "IBM", "AAPL", "VFIAX", "ünïcode"]
    here = [shard_of(key, 5) for key in keys]
    code = f"from model.routing import shard_of; print([shard_of(k, 5) for k in {keys!r}])"
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment).stdout
    assert there.strip() == str(here)
