"""Every configuration failure is one ``ConfigError``: what ``run_server.py`` and the admin
commands catch to answer a bad file on one line, without a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model import accounts_file, config
from model.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A copy of the shipped conf/ that a test may spoil."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    return tmp_path / "conf"


def test_the_error_callers_import_from_model_config_is_the_one_every_loader_raises() -> None:
    assert config.ConfigError is ConfigError and issubclass(ConfigError, ValueError)
    assert config.parse_accounts_csv is accounts_file.parse_accounts_csv and config.AccountSeed is accounts_file.AccountSeed


@pytest.mark.parametrize(
    ("file", "text", "words"),
    [
        ("server.toml", "[gateway]\nmax_frame_bytes = 0\n", "gateway.max_frame_bytes must be > 0"),
        ("server.toml", "[nowhere]\nx = 1\n", "nowhere"),
        ("accounts.csv", "account,owner,cash\nA1,trader1,1.001\n", "row 2: account A1: cash must be a non-negative amount"),
        ("accounts.csv", "account,owner,cash,positions\nA1,trader1,1.00,NOPE:1\n", "account A1: unknown symbol NOPE"),
        ("users.toml", '[[users]]\nkey = "k"\nsecret = "s"\n[[users]]\nkey = "k"\nsecret = "t"\n', "duplicate user key: k"),
    ],
)
def test_a_bad_file_fails_load_setup_with_a_config_error_naming_the_problem(conf: Path, file: str, text: str, words: str) -> None:
    (conf / file).write_text(text)
    with pytest.raises(config.ConfigError) as refused:
        config.load_setup(conf / "server.toml")
    assert words in str(refused.value)

