"""The app refuses to start when SQLite's pragmas did not take (RELIABILITY §7 line 31)."""

import pytest

from portal import create_app
from portal import db as dbmod
from portal.config import ConfigError


@pytest.fixture
def sqlite_only(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite-only startup check")


def config_for(tmp_path):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-123456",
        "DATABASE_URL": "sqlite:///" + str(tmp_path / "own.db"),
        "ZOOM_SIMULATOR": False,
    }


def test_a_normal_start_checks_and_passes(sqlite_only, tmp_path):
    create_app(config_for(tmp_path))
    settings = dbmod.verify_sqlite_settings()
    assert settings["journal_mode"] == "wal" and settings["foreign_keys"] == 1
    assert dbmod.database.is_closed()  # the check does not leave a connection behind


@pytest.mark.parametrize(
    "pragma, value, words",
    [
        ("foreign_keys", 0, "foreign_keys is off"),
        ("busy_timeout", 10, "busy_timeout is 10 ms"),
        ("journal_mode", "delete", "journal_mode is 'delete', not 'wal'"),
    ],
)
def test_a_pragma_that_did_not_take_stops_the_start(
    sqlite_only, tmp_path, monkeypatch, pragma, value, words
):
    # make_database applies SQLITE_PRAGMAS on every connection; a wrong one there
    # stands for a pragma SQLite silently ignored (e.g. WAL on a network share)
    monkeypatch.setattr(dbmod, "SQLITE_PRAGMAS", {**dbmod.SQLITE_PRAGMAS, pragma: value})
    with pytest.raises(ConfigError, match="will not serve") as info:
        create_app(config_for(tmp_path))
    assert words in str(info.value)
