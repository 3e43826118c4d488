"""Test helpers shared by the suite (imported by conftest.py and the tests)."""

import re
import time

from peewee import OperationalError

from portal import db as dbmod
from portal.auth import passwords
from portal.models import MODELS, Membership, User

TEST_PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
HIDDEN_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def empty_tables():
    """Delete every row (children first) so each test starts clean."""
    database = dbmod.database.obj
    with database.connection_context():
        if dbmod.is_sqlite():
            for model in reversed(MODELS):
                model.delete().execute()
            return
        names = ", ".join(f'"{m._meta.table_name}"' for m in MODELS)
        for attempt in range(5):
            try:
                database.execute_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            except OperationalError as exc:
                # A job of the deployed world (another process) read a table meanwhile:
                # PostgreSQL picked the TRUNCATE to undo; do it again.
                if "deadlock" not in str(exc) or attempt == 4:
                    raise
                database.rollback()
                time.sleep(0.2)


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
