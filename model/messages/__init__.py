"""Every message that travels between actors: commands (imperative) and events (past tense).

All are frozen, ``array_like`` msgspec Structs with a small integer tag, so a batch of a
thousand encodes to compact msgpack once and the same bytes are what the journal stores.
Numbers are fixed-point ints (``model.fixed``); ``None`` means "not given".

One module per direction: ``client`` (gateway ↔ account shards), ``routing`` (account
shard → instrument actor → venue session and back, and the consolidated market),
``control`` (the supervisor's control path and what an actor journals to itself),
__all__ = [
    *base.__all__,
    *batch.__all__,
    *books.__all__,
    *bulk.__all__,
    *client.__all__,
    *control.__all__,
    *risk.__all__,
    *routing.__all__,
    *statements.__all__,
    *strategies.__all__,
    *transfers.__all__,
]
``base`` holds what every message is, ``batch`` what one hop carries. A new message
touches its direction's module alone: the class, its name in ``__all__``, and its place in
the module's union (tag order), which ``batch.Message`` joins with the others. This package
re-exports every module's ``__all__``: ``from model.messages import NewOrder``.
"""

from __future__ import annotations

from model.messages import base, batch, books, bulk, client, control, desk, risk, routing, statements, strategies, transfers
from model.messages.base import *  # noqa: F403
from model.messages.batch import *  # noqa: F403
from model.messages.books import *  # noqa: F403
from model.messages.bulk import *  # noqa: F403
from model.messages.client import *  # noqa: F403
from model.messages.control import *  # noqa: F403
from model.messages.desk import *  # noqa: F403
from model.messages.risk import *  # noqa: F403
from model.messages.routing import *  # noqa: F403
from model.messages.statements import *  # noqa: F403
from model.messages.strategies import *  # noqa: F403
from model.messages.transfers import *  # noqa: F403

__all__ = [
    *base.__all__,
    *batch.__all__,
    *books.__all__,
    *bulk.__all__,
    *client.__all__,
    *control.__all__,
    *desk.__all__,
    *risk.__all__,
    *routing.__all__,
    *statements.__all__,
    *strategies.__all__,
    *transfers.__all__,
]
