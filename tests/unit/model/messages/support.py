"""What the message modules' tests share."""

from __future__ import annotations

from types import ModuleType
from typing import Any, get_args

import msgspec


def tags_of(module: ModuleType) -> dict[type, int]:
    """The messages a module defines, with their tags."""
    return {
        obj: obj.__struct_config__.tag
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, msgspec.Struct)
        and obj.__module__ == module.__name__
        and isinstance(obj.__struct_config__.tag, int)
    }


def union_lists_the_module_in_tag_order(union: Any, module: ModuleType) -> bool:
    """A direction's union (what a ``Batch`` takes from it) holds every tagged message its
    module defines, once, in tag order."""
    tags = tags_of(module)
    return list(get_args(union)) == sorted(tags, key=tags.__getitem__)
