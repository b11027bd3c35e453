"""Where the FIX 4.4 data dictionary is found: ``$BROKERD_FIX_SPEC`` first, then quickfix's
install, and a clear error naming both when there is none."""

from __future__ import annotations

import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from adapters.fix.spec import fix44_dictionary

SYSTEM_WIDE = [Path(prefix) / "share" / "quickfix" / "FIX44.xml" for prefix in ("/usr/local", "/usr")]


def test_the_dictionary_quickfix_installed_is_found_and_is_fix_4_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BROKERD_FIX_SPEC", raising=False)
    found = fix44_dictionary()
    assert found.name == "FIX44.xml" and found.is_file()
    root = ElementTree.parse(found).getroot()
    assert (root.get("type"), root.get("major"), root.get("minor")) == ("FIX", "4", "4")


def test_the_environment_names_another_dictionary(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    own = tmp_path / "MY44.xml"
    own.write_text("<fix/>")
    monkeypatch.setenv("BROKERD_FIX_SPEC", str(own))
    assert fix44_dictionary() == own


def test_a_configured_file_that_does_not_exist_falls_back_to_the_installed_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BROKERD_FIX_SPEC", raising=False)
    installed = fix44_dictionary()
    monkeypatch.setenv("BROKERD_FIX_SPEC", str(tmp_path / "missing.xml"))
    assert fix44_dictionary() == installed


@pytest.mark.skipif(any(path.is_file() for path in SYSTEM_WIDE), reason="a system-wide FIX44.xml is installed")
def test_without_any_dictionary_the_error_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BROKERD_FIX_SPEC", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="install quickfix .* or set BROKERD_FIX_SPEC"):
        fix44_dictionary()
