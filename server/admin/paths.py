"""Where admin commands may read and write files: inside a configured folder only.

``accounts load FILE``, ``nav FILE`` and ``reconcile FILE`` read from the import dir,
``export [FOLDER]`` writes into the export dir (``[admin]`` in ``conf/server.toml``). A
path given to one of them is taken relative to that folder, on the server's machine; an
absolute path is accepted only when it lies inside the folder.

Guarantees:
- The path returned is resolved (no ``..``, no symbolic link left in it) and lies inside
  the resolved folder (or is the folder itself, where allowed).
- A ``..`` that climbs out, an absolute path elsewhere, or a symbolic link anywhere in the
  path that leads out is refused with :class:`PathRefused` before anything is read,
  written or created.
- The check looks at the file system as it is when the command runs: a link planted
  inside the folder between the check and the read is followed. Whoever can write into
  the folder on the server's machine is trusted, as whoever edits ``conf/`` is.
"""

from __future__ import annotations

from pathlib import Path


class PathRefused(ValueError):
    """A path an admin command may not use; the message says why and where it may."""


def confine(root: str | Path, given: str, *, what: str, allow_root: bool = False) -> Path:
    """``given`` resolved inside ``root`` (``what`` names the folder in the error, e.g.
    ``"import dir"``), or :class:`PathRefused`. ``allow_root``: ``given`` may name the
    folder itself (``export .``)."""
    base = Path(root).resolve()
    if not given or "\0" in given:
        raise PathRefused(f"{given!r} is not a path; give a path inside the {what} {base}")
    # An absolute ``given`` replaces ``base`` in the join; it must then resolve inside it.
    # ``resolve`` follows every symbolic link and removes every ``..``, whether the path
    # exists or not, so the containment test sees where the path really leads.
    try:
        target = (base / given).resolve()
    except (OSError, RuntimeError) as error:  # a loop of symbolic links
        raise PathRefused(f"{given!r} cannot be resolved inside the {what} {base}: {error}") from None
    if target == base and not allow_root:
        raise PathRefused(f"{given!r} is the {what} {base} itself; name a file in it")
    if target != base and not target.is_relative_to(base):
        raise PathRefused(f"{given!r} leads outside the {what} {base}; give a path inside it (relative to it)")
    return target
