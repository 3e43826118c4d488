"""Login, logout, sessions and redirects (RELIABILITY §3.1, §3.4, §3.7)."""

import pytest
from argon2 import PasswordHasher
from support import TEST_PASSWORD, csrf_token, make_user

from portal.models import LoginAttempt, User, WebSession


def session_cookie(client, app):
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie else None


def test_login_lands_each_role_on_its_home(auth, world, client):
    homes = {
        "account_admin": "/admin/centers",
        "admin_a": "/admin/centers",
        "tutor_a": "/tutor/preferences",
        "student_a": "/home",
    }
    for key, home in homes.items():
        response = auth.login(world[key].email)
        assert response.status_code == 303
        assert response.headers["Location"] == home
        assert client.get(home).status_code == 200
        auth.logout()


def test_wrong_password_and_unknown_user_get_the_same_answer(auth, world):
    wrong = auth.login(world["tutor_a"].email, "not-the-password")
    unknown = auth.login("nobody@x.edu", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    message = "That e-mail address and password do not match."
    assert message in wrong.get_data(as_text=True)
    assert message in unknown.get_data(as_text=True)


def test_empty_and_oversized_login_fields(auth, client, world):
    assert auth.login("", "").status_code == 400
    response = client.post(
        "/login",
        data={"email": "a" * 10000, "password": "b" * 10000, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 401
    assert "_user_id" not in str(WebSession.select().dicts()[:])


def test_inactive_user_cannot_log_in(auth, world):
    User.update(active=False).where(User.id == world["tutor_a"].id).execute()
    assert auth.login(world["tutor_a"].email).status_code == 401


def test_login_without_csrf_token_is_refused(client, world):
    client.get("/login")
    response = client.post(
        "/login", data={"email": world["tutor_a"].email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/tutor/preferences").status_code == 302


def test_login_issues_a_new_session_and_drops_old_keys(app, auth, client, world):
    client.get("/login")
    before = session_cookie(client, app)
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    auth.login(world["tutor_a"].email)
    after = session_cookie(client, app)
    assert before and after and before != after
    with client.session_transaction() as sess:
        assert "planted" not in sess
    # the pre-login session id no longer exists server-side
    assert WebSession.select().count() == 1


def test_copied_cookie_is_dead_after_logout(app, auth, client, world):
    auth.as_user(world["tutor_a"])
    stolen = session_cookie(client, app)
    assert client.get("/tutor/preferences").status_code == 200
    auth.logout()
    other = app.test_client()
    other.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    response = other.get("/tutor/preferences")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_session_version_bump_ends_existing_sessions(auth, client, world):
    from portal.accounts import end_all_sessions

    auth.as_user(world["tutor_a"])
    end_all_sessions(world["tutor_a"])
    assert client.get("/tutor/preferences").status_code == 302


def test_logout_needs_post_and_csrf(auth, client, world):
    auth.as_user(world["tutor_a"])
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/tutor/preferences").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.tld",
        "//evil.tld",
        "/\\evil.tld",
        "\\\\evil.tld",
        "%2F%2Fevil.tld",
        "/%2F%2Fevil.tld",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x",
        "https:evil.tld",
        "/ /evil.tld",
        "http://localhost/tutor/preferences",
    ],
)
def test_hostile_next_goes_home(auth, world, target):
    response = auth.login(world["tutor_a"].email, next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/tutor/preferences"


def test_relative_next_is_honoured(auth, world):
    response = auth.login(world["tutor_a"].email, next_url="/help/virtual-meetings")
    assert response.headers["Location"] == "/help/virtual-meetings"


def test_protected_page_redirects_to_login_with_next(client, world):
    response = client.get("/admin/centers")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fadmin%2Fcenters"


def test_sixth_failed_login_in_a_minute_is_throttled(auth, world):
    email = world["tutor_a"].email
    for _ in range(5):
        assert auth.login(email, "wrong-password").status_code == 401
    assert auth.login(email, "wrong-password").status_code == 429
    # even the right password waits until the window passes
    assert auth.login(email).status_code == 429
    assert LoginAttempt.select().where(LoginAttempt.email == email).count() == 5


def test_successful_login_clears_failed_attempts(auth, world):
    email = world["tutor_a"].email
    auth.login(email, "wrong-password")
    assert auth.login(email).status_code == 303
    assert LoginAttempt.select().where(LoginAttempt.email == email).count() == 0


def test_password_hashes_are_argon2id_and_weak_ones_upgrade(auth, app):
    weak = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1).hash(TEST_PASSWORD)
    user = make_user("old@x.edu", "student")
    User.update(password_hash=weak).where(User.id == user.id).execute()
    assert auth.login("old@x.edu").status_code == 303
    stored = User.get_by_id(user.id).password_hash
    assert stored.startswith("$argon2id$")
    assert stored != weak
