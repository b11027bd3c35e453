from __future__ import annotations

from model.messages import control
from tests.unit.model.messages.support import union_lists_the_module_in_tag_order


def test_the_union_a_batch_takes_lists_every_control_message_in_tag_order() -> None:
    assert union_lists_the_module_in_tag_order(control.ControlMessage, control)
