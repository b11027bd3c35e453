"""Messages of statements (``model/statements.py``): the gateway's query of one account's
statement and the shard's answer.

Tags 140-149 are the statements' (never reuse or renumber one: the journal holds them)."""

from __future__ import annotations

from typing import Union

from model.messages.base import MessageBase, Reply
from model.statements import Statement

__all__ = ["QueryStatement", "StatementMessage", "StatementReply"]


class QueryStatement(MessageBase, frozen=True, gc=False, tag=140):
    """The statement of ``account`` for the local dates ``from_day`` to ``to_day``
    (proleptic ordinals, both included), refused ``statement_too_large`` when it would hold
    more than ``max_rows`` entries (the gateway's ``[books] statement_max_rows``, carried
    here so a replay decides as the first run did)."""

    account: str
    reply: Reply
    from_day: int
    to_day: int
    max_rows: int


class StatementReply(MessageBase, frozen=True, gc=False, tag=141):
    reply: Reply
    statement: Statement


# The statements' messages, in tag order.
StatementMessage = Union[QueryStatement, StatementReply]
