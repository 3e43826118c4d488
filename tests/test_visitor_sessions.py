"""Visitors who have not logged in get no database row; a login gets one, a logout drops it."""

from support import TEST_PASSWORD, csrf_token

from portal.models import WebSession


def test_anonymous_pages_write_no_session_rows(app, client, world):
    for _ in range(30):
        fresh = app.test_client()  # a new visitor each time, as a crawler would be
        assert fresh.get("/login").status_code == 200
    assert client.get("/login").status_code == 200
    assert WebSession.select().count() == 0


def test_a_visitor_logs_in_with_the_token_from_the_signed_cookie(client, world):
    token = csrf_token(client, "/login")
    assert WebSession.select().count() == 0
    response = client.post(
        "/login",
        data={"email": world["student_a"].email, "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303
    (row,) = WebSession.select()
    assert row.user_id == world["student_a"].id
    assert client.get("/student/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/home")})
    assert WebSession.select().count() == 0


def test_a_forged_visitor_cookie_is_ignored(app, client, world):
    name = app.config["SESSION_COOKIE_NAME"]
    client.set_cookie(name, "eyJfdXNlcl9pZCI6IjEifQ.forged.signature")
    assert client.get("/student/").status_code == 302  # not signed in: to the login page
    client.set_cookie(name, "x" * 3000)
    assert client.get("/login").status_code == 200
