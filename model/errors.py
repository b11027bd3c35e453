"""The one error every configuration and reference-data file raises when it is wrong."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration or reference-data file is wrong (``server.toml``, the instrument and
    user files, an accounts file or upload): the message names the file, the row where
    there is one, and why. ``run_server.py`` reports it on one line and exits; an admin
    command answers it as the command's error."""
