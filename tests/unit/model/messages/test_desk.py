from __future__ import annotations

from model.messages import desk
from tests.unit.model.messages.support import union_lists_the_module_in_tag_order


def test_the_union_a_batch_takes_lists_every_desk_message_in_tag_order() -> None:
    assert union_lists_the_module_in_tag_order(desk.DeskMessage, desk)


def test_the_desk_messages_keep_to_their_tag_range() -> None:
    assert all(210 <= message.__struct_config__.tag <= 219 for message in desk.DeskMessage.__args__)
