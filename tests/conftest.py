"""Shared fixtures: a fresh database per test, the app, a client that logs in for real.

The database is SQLite in a temp folder, or PostgreSQL when DATABASE_URL is set
(the schema is dropped and re-created once per run, rows are emptied per test).
"""

import os
import re
import tempfile

import pytest
from argon2 import PasswordHasher

from portal import create_app
from portal import db as dbmod
from portal.auth import passwords
from portal.migrate import upgrade
from portal.models import MODELS, Center, Membership, User

TEST_PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
HIDDEN_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


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


def empty_tables():
    """Delete every row (children first) so each test starts clean."""
    database = dbmod.database.obj
    with database.connection_context():
        if dbmod.is_sqlite():
            for model in reversed(MODELS):
                model.delete().execute()
        else:
            names = ", ".join(f'"{m._meta.table_name}"' for m in MODELS)
            database.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


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


def csrf_token(client, path="/login"):
    """Read the CSRF token a page hands to htmx (or its hidden form field)."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html) or HIDDEN_CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def make_user(email, role, centers=(), name=None, **fields):
    """Create a user directly in the database (tests only)."""
    user = User.create(
        email=email,
        name=name or email.split("@")[0].title(),
        role=role,
        password_hash=passwords.hash_password(TEST_PASSWORD),
        **fields,
    )
    for center in centers:
        Membership.create(user=user, center=center)
    return user


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


class Auth:
    """Log in and out through the real forms, and post with the page's CSRF token."""

    def __init__(self, client):
        self.client = client

    def login(self, email, password=TEST_PASSWORD, next_url=None):
        token = csrf_token(self.client, "/login")
        data = {"email": email, "password": password, "csrf_token": token}
        if next_url is not None:
            data["next"] = next_url
        return self.client.post("/login", data=data)

    def as_user(self, user):
        response = self.login(user.email)
        assert response.status_code == 303, response.get_data(as_text=True)
        return user

    def logout(self):
        return self.post("/logout")

    def token(self, path="/home"):
        return csrf_token(self.client, path)

    def post(self, url, data=None, htmx=False, token_path="/home", **kwargs):
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}))
        token = self.token(token_path)
        if htmx:
            headers.update({"HX-Request": "true", "X-CSRFToken": token})
        else:
            data.setdefault("csrf_token", token)
        return self.client.post(url, data=data, headers=headers, **kwargs)

    def get(self, url, htmx=False, **kwargs):
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(url, headers=headers, **kwargs)


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def login_as(auth, world):
    """login_as('admin_a') logs in as that user of the `world` and returns them."""

    def login(key):
        return auth.as_user(world[key])

    return login
