"""Shared fixtures: a fresh database per test, the app, a client that logs in for real.

The database is SQLite in a temp folder, or PostgreSQL when DATABASE_URL is set
(the schema is dropped and re-created once per run, rows are emptied per test).
"""

import os
import tempfile

import pytest
from argon2 import PasswordHasher
from support import Auth, empty_tables, make_user
from support.zoom import connect_as

from portal import create_app
from portal import db as dbmod
from portal.auth import passwords
from portal.migrate import upgrade
from portal.models import Center


def _database_url(tmp_root):
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + os.path.join(tmp_root, "test.db")


@pytest.fixture(scope="session")
def database_url():
    """Create the schema once per test run and return its URL."""
    with tempfile.TemporaryDirectory() as tmp:
        url = _database_url(tmp)
        database = dbmod.make_database(url)
        dbmod.database.initialize(database)
        with database.connection_context():
            if not dbmod.is_sqlite():
                database.execute_sql("DROP SCHEMA IF EXISTS public CASCADE")
                database.execute_sql("CREATE SCHEMA public")
            upgrade()
        database.close()
        yield url


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """Cheap argon2 parameters for the suite; production keeps the library defaults."""
    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture
def app_config(database_url, tmp_path):
    """Settings for a test app; tests may tweak before `app` is built."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-123456",
        "DATABASE_URL": database_url,
        "TOKEN_ENCRYPTION_KEYS": "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A=",
        "ZOOM_SIMULATOR": False,
    }


@pytest.fixture
def app(app_config):
    """A fresh portal on an empty database."""
    application = create_app(app_config)
    empty_tables()
    dbmod.database.connect(reuse_if_open=True)
    yield application
    if not dbmod.database.is_closed():
        dbmod.database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def world(app):
    """Two centers (A with Virtual Meetings on, B off) and a user of every role in each."""
    a = Center.create(name="Center A", timezone="America/New_York", virtual_meetings_enabled=True)
    b = Center.create(name="Center B", timezone="America/Chicago")
    people = {
        "account_admin": make_user("root@x.edu", "account_admin", name="Ada Account"),
        "admin_a": make_user("admin.a@x.edu", "center_admin", [a], name="Abe Admin"),
        "admin_b": make_user("admin.b@x.edu", "center_admin", [b], name="Bea Admin"),
        "tutor_a": make_user("tutor.a@x.edu", "tutor", [a], name="Tom Tutor"),
        "tutor_b": make_user("tutor.b@x.edu", "tutor", [b], name="Tia Tutor"),
        "student_a": make_user("student.a@x.edu", "student", [a], name="Stu Student"),
        "student_b": make_user("student.b@x.edu", "student", [b], name="Sue Student"),
    }
    return {"a": a, "b": b, **people}


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def login_as(auth, world):
    """login_as('admin_a') logs in as that user of the `world` and returns them."""

    def login(key):
        return auth.as_user(world[key])

    return login


# A tutor with Zoom. The module's app_config must mount the simulator (support.zoom).


@pytest.fixture
def connected(app, auth, client, login_as, world):
    """Tom Tutor (Center A) logged in and connected to the simulator's licensed user,
    through the real OAuth flow."""
    tutor = login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    return tutor


@pytest.fixture
def with_session(auth, connected):
    """``connected``, with today's Daily Session prepared from the tutor's panel."""
    response = auth.post("/tutor/daily-session", {}, htmx=True, token_path="/tutor/preferences")
    assert response.status_code == 200
    return connected
