"""Start-up checks: production refuses unsafe settings; the database is set up safely."""

import subprocess
import sys

import pytest

from portal import create_app
from portal import db as dbmod
from portal.config import ConfigError

GOOD_KEY = "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A="


def production(database_url, **overrides):
    config = {
        "TESTING": False,
        "SECRET_KEY": "a-production-secret-key-with-enough-length",
        "TOKEN_ENCRYPTION_KEYS": GOOD_KEY,
        "DATABASE_URL": database_url,
        "ZOOM_CLIENT_ID": "real-client-id",
        "ZOOM_CLIENT_SECRET": "real-client-secret",
        "ZOOM_REDIRECT_URI": "https://portal.example.edu/zoom/callback",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "real-webhook-secret",
    }
    config.update(overrides)
    return config


@pytest.mark.parametrize(
    "overrides, setting",
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev-only-insecure-secret-key"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"TOKEN_ENCRYPTION_KEYS": ""}, "TOKEN_ENCRYPTION_KEYS"),
        ({"ZOOM_CLIENT_ID": "abc", "ZOOM_CLIENT_SECRET": ""}, "ZOOM_CLIENT_SECRET"),
        ({"ZOOM_CLIENT_ID": ""}, "ZOOM_CLIENT_ID"),
        ({"ZOOM_WEBHOOK_SECRET_TOKEN": ""}, "ZOOM_WEBHOOK_SECRET_TOKEN"),
    ],
)
def test_production_refuses_unsafe_settings(database_url, overrides, setting):
    with pytest.raises(ConfigError) as info:
        create_app(production(database_url, **overrides))
    assert setting in str(info.value)
    assert "\n" not in str(info.value)


def test_production_app_starts_with_secrets_and_is_not_debug(database_url):
    app = create_app(production(database_url))
    assert app.debug is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")


def test_production_never_mounts_the_simulator_unless_asked(database_url):
    app = create_app(production(database_url))
    assert app.config["ZOOM_SIMULATOR"] is False
    assert app.test_client().get("/zoom-sim/").status_code == 404


def test_production_demo_simulator_is_private(database_url):
    """ZOOM_SIMULATOR=1 outside development: a generated webhook secret, no anonymous switches."""
    from portal.zoom.simulator import DEV_WEBHOOK_SECRET

    app = create_app(production(database_url, ZOOM_CLIENT_ID="", ZOOM_SIMULATOR=True))
    secret = app.config["ZOOM_WEBHOOK_SECRET_TOKEN"]
    assert secret and secret != DEV_WEBHOOK_SECRET
    again = create_app(production(database_url, ZOOM_CLIENT_ID="", ZOOM_SIMULATOR=True))
    assert again.config["ZOOM_WEBHOOK_SECRET_TOKEN"] == secret  # every worker verifies alike
    client = app.test_client()
    https = {"base_url": "https://portal.example.edu"}
    assert client.get("/zoom-sim/", **https).status_code == 404
    assert client.post("/zoom-sim/control/reset", **https).status_code in (403, 404)
    assert client.get("/zoom-sim/oauth/authorize", **https).status_code != 404


def test_wsgi_refuses_to_start_without_secret_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).parent.parent),
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Virtual Meetings Portal cannot start: SECRET_KEY is missing: "
        "set it to a long random value."
    ]


def test_unsupported_database_url_is_refused(database_url):
    with pytest.raises(ConfigError, match="not supported"):
        create_app(production(database_url, DATABASE_URL="mysql://x/y"))


def test_sqlite_connections_use_wal_fk_busy_timeout_and_new_sqlite(app):
    if not dbmod.is_sqlite():
        pytest.skip("SQLite-only settings")
    settings = dbmod.check_sqlite_settings()
    assert settings["journal_mode"] == "wal"
    assert settings["foreign_keys"] == 1
    assert settings["busy_timeout"] >= 5000
    assert settings["synchronous"] == 2  # FULL
    assert dbmod.sqlite_runtime_version() >= (3, 51, 3)


def test_numeric_settings_come_from_the_environment(monkeypatch):
    from portal.config import Config

    monkeypatch.setenv("HEALTH_SCAN_CONCURRENCY", "4")
    monkeypatch.setenv("ZOOM_WEBHOOK_TOLERANCE_SECONDS", "7200")
    settings = Config.from_env()
    assert settings["HEALTH_SCAN_CONCURRENCY"] == 4
    assert settings["ZOOM_WEBHOOK_TOLERANCE_SECONDS"] == 7200
    monkeypatch.setenv("HEALTH_ZOOM_RATE", "fast")
    with pytest.raises(ConfigError, match="HEALTH_ZOOM_RATE must be a number"):
        Config.from_env()
    monkeypatch.setenv("HEALTH_ZOOM_RATE", "0")
    with pytest.raises(ConfigError, match="greater than zero"):
        Config.from_env()
