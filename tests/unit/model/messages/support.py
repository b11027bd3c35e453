"""What the message modules' tests share."""

from __future__ import annotations

from types import ModuleType

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
