"""`flask --app wsgi portal doctor`: one line per setting, exit 1 when anything is wrong."""

import os

import pytest
from cryptography.fernet import Fernet

from portal import create_app, migrate
from portal import db as dbmod

GOOD_KEY = "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A="
SECRET = "a-secret-key-for-the-doctor-tests-0123456789"  # 44 characters


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """The doctor also reads the environment: start every test without TRUSTED_PROXIES."""
    monkeypatch.delenv("TRUSTED_PROXIES", raising=False)


@pytest.fixture
def app_config(app_config):
    """A complete real-Zoom deployment, as a tutoring center would configure it."""
    return {
        **app_config,
        "SECRET_KEY": SECRET,
        "TOKEN_ENCRYPTION_KEYS": GOOD_KEY,
        "ZOOM_CLIENT_ID": "client-id-from-marketplace",
        "ZOOM_CLIENT_SECRET": "client-secret-from-marketplace",
        "ZOOM_REDIRECT_URI": "https://portal.example.edu/zoom/callback",
        "ZOOM_OAUTH_BASE_URL": "https://zoom.us",
        "ZOOM_API_BASE_URL": "https://api.zoom.us/v2",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "webhook-secret-token",
        "HUEY_REDIS_URL": "",
        "REDIS_URL": "",
        "SESSION_COOKIE_SECURE": True,
    }


@pytest.fixture
def app(app, tmp_path):
    app.instance_path = str(tmp_path / "instance")
    os.makedirs(app.instance_path)
    return app


def doctor(runner):
    result = runner.invoke(args=["portal", "doctor"])
    return result.exit_code, result.stdout.splitlines()


def queue_line(app):
    return (
        f"ok   HUEY_REDIS_URL is not set: the job queue is SQLite in {app.instance_path} (writable)"
    )


def test_good_configuration_passes_with_every_line_ok(app, runner):
    code, lines = doctor(runner)
    assert code == 0, lines
    assert all(line.startswith("ok   ") for line in lines), lines
    expected = [
        "ok   SECRET_KEY is set (44 characters)",
        "ok   TOKEN_ENCRYPTION_KEYS has 1 valid Fernet key",
        "ok   ZOOM_CLIENT_ID is set: real Zoom",
        "ok   ZOOM_CLIENT_SECRET is set",
        "ok   ZOOM_REDIRECT_URI is https://portal.example.edu/zoom/callback",
        "ok   ZOOM_OAUTH_BASE_URL is https://zoom.us",
        "ok   ZOOM_API_BASE_URL is https://api.zoom.us/v2",
        "ok   ZOOM_WEBHOOK_SECRET_TOKEN is set",
        f"ok   DATABASE_URL: all {len(migrate.status())} migrations applied",
        queue_line(app),
        "ok   REDIS_URL is not set: each process keeps its own Zoom rate budget "
        "(set it, or HUEY_REDIS_URL, before running job consumers on several hosts)",
        "ok   ZOOM_SIMULATOR is off",
        "ok   TRUSTED_PROXIES is 0: X-Forwarded-* headers are not trusted",
        "ok   the production start-up check passes",
    ]
    assert [line for line in lines if line in expected] == expected
    assert len([line for line in lines if line.startswith("ok   DATABASE_URL: ")]) == 2
    if dbmod.is_sqlite():
        assert any(line.startswith("ok   SQLite 3.") for line in lines)


BROKEN = [
    (
        {"SECRET_KEY": "too-short"},
        "FAIL SECRET_KEY is too short (9 characters): use at least 32 random characters",
    ),
    (
        {"TOKEN_ENCRYPTION_KEYS": f"{GOOD_KEY},not-a-fernet-key"},
        "FAIL TOKEN_ENCRYPTION_KEYS entry 2 is not a valid Fernet key: generate one with "
        "python3 -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'",
    ),
    (
        {"ZOOM_CLIENT_SECRET": ""},
        "FAIL ZOOM_CLIENT_SECRET is missing: copy it from your Zoom app's credentials "
        "(needed when ZOOM_CLIENT_ID is set)",
    ),
    (
        {"ZOOM_REDIRECT_URI": "http://portal.example.edu/zoom/callback"},
        "FAIL ZOOM_REDIRECT_URI must use https: plain http is only for a loopback host "
        "(127.0.0.1, localhost, [::1]), not portal.example.edu",
    ),
    (
        {"ZOOM_REDIRECT_URI": "https://portal.example.edu/oauth/callback"},
        "FAIL ZOOM_REDIRECT_URI must end in exactly /zoom/callback, not /oauth/callback",
    ),
    (
        {"ZOOM_REDIRECT_URI": "https://portal.example.edu/zoom/callback/"},
        "FAIL ZOOM_REDIRECT_URI must end in exactly /zoom/callback, not /zoom/callback/",
    ),
    (
        {"ZOOM_REDIRECT_URI": "/zoom/callback"},
        "FAIL ZOOM_REDIRECT_URI must be an absolute URL such as https://…, not '/zoom/callback'",
    ),
    (
        {"ZOOM_API_BASE_URL": "http://api.zoom.us/v2"},
        "FAIL ZOOM_API_BASE_URL must use https: plain http is only for a loopback host "
        "(127.0.0.1, localhost, [::1]), not api.zoom.us",
    ),
    (
        {"ZOOM_WEBHOOK_SECRET_TOKEN": ""},
        "FAIL ZOOM_WEBHOOK_SECRET_TOKEN is missing: copy the Secret Token of your Zoom app's "
        "event subscription (needed when ZOOM_CLIENT_ID is set)",
    ),
    (
        {"HUEY_REDIS_URL": "redis://127.0.0.1:1/0"},
        "FAIL HUEY_REDIS_URL: no Redis answers at 127.0.0.1:1 (ConnectionError): "
        "start Redis or fix the URL",
    ),
    (
        {"REDIS_URL": "redis://:secret-password@127.0.0.1:1/0"},
        "FAIL REDIS_URL: no Redis answers at 127.0.0.1:1 (ConnectionError): "
        "start Redis or fix the URL",
    ),
    (
        {"REDIS_URL": "http://127.0.0.1:6379/0"},
        "FAIL REDIS_URL must look like redis://host:6379/0, not 'http://127.0.0.1:6379/0'",
    ),
]


@pytest.mark.parametrize(("settings", "line"), BROKEN, ids=[next(iter(s)) for s, _ in BROKEN])
def test_each_broken_setting_fails_with_a_line_naming_it(app, runner, settings, line):
    app.config.update(settings)
    code, lines = doctor(runner)
    assert code == 1
    assert line in lines, lines
    failed = [x for x in lines if x.startswith("FAIL ") and "refuses to start" not in x]
    assert failed == [line]


def test_a_secret_the_portal_needs_to_start_is_reported_twice(app, runner):
    app.config["SECRET_KEY"] = ""
    code, lines = doctor(runner)
    assert code == 1
    assert "FAIL SECRET_KEY is missing: set it to 32 or more random characters" in lines
    assert (
        "FAIL the portal refuses to start in production: "
        "SECRET_KEY is missing: set it to a long random value."
    ) in lines


def test_several_valid_keys_are_counted(app, runner):
    app.config["TOKEN_ENCRYPTION_KEYS"] = f"{Fernet.generate_key().decode()}, {GOOD_KEY}"
    code, lines = doctor(runner)
    assert code == 0 and "ok   TOKEN_ENCRYPTION_KEYS has 2 valid Fernet keys" in lines


def test_http_on_loopback_is_only_a_warning(app, runner):
    app.config["ZOOM_REDIRECT_URI"] = "http://127.0.0.1:5000/zoom/callback"
    app.config["ZOOM_OAUTH_BASE_URL"] = "http://[::1]:5001"
    code, lines = doctor(runner)
    assert code == 0, lines
    assert "ok   ZOOM_REDIRECT_URI uses http on 127.0.0.1:5000: only for local testing" in lines
    assert "ok   ZOOM_OAUTH_BASE_URL uses http on [::1]:5001: only for local testing" in lines


def test_simulator_with_a_real_client_id_fails(app, runner):
    app.config["ZOOM_SIMULATOR"] = True
    code, lines = doctor(runner)
    assert code == 1
    assert (
        "FAIL ZOOM_SIMULATOR is on while ZOOM_CLIENT_ID is set: "
        "remove ZOOM_SIMULATOR so tutors reach the real Zoom"
    ) in lines


def test_simulator_outside_debug_is_reported_as_demo_mode(app_config, tmp_path):
    demo = {
        **app_config,
        "ZOOM_CLIENT_ID": "",
        "ZOOM_CLIENT_SECRET": "",
        "ZOOM_REDIRECT_URI": "",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "",
        "ZOOM_SIMULATOR": True,
        "ZOOM_SIM_BASE_URL": "https://demo.example.edu/zoom-sim",
    }
    app = create_app(demo)
    app.instance_path = str(tmp_path)
    code, lines = doctor(app.test_cli_runner())
    assert code == 0, lines
    assert "ok   ZOOM_CLIENT_ID is not set: the simulated Zoom is used" in lines
    assert "ok   ZOOM_OAUTH_BASE_URL is https://demo.example.edu/zoom-sim" in lines
    assert (
        "ok   ZOOM_SIMULATOR is on: the portal is in demo mode with a simulated Zoom "
        "at /zoom-sim (not for real tutoring)"
    ) in lines


def test_no_zoom_at_all_fails(app, runner):
    app.config.update(ZOOM_CLIENT_ID="", ZOOM_SIMULATOR=False)
    code, lines = doctor(runner)
    assert code == 1
    assert (
        "FAIL ZOOM_CLIENT_ID is missing: set your Zoom app's client id and secret "
        "(or ZOOM_SIMULATOR=1 for a demo with a simulated Zoom)"
    ) in lines


def test_pending_migrations_fail_and_name_init_db(app_config, tmp_path):
    fresh = {**app_config, "DATABASE_URL": "sqlite:///" + str(tmp_path / "fresh.db")}
    app = create_app(fresh)
    app.instance_path = str(tmp_path)
    try:
        with dbmod.database.connection_context():
            first = migrate.status()[0][0]
            total = len(migrate.status())
            migrate.runner().up(target=first)  # an old install: only the first migration
        code, lines = doctor(app.test_cli_runner())
    finally:
        if not dbmod.database.is_closed():
            dbmod.database.close()
        dbmod.database.initialize(dbmod.make_database(app_config["DATABASE_URL"]))
    assert code == 1
    pending = total - 1
    expected = f"FAIL DATABASE_URL: {pending} migration{'' if pending == 1 else 's'} pending"
    assert f"{expected}: run flask --app wsgi portal init-db" in lines


def test_old_sqlite_fails(app, runner):
    if not dbmod.is_sqlite():
        pytest.skip("SQLite only")
    app.config["SQLITE_MIN_VERSION"] = (99, 0, 0)
    have = ".".join(map(str, dbmod.sqlite_runtime_version()))
    code, lines = doctor(runner)
    assert code == 1
    assert (
        f"FAIL SQLite {have} is older than 99.0.0 (WAL-reset bug): reinstall with make install"
    ) in lines


def test_job_queue_folder_not_writable_fails(app, runner, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app.instance_path = str(blocker / "instance")  # cannot be created, even by root
    code, lines = doctor(runner)
    assert code == 1
    assert (
        f"FAIL HUEY_REDIS_URL is not set: the job queue is SQLite in {app.instance_path}, "
        "which is not writable (PermissionError): fix its owner or set INSTANCE_PATH"
    ) in lines


def test_missing_job_queue_folder_will_be_created(app, runner, tmp_path):
    app.instance_path = str(tmp_path / "new" / "instance")
    code, lines = doctor(runner)
    assert code == 0, lines
    line = f"ok   HUEY_REDIS_URL is not set: the job queue is SQLite in {app.instance_path}"
    assert f"{line} (it will be created)" in lines
    assert not os.path.exists(app.instance_path)  # the doctor only looks


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ("1", "ok   TRUSTED_PROXIES is 1: X-Forwarded-* headers from 1 proxy in front are trusted"),
        ("0", "ok   TRUSTED_PROXIES is 0: X-Forwarded-* headers are not trusted"),
        ("", "ok   TRUSTED_PROXIES is 0: X-Forwarded-* headers are not trusted"),
        ("two", "FAIL TRUSTED_PROXIES must be a whole number, 0 or more, not 'two'"),
        ("-1", "FAIL TRUSTED_PROXIES must be a whole number, 0 or more, not '-1'"),
    ],
)
def test_trusted_proxies_from_the_environment(app, runner, monkeypatch, raw, line):
    monkeypatch.setenv("TRUSTED_PROXIES", raw)
    code, lines = doctor(runner)
    assert line in lines, lines
    assert code == (0 if line.startswith("ok") else 1)


def test_redis_url_falls_back_to_the_job_queue_redis(app, runner, monkeypatch):
    monkeypatch.setattr("portal.doctor._ping_redis", lambda url, *a, **k: (True, "pinged"))
    app.config["HUEY_REDIS_URL"] = "redis://127.0.0.1:6379/1"
    _, lines = doctor(runner)
    assert (
        "ok   REDIS_URL is not set: the Zoom rate budget is shared through HUEY_REDIS_URL's Redis"
    ) in lines


def test_a_reachable_redis_url_shares_the_budget(app, runner):
    from support.shared_redis import REDIS_TEST_URL, require_redis

    require_redis()
    app.config["REDIS_URL"] = REDIS_TEST_URL
    code, lines = doctor(runner)
    assert code == 0, lines
    where = REDIS_TEST_URL.split("//", 1)[1].rsplit("/", 1)[0]
    assert (
        f"ok   REDIS_URL: Redis at {where} answers PING: every process shares the Zoom rate budget"
    ) in lines
