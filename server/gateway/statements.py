"""The statements' part of the trader protocol (docs/books.md): ``get_statement`` checked into
a shard query, and its answer as JSON. Pure."""

from __future__ import annotations

import msgspec

from model.config import BooksSection
from model.messages import QueryStatement, Reply, StatementReply
from model.statements import check_period, parse_day, statement_json
from server.gateway.validation import Invalid

_encoder = msgspec.json.Encoder()


def to_query_statement(account: str, start: str, end: str, books: BooksSection, reply: Reply) -> QueryStatement:
    """A ``get_statement`` checked: two dates ``YYYY-MM-DD``, ``from`` ≤ ``to``, at most
    ``[books] statement_max_days`` of them. How many entries the period holds is the owning
    shard's to count (above ``[books] statement_max_rows``: ``statement_too_large``)."""
    try:
        first, last = parse_day(start), parse_day(end)
        check_period(first, last, books.statement_max_days)
    except ValueError as problem:
        raise Invalid("invalid_request", str(problem)) from None
    return QueryStatement(account, reply, first.toordinal(), last.toordinal(), books.statement_max_rows)


def encode_statement(reply: StatementReply) -> bytes:
    """The frame ``{"type": "statement", ...}``: the statement as ``model.statements.statement_json``
    gives it, the same as the ``.json`` file ``admin statement`` writes."""
    return _encoder.encode({"type": "statement", **statement_json(reply.statement)})
