"""Basket files: many orders in one CSV or Parquet file, checked whole (``checks``)."""

from __future__ import annotations

from model.basket.checks import (
    Basket,
    BasketError,
    BasketRules,
    BadRow,
    decode_chunks,
    encode_chunks,
    is_parquet,
    number_ranges,
    parse_basket,
    refused_rows,
)

__all__ = [
    "BadRow",
    "Basket",
    "BasketError",
    "BasketRules",
    "decode_chunks",
    "encode_chunks",
    "is_parquet",
    "number_ranges",
    "parse_basket",
    "refused_rows",
]
