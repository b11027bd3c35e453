"""Basket files: many orders in one CSV or Parquet file (``admin orders load FILE``, the
``load_orders`` request), checked whole and turned into compact columns, then into encoded chunks for the account
shards.

One module per step: ``table`` reads a file's bytes into its known columns as text (and
numbers its rows), ``checks`` passes every row through the gateway's ``new_order`` rules
and builds the ``Basket`` (``parse_basket``), ``chunks`` holds the checked ``Basket`` and
splits it by account shard, ``errors`` what a refusal says. This package re-exports what
the rest of the server uses: ``from model.basket import parse_basket``.
"""

from __future__ import annotations

from model.basket.checks import BasketRules, parse_basket
from model.basket.chunks import Basket, Chunk, decode_chunks, encode_chunks
from model.basket.errors import BadRow, BasketError, number_ranges, refused_rows
from model.basket.table import is_parquet

__all__ = [
    "BadRow",
    "Basket",
    "BasketError",
    "BasketRules",
    "Chunk",
    "decode_chunks",
    "encode_chunks",
    "is_parquet",
    "number_ranges",
    "parse_basket",
    "refused_rows",
]
