"""The files admin commands use (``snapshots.files``), on a real file system: paths stay
inside their folder (``confine``); files are written atomically (``atomic_text``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from model import fixed
from model.config import AdminSection
from snapshots.files import (
    MAX_IMPORT_BYTES,
    PathRefused,
    atomic_text,
    concatenate_csv,
    confine,
    read_import,
    read_positions,
    write_csv,
    write_positions_csv,
)


def D(text: str) -> int:
    return fixed.parse(text)


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """An import dir with a file and a subfolder, and a folder beside it (outside) with a file."""
    root, outside = tmp_path / "imports", tmp_path / "outside"
    (root / "day").mkdir(parents=True)
    (root / "day" / "navs.csv").write_text("symbol,nav\n")
    (root / "accounts.csv").write_text("account,owner,cash\n")
    outside.mkdir()
    (outside / "secret.csv").write_text("not yours\n")
    return root, outside


def test_a_relative_path_resolves_inside_the_folder(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    assert confine(root, "accounts.csv", what="import dir") == root.resolve() / "accounts.csv"
    assert confine(root, "day/navs.csv", what="import dir") == root.resolve() / "day" / "navs.csv"
    assert confine(root, "new/later.csv", what="import dir") == root.resolve() / "new" / "later.csv"  # need not exist yet


def test_a_dot_dot_that_stays_inside_is_fine_and_comes_back_resolved(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    assert confine(root, "day/../accounts.csv", what="import dir") == root.resolve() / "accounts.csv"


def test_an_absolute_path_inside_the_folder_is_accepted(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    assert confine(root, str(root / "day" / "navs.csv"), what="import dir") == root.resolve() / "day" / "navs.csv"


@pytest.mark.parametrize(
    ("given", "refusal"),
    [
        # a dot-dot that leaves the folder
        ("../outside/secret.csv", "leads outside the import dir"),
        ("..", "leads outside the import dir"),
        ("day/../../outside/secret.csv", "leads outside the import dir"),
        ("../imports-evil/x.csv", "leads outside the import dir"),
        # an empty or impossible path
        ("", "not a path"),
        ("a\0b.csv", "not a path"),
    ],
)
def test_a_dot_dot_that_leaves_the_folder_or_no_path_at_all_is_refused(folders: tuple[Path, Path], given: str, refusal: str) -> None:
    root, _ = folders
    with pytest.raises(PathRefused, match=refusal):
        confine(root, given, what="import dir")


def test_an_absolute_path_outside_the_folder_is_refused(folders: tuple[Path, Path]) -> None:
    root, outside = folders
    for given in (str(outside / "secret.csv"), "/etc/passwd", str(root.parent)):
        with pytest.raises(PathRefused, match="leads outside"):
            confine(root, given, what="import dir")


def test_a_sibling_folder_sharing_the_prefix_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    with pytest.raises(PathRefused):
        confine(root, str(tmp_path / "exports-old" / "positions.csv"), what="export dir")


def test_a_symbolic_link_that_leads_out_is_refused(folders: tuple[Path, Path]) -> None:
    root, outside = folders
    os.symlink(outside / "secret.csv", root / "innocent.csv")
    os.symlink(outside, root / "linked")
    for given in ("innocent.csv", "linked/secret.csv", "linked", "linked/new-folder"):
        with pytest.raises(PathRefused, match="leads outside"):
            confine(root, given, what="import dir", allow_root=True)


def test_a_symbolic_link_inside_the_folder_is_followed(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    os.symlink(root / "day" / "navs.csv", root / "today.csv")
    assert confine(root, "today.csv", what="import dir") == root.resolve() / "day" / "navs.csv"


def test_a_folder_reached_through_a_symbolic_link_is_the_folder_itself(tmp_path: Path) -> None:
    """The configured folder may itself be a link (a data dir on another disk): it is resolved."""
    real = tmp_path / "disk" / "imports"
    real.mkdir(parents=True)
    (real / "a.csv").write_text("x\n")
    os.symlink(real, tmp_path / "imports")
    assert confine(tmp_path / "imports", "a.csv", what="import dir") == real.resolve() / "a.csv"


def test_a_loop_of_links_is_refused(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    os.symlink(root / "loop-b", root / "loop-a")
    os.symlink(root / "loop-a", root / "loop-b")
    with pytest.raises(PathRefused):
        confine(root, "loop-a/x.csv", what="import dir")


def test_the_folder_itself_only_where_allowed(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    with pytest.raises(PathRefused, match="itself"):
        confine(root, ".", what="import dir")
    assert confine(root, ".", what="export dir", allow_root=True) == root.resolve()
    assert confine(root, "day/..", what="export dir", allow_root=True) == root.resolve()


def test_the_refusal_names_the_folder_and_what_to_do(folders: tuple[Path, Path]) -> None:
    root, _ = folders
    with pytest.raises(PathRefused) as refused:
        confine(root, "../x.csv", what="import dir")
    assert str(refused.value) == f"'../x.csv' leads outside the import dir {root.resolve()}; give a path inside it (relative to it)"


def test_confining_touches_nothing(folders: tuple[Path, Path]) -> None:
    root, outside = folders
    before = sorted(str(p) for p in root.parent.rglob("*"))
    for given in ("new/deep/file.csv", "../outside/new.csv", str(outside / "made")):
        try:
            confine(root, given, what="export dir", allow_root=True)
        except PathRefused:
            pass
    assert sorted(str(p) for p in root.parent.rglob("*")) == before


def test_the_configured_folders_default_under_the_data_dir(tmp_path: Path) -> None:
    assert AdminSection().import_root(tmp_path) == tmp_path / "imports"
    assert AdminSection().export_root(tmp_path) == tmp_path / "exports"
    configured = AdminSection(import_dir="in", export_dir="/srv/out")
    assert configured.import_root(tmp_path) == tmp_path / "in"
    assert configured.export_root(tmp_path) == Path("/srv/out")


# --- atomic, durable writing -----------------------------------------------------------------------


def test_a_failed_export_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = write(tmp_path, "old contents\n", "export.csv")

    def rows() -> Iterator[tuple[str, str, int, int]]:
        yield "A1", "IBM", D("1"), D("1")
        raise RuntimeError("source went away")

    with pytest.raises(RuntimeError, match="source went away"):
        write_positions_csv(path, rows())
    assert path.read_text() == "old contents\n"
    assert os.listdir(tmp_path) == ["export.csv"]


def test_an_export_replaces_the_previous_file(tmp_path: Path) -> None:
    path = write(tmp_path, "old\n", "export.csv")
    write_positions_csv(path, [("A1", "IBM", D("2"), D("300.50"))])
    assert read_positions(path) == {("A1", "IBM"): D("2")}
    assert os.listdir(tmp_path) == ["export.csv"]


def test_a_failure_inside_an_atomic_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "new.csv"
    with pytest.raises(RuntimeError), atomic_text(target) as handle:
        handle.write("half")
        raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []


def test_parts_join_under_one_header_and_are_removed(tmp_path: Path) -> None:
    parts = [write(tmp_path, "h1,h2\na,1\n", "p.0.csv"), write(tmp_path, "h1,h2\n", "p.1.csv"), write(tmp_path, "h1,h2\nb,2\nc,3\n", "p.2.csv")]
    concatenate_csv(parts, tmp_path / "p.csv")
    assert (tmp_path / "p.csv").read_text() == "h1,h2\na,1\nb,2\nc,3\n"
    assert os.listdir(tmp_path) == ["p.csv"]


def test_write_csv_counts_rows_without_the_header(tmp_path: Path) -> None:
    assert write_csv(tmp_path / "x.csv", ("a", "b"), iter([["1", "2"], ["3", "4,5"]])) == 2
    assert (tmp_path / "x.csv").read_text() == 'a,b\n1,2\n3,"4,5"\n'


def test_reading_a_missing_positions_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_positions(tmp_path / "none.csv")


# --- reading: regular files of a bounded size only ---------------------------------------------------


def test_a_regular_file_up_to_the_cap_is_read_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "account,symbol,qty\nA1,IBM,1\n", "p.csv")  # 28 bytes
    assert read_import(path) == b"account,symbol,qty\nA1,IBM,1\n" == read_import(path, 28)
    with pytest.raises(PathRefused, match=f"^{path} is larger than 27 bytes \\(28\\), the most an admin command reads$"):
        read_import(path, 27)


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Opening a FIFO to read waits until something writes to it: the supervisor would stall."""
    fifo = tmp_path / "accounts.csv"
    os.mkfifo(fifo)
    for read in (read_import, read_positions):
        with pytest.raises(PathRefused, match=f"^{fifo} is a named pipe \\(FIFO\\), not a regular file; give a file$"):
            read(fifo)


def test_a_folder_and_a_file_past_the_cap_are_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    with pytest.raises(PathRefused, match="is a folder, not a regular file"):
        read_import(tmp_path)
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(MAX_IMPORT_BYTES + 1)  # sparse: no disk, no memory, whatever the cap
    with pytest.raises(PathRefused, match=f"larger than {MAX_IMPORT_BYTES} bytes \\({MAX_IMPORT_BYTES + 1}\\)"):
        read_positions(huge)
