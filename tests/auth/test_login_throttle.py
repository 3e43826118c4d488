"""Login throttling that attackers cannot turn against other users (issue 15, item 1).

Failures count per account *and client* (the address, or the browser's device cookie
once it has logged in to that account), so one address can exhaust only its own
attempts. Too many failures from one address slow that address down; they never
answer 429 to everyone.
"""

import datetime
import re
import threading
import uuid

import pytest
import requests
from support import TEST_PASSWORD, Auth, csrf_token
from werkzeug.serving import make_server

from portal import create_app
from portal.auth import throttle
from portal.models import LoginAttempt, User, utcnow

ATTACKER = "203.0.113.66"
VICTIM_HOME = "198.51.100.20"


@pytest.fixture
def app_config(app_config):
    # small numbers keep the suite quick; the shape is the production one (config.py)
    return {
        **app_config,
        "TRUSTED_PROXIES": 1,
        "LOGIN_ADDRESS_MAX_DELAY": 0.01,
        "LOGIN_ADDRESS_FAILURES_PER_HOUR": 15,
        "LOGIN_ATTEMPTS_PER_ACCOUNT_HOUR": 12,
    }


def login_from(app, address, email, password, client=None):
    """POST the real login form through the proxy as `address` (X-Forwarded-For)."""
    client = client or app.test_client()
    headers = {"X-Forwarded-For": address}
    html = client.get("/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
    )


def test_one_address_cannot_lock_anyone_else_out(app, world):
    victim = world["tutor_a"]
    # the victim logged in from home before: that browser holds a device cookie
    victims_browser = app.test_client()
    response = login_from(app, VICTIM_HOME, victim.email, TEST_PASSWORD, victims_browser)
    assert response.status_code == 303
    Auth(victims_browser).logout()

    attacker = app.test_client()
    for i in range(20):  # the repro: random e-mails, more than the address limit
        assert login_from(app, ATTACKER, f"r{i}-{uuid.uuid4().hex[:6]}@x.edu", "x", attacker)
    answers = set()
    for user in list(User.select()):  # then every real account, until refused
        for _ in range(6):
            answers.add(login_from(app, ATTACKER, user.email, "wrong", attacker).status_code)
    assert answers == {401, 429}  # the attacker's own attempts are limited

    assert throttle.address_delay(ATTACKER, app.config) > 0  # the address is slowed down
    assert throttle.address_delay(VICTIM_HOME, app.config) == 0
    # everyone else still gets in: from their own address...
    for key in ("student_a", "admin_a", "account_admin"):
        response = login_from(app, f"198.51.100.{world[key].id}", world[key].email, TEST_PASSWORD)
        assert response.status_code == 303, key
    # ...the victim too, and even from the attacker's own (shared) address with
    # the browser that logged in before
    assert login_from(app, VICTIM_HOME, victim.email, TEST_PASSWORD).status_code == 303
    response = login_from(app, ATTACKER, victim.email, TEST_PASSWORD, victims_browser)
    assert response.status_code == 303
    # a user without a device cookie at the attacker's address is only slowed down
    newcomer = world["tutor_b"]
    User.update(email="fresh@x.edu").where(User.id == newcomer.id).execute()
    assert login_from(app, ATTACKER, "fresh@x.edu", TEST_PASSWORD).status_code == 303


def test_the_attackers_failures_are_not_counted_against_the_victim(app, world):
    victim = world["student_a"]
    for _ in range(6):
        login_from(app, ATTACKER, victim.email, "wrong")
    assert login_from(app, ATTACKER, victim.email, TEST_PASSWORD).status_code == 429
    assert login_from(app, VICTIM_HOME, victim.email, "wrong").status_code == 401
    assert login_from(app, VICTIM_HOME, victim.email, TEST_PASSWORD).status_code == 303
    # the victim's success does not reset the attacker's count
    assert login_from(app, ATTACKER, victim.email, TEST_PASSWORD).status_code == 429


def test_a_device_cookie_is_bound_to_its_account(app, world):
    browser = app.test_client()
    response = login_from(app, ATTACKER, world["student_a"].email, TEST_PASSWORD, browser)
    assert response.status_code == 303
    Auth(browser).logout()
    target = world["tutor_a"].email
    answers = [login_from(app, ATTACKER, target, "wrong", browser).status_code for _ in range(7)]
    assert answers == [401] * 5 + [429] * 2  # another account's cookie earns no extra tries
    forged = app.test_client()
    forged.set_cookie(app.config["LOGIN_DEVICE_COOKIE_NAME"], "not-a-signed-value")
    assert login_from(app, ATTACKER, target, TEST_PASSWORD, forged).status_code == 429


def test_distributed_guessing_hits_the_per_account_limit(app, world):
    email = world["tutor_a"].email
    owners_browser = app.test_client()
    assert login_from(app, VICTIM_HOME, email, TEST_PASSWORD, owners_browser).status_code == 303
    Auth(owners_browser).logout()
    per_account = app.config["LOGIN_ATTEMPTS_PER_ACCOUNT_HOUR"]
    answers = [login_from(app, f"192.0.2.{i}", email, "wrong").status_code for i in range(20)]
    assert answers == [401] * per_account + [429] * (20 - per_account)
    assert login_from(app, "192.0.2.251", email, TEST_PASSWORD).status_code == 429
    # the owner's known browser is not a stranger: it still gets in
    assert login_from(app, "192.0.2.252", email, TEST_PASSWORD, owners_browser).status_code == 303


def test_behind_proxyfix_the_client_address_is_recorded(app, world):
    login_from(app, "198.51.100.77", world["tutor_a"].email, "wrong")
    assert [a.ip for a in LoginAttempt.select()] == ["198.51.100.77"]


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(app_config, world):
    app = create_app({**app_config, "TRUSTED_PROXIES": 0})
    login_from(app, "198.51.100.77", world["tutor_a"].email, "wrong")
    assert [a.ip for a in LoginAttempt.select()] == ["127.0.0.1"]


def test_old_attempts_are_purged(app, world):
    LoginAttempt.create(email="a@x.edu", ip="192.0.2.1")
    old = LoginAttempt.create(email="b@x.edu", ip="192.0.2.1")
    LoginAttempt.update(created_at=utcnow() - datetime.timedelta(days=2)).where(
        LoginAttempt.id == old.id
    ).execute()
    assert throttle.purge_old_attempts() == 1
    assert [a.email for a in LoginAttempt.select()] == ["a@x.edu"]


def test_purge_runs_as_a_periodic_job(app):
    from portal.jobs import huey_for

    LoginAttempt.create(email="a@x.edu", ip="192.0.2.1")
    LoginAttempt.update(created_at=utcnow() - datetime.timedelta(days=2)).execute()
    huey = huey_for(app)
    task = huey.portal_tasks["purge_login_attempts"]
    assert task.name in {t.name for t in huey.read_periodic(datetime.datetime(2030, 1, 1, 3, 17))}
    task.call_local()
    assert LoginAttempt.select().count() == 0


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_twelve_parallel_wrong_guesses_allow_at_most_the_limit(app, world, live_server):
    email, limit = world["tutor_a"].email, app.config["LOGIN_ATTEMPTS_PER_MINUTE"]
    browsers = []
    for _ in range(12):
        browser = requests.Session()
        html = browser.get(live_server + "/login", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
        browsers.append((browser, token))
    start = threading.Barrier(12)
    answers = []

    def guess(browser, token):
        start.wait()
        response = browser.post(
            live_server + "/login",
            data={"email": email, "password": "wrong-guess", "csrf_token": token},
            headers={"X-Forwarded-For": ATTACKER},
            timeout=30,
            allow_redirects=False,
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [401] * limit + [429] * (12 - limit)
    assert LoginAttempt.select().where(LoginAttempt.email == email).count() == limit
    # the right password from that client now waits too
    browser, _ = browsers[0]
    token = csrf_token_of(browser, live_server)
    response = browser.post(
        live_server + "/login",
        data={"email": email, "password": TEST_PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-For": ATTACKER},
        timeout=30,
        allow_redirects=False,
    )
    assert response.status_code == 429


def csrf_token_of(browser, base):
    html = browser.get(base + "/login", timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_unknown_and_wrong_answers_stay_identical(client, world):
    token = csrf_token(client)
    wrong = client.post(
        "/login", data={"email": world["tutor_a"].email, "password": "nope", "csrf_token": token}
    )
    unknown = client.post(
        "/login", data={"email": "ghost@x.edu", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == unknown.status_code == 401

    # the form keeps what was typed; apart from that the pages are the same (the CSRF
    # token is signed with the current second, so it may differ between the two answers)
    def page(response):
        html = response.get_data(as_text=True).replace(world["tutor_a"].email, "ghost@x.edu")
        return re.sub(r"[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}", "<csrf>", html)

    assert page(wrong) == page(unknown)
    assert "<csrf>" in page(wrong)


def test_a_forwarded_for_that_is_not_an_address_is_not_stored(app, world):
    login_from(app, "<script>alert(1)</script>", world["tutor_a"].email, "wrong")
    assert [a.ip for a in LoginAttempt.select()] == ["?"]
