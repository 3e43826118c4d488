"""Passwords: change your own, "Forgot password" by e-mail, and the invitation link.

Messages are received by a real SMTP server (aiosmtpd); links are single-use and expire.
"""

import datetime
import logging
import re

import pytest
from support import TEST_PASSWORD, Auth, csrf_token
from support.mail import BASE_URL, SMTPServer, mail_config

from portal.auth import passwords
from portal.models import OutboxMessage, PasswordToken, User, utcnow
from portal.notifications import outbox

LINK = re.compile(re.escape(BASE_URL) + r"/password/set\?token=([A-Za-z0-9_-]+)")
NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(app_config, smtp)


def deliver(app):
    return outbox.deliver_due(app)


def forgot(client, email):
    """Ask for a link; the link is made once the answer has been sent (closed), as a server does."""
    token = csrf_token(client, "/password/forgot")
    response = client.post("/password/forgot", data={"email": email, "csrf_token": token})
    response.get_data()
    response.close()
    return response


def link_in(mail):
    match = LINK.search(mail.text)
    assert match, mail.text
    return match.group(0), match.group(1)


def set_password(client, token, password, confirm=None):
    page = client.get(f"/password/set?token={token}")
    form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    csrf = form_token.group(1) if form_token else csrf_token(client, "/login")
    return client.post(
        "/password/set",
        data={
            "token": token,
            "password": password,
            "confirm": password if confirm is None else confirm,
            "csrf_token": csrf,
        },
    )


def password_ok(user, password):
    return passwords.verify_password(User.get_by_id(user.id).password_hash, password)


def logged_in(client):
    return client.get("/home").status_code == 200


# --- forgot password ----------------------------------------------------------------


def test_login_page_offers_forgot_password(client, world):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in html and "Forgot password?" in html


def test_reset_happy_path_by_email(app, client, smtp, world, caplog):
    caplog.set_level(logging.DEBUG)
    stu = world["student_a"]
    elsewhere = app.test_client()
    Auth(elsewhere).as_user(stu)
    assert logged_in(elsewhere)

    response = forgot(client, "Student.A@x.edu ")
    assert response.status_code == 200
    assert "a link to set a new password is on its way" in response.get_data(as_text=True)
    assert smtp.messages == []  # queued; delivery is the outbox's
    assert deliver(app)["sent"] == 1
    (mail,) = smtp.inbox.to(stu.email)
    assert mail.subject == "Set a new password for the Virtual Meetings Portal"
    url, token = link_in(mail)

    row = PasswordToken.get(PasswordToken.user == stu.id)
    assert row.purpose == "reset" and token not in (row.token_hash, row.nonce)
    assert row.expires_at - row.created_at == datetime.timedelta(hours=1)
    kept = OutboxMessage.get(OutboxMessage.recipient == stu.id)
    assert token not in (kept.body or "") and "token=[hidden]" in kept.body

    page = client.get(url.removeprefix(BASE_URL))
    assert page.status_code == 200 and "Set a new password" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    done = set_password(client, token, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/login"

    assert not logged_in(elsewhere)  # every session ended
    assert password_ok(stu, NEW_PASSWORD) and not password_ok(stu, TEST_PASSWORD)
    assert Auth(client).login(stu.email, NEW_PASSWORD).status_code == 303
    assert token not in caplog.text


def test_reused_link_is_refused(app, client, smtp, world):
    stu = world["student_a"]
    forgot(client, stu.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(stu.email)[0])
    assert set_password(client, token, NEW_PASSWORD).status_code == 303

    again = client.get(f"/password/set?token={token}")
    assert again.status_code == 400
    assert "expired or was already used" in again.get_data(as_text=True)
    second = set_password(client, token, "yet-another-password")
    assert second.status_code == 400
    assert password_ok(stu, NEW_PASSWORD) and not password_ok(stu, "yet-another-password")


def test_expired_link_is_refused(app, client, smtp, world):
    stu = world["student_a"]
    forgot(client, stu.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(stu.email)[0])
    PasswordToken.update(expires_at=utcnow() - datetime.timedelta(seconds=1)).execute()

    page = client.get(f"/password/set?token={token}")
    assert page.status_code == 400
    assert "expired or was already used" in page.get_data(as_text=True)
    assert set_password(client, token, NEW_PASSWORD).status_code == 400
    assert password_ok(stu, TEST_PASSWORD)


def test_nothing_is_made_before_the_answer_is_sent(app, client, smtp, world):
    token = csrf_token(client, "/password/forgot")
    response = client.post(
        "/password/forgot", data={"email": world["student_a"].email, "csrf_token": token}
    )
    assert response.status_code == 200 and PasswordToken.select().count() == 0
    response.close()
    assert PasswordToken.select().count() == 1


def test_unknown_email_gets_the_same_answer(app, client, smtp, world):
    known = forgot(client, world["student_a"].email)
    unknown = forgot(app.test_client(), "nobody@x.edu")
    assert unknown.status_code == known.status_code == 200
    strip = re.compile(r"(value=\"|Token\": \")[^\"]*")  # CSRF tokens differ per client
    assert strip.sub("", unknown.get_data(as_text=True)) == strip.sub(
        "", known.get_data(as_text=True)
    )
    deliver(app)
    assert [m.rcpt_tos for m in smtp.messages] == [[world["student_a"].email]]
    assert PasswordToken.select().count() == 1


def test_deactivated_user_cannot_reset(app, client, smtp, world):
    stu = world["student_a"]
    User.update(active=False).where(User.id == stu.id).execute()
    response = forgot(client, stu.email)
    assert response.status_code == 200 and "on its way" in response.get_data(as_text=True)
    deliver(app)
    assert smtp.messages == [] and PasswordToken.select().count() == 0


def test_link_of_a_user_deactivated_later_stops_working(app, client, smtp, world):
    stu = world["student_a"]
    forgot(client, stu.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(stu.email)[0])
    User.update(active=False).where(User.id == stu.id).execute()
    assert set_password(client, token, NEW_PASSWORD).status_code == 400
    assert password_ok(stu, TEST_PASSWORD)


def test_forgot_password_is_throttled(app, client, world):
    for _ in range(5):
        assert forgot(client, "nobody@x.edu").status_code == 200
    throttled = forgot(client, "nobody@x.edu")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "60"
    assert "Wait a minute" in throttled.get_data(as_text=True)


def test_one_account_gets_at_most_three_links_an_hour(app, client, smtp, world):
    for _ in range(4):
        forgot(app.test_client(), world["student_a"].email)
    assert PasswordToken.select().count() == 3


def test_forgot_needs_an_email(client, world):
    response = client.post(
        "/password/forgot", data={"email": " ", "csrf_token": csrf_token(client, "/login")}
    )
    assert response.status_code == 400
    assert "Enter your e-mail address." in response.get_data(as_text=True)


def test_weak_or_mismatched_new_password_keeps_the_link(app, client, smtp, world):
    stu = world["student_a"]
    forgot(client, stu.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(stu.email)[0])
    short = set_password(client, token, "short")
    assert short.status_code == 400 and "at least 8 characters" in short.get_data(as_text=True)
    other = set_password(client, token, NEW_PASSWORD, confirm="something-else")
    assert other.status_code == 400 and "not the same" in other.get_data(as_text=True)
    assert password_ok(stu, TEST_PASSWORD)
    assert set_password(client, token, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize("token", ["", "x", "a" * 500, "%00", "../../etc"])
def test_garbage_token_is_a_plain_400(client, world, token):
    response = client.get("/password/set", query_string={"token": token})
    assert response.status_code == 400
    assert "expired or was already used" in response.get_data(as_text=True)


# --- invitation ---------------------------------------------------------------------


def test_admin_invites_a_user_who_sets_a_password(app, client, auth, smtp, world):
    auth.as_user(world["admin_a"])
    center = world["a"]
    response = auth.post(
        f"/admin/centers/{center.id}/users",
        {"email": "New.Student@x.edu", "name": "Nia New", "role": "student", "password": ""},
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "An invitation to choose a password is on its way to new.student@x.edu" in page
    nia = User.by_email("new.student@x.edu")
    assert not password_ok(nia, "")  # no password works until she sets one
    assert Auth(app.test_client()).login(nia.email, "!unset").status_code == 401

    deliver(app)
    (mail,) = smtp.inbox.to(nia.email)
    assert mail.subject == "You are invited to the Virtual Meetings Portal"
    assert "Abe Admin has given you an account" in mail.text and "Center A" in mail.text
    _url, token = link_in(mail)
    link = PasswordToken.get(PasswordToken.user == nia.id)
    assert link.purpose == "invite"
    assert link.expires_at - link.created_at == datetime.timedelta(days=7)

    visitor = app.test_client()
    form = visitor.get(f"/password/set?token={token}")
    assert "Choose your password" in form.get_data(as_text=True)
    assert set_password(visitor, token, NEW_PASSWORD).status_code == 303
    assert Auth(visitor).login(nia.email, NEW_PASSWORD).status_code == 303
    assert set_password(app.test_client(), token, "another-password-1").status_code == 400


def test_admin_may_still_set_a_first_password(app, auth, smtp, world):
    auth.as_user(world["admin_a"])
    response = auth.post(
        f"/admin/centers/{world['a'].id}/users",
        {"email": "pw@x.edu", "name": "Pat", "role": "tutor", "password": "first-password-1"},
    )
    assert response.status_code == 303
    deliver(app)
    assert smtp.messages == [] and PasswordToken.select().count() == 0
    assert password_ok(User.by_email("pw@x.edu"), "first-password-1")


def test_cli_create_user_with_password_still_works(app, runner, world, smtp):
    result = runner.invoke(
        args=[
            "portal", "create-user", "cli@x.edu", "--name", "Cli", "--role", "tutor",
            "--password", "cli-password-1", "--center", "Center A",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert password_ok(User.by_email("cli@x.edu"), "cli-password-1")
    assert PasswordToken.select().count() == 0


# --- change your own password -------------------------------------------------------


@pytest.mark.parametrize("role", ["student_a", "tutor_a", "admin_a", "account_admin"])
def test_everyone_has_a_change_password_page(client, login_as, role):
    login_as(role)
    html = client.get("/home" if role.startswith("student") else "/account/password")
    assert 'href="/account/password"' in html.get_data(as_text=True)


def test_change_password_keeps_this_session_and_ends_the_others(app, client, auth, world):
    stu = world["student_a"]
    auth.as_user(stu)
    elsewhere = app.test_client()
    Auth(elsewhere).as_user(stu)
    response = auth.post(
        "/account/password",
        {"current": TEST_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_path="/account/password",
    )
    assert response.status_code == 303
    assert "Every other browser was logged out" in client.get("/account/password").get_data(
        as_text=True
    )
    assert logged_in(client) and not logged_in(elsewhere)
    assert password_ok(stu, NEW_PASSWORD)
    assert Auth(app.test_client()).login(stu.email, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    "form, message",
    [
        ({"current": "wrong-password"}, "current password is not right"),
        ({"password": "short", "confirm": "short"}, "at least 8 characters"),
        ({"confirm": "different-one"}, "not the same"),
    ],
)
def test_change_password_refusals_change_nothing(app, client, auth, world, form, message):
    stu = world["student_a"]
    auth.as_user(stu)
    data = {"current": TEST_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    data.update(form)
    response = auth.post("/account/password", data, token_path="/account/password")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert password_ok(stu, TEST_PASSWORD) and logged_in(client)


def test_change_password_needs_login(client, world):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- links closed when the account changes under them -------------------------------


def test_weak_password_page_still_names_the_user(app, client, smtp, world):
    stu = world["student_a"]
    forgot(client, stu.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(stu.email)[0])
    short = set_password(client, token, "short")
    text = short.get_data(as_text=True)
    assert short.status_code == 400 and "at least 8 characters" in text
    assert "For ." not in text and "For student.a@x.edu." in text
    assert 'name="username" value="student.a@x.edu"' in text  # for the password manager


def test_correcting_an_invited_users_email_closes_the_old_link_and_invites_again(
    app, client, auth, smtp, world
):
    auth.as_user(world["admin_a"])
    center = world["a"]
    auth.post(
        f"/admin/centers/{center.id}/users",
        {"email": "wrong@x.edu", "name": "Nia New", "role": "student", "password": ""},
    )
    deliver(app)
    _url, old_token = link_in(smtp.inbox.to("wrong@x.edu")[0])
    nia = User.by_email("wrong@x.edu")
    response = auth.post(
        f"/admin/users/{nia.id}",
        {"name": "Nia New", "email": "nia@x.edu", "role": "student", "centers": [str(center.id)]},
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A new invitation to choose a password is on its way to nia@x.edu" in page

    stranger = app.test_client()
    assert set_password(stranger, old_token, NEW_PASSWORD).status_code == 400
    assert not password_ok(nia, NEW_PASSWORD)
    deliver(app)
    (mail,) = smtp.inbox.to("nia@x.edu")
    assert mail.subject == "You are invited to the Virtual Meetings Portal"
    _url, new_token = link_in(mail)
    assert set_password(app.test_client(), new_token, NEW_PASSWORD).status_code == 303
    assert Auth(app.test_client()).login("nia@x.edu", NEW_PASSWORD).status_code == 303


def test_an_email_change_closes_an_open_reset_link(app, client, auth, smtp, world):
    tom = world["tutor_a"]
    forgot(app.test_client(), tom.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(tom.email)[0])
    auth.as_user(world["admin_a"])
    response = auth.post(
        f"/admin/users/{tom.id}",
        {"name": tom.name, "email": "tom@x.edu", "role": "tutor", "centers": [str(world["a"].id)]},
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Password links sent to the old address no longer work." in page
    assert "invitation" not in page  # he has a password: nothing new is sent
    assert set_password(app.test_client(), token, NEW_PASSWORD).status_code == 400
    assert password_ok(tom, TEST_PASSWORD)
    deliver(app)
    assert smtp.inbox.to("tom@x.edu") == []


def test_a_link_from_before_a_deactivation_does_not_work_after_reactivation(
    app, client, auth, smtp, world
):
    stu = world["student_a"]
    forgot(app.test_client(), stu.email)
    deliver(app)
    _url, token = link_in(smtp.inbox.to(stu.email)[0])
    auth.as_user(world["admin_a"])
    assert auth.post(f"/admin/users/{stu.id}/deactivate").status_code == 303
    assert auth.post(f"/admin/users/{stu.id}/reactivate").status_code == 303
    assert set_password(app.test_client(), token, NEW_PASSWORD).status_code == 400
    assert password_ok(stu, TEST_PASSWORD)


def test_login_to_an_invited_account_spends_a_hashing_like_an_unknown_one(
    app, client, monkeypatch, world
):
    from portal import accounts
    from portal.auth import password_links

    User.update(password_hash=password_links.UNUSABLE_PASSWORD).where(
        User.id == world["student_a"].id
    ).execute()
    burned = []
    real = accounts.burn_time
    monkeypatch.setattr(
        accounts, "burn_time", lambda password: burned.append(password) or real(password)
    )
    assert Auth(client).login("student.a@x.edu", "a-guess-1234").status_code == 401
    assert burned == ["a-guess-1234"]
    assert Auth(app.test_client()).login("nobody@x.edu", "a-guess-5678").status_code == 401
    assert burned == ["a-guess-1234", "a-guess-5678"]
