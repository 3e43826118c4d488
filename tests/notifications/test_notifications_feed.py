"""The tutor's calendar feed, the development outbox page, and the mail settings at start."""

import datetime
import re

import icalendar
import pytest
from support import make_user
from support.mail import BASE_URL, SENDER, SMTPServer, book, mail_config

from portal import create_app
from portal.config import ConfigError
from portal.models import CalendarFeed
from portal.notifications import ics

FEED_RE = re.compile(r"(https://portal\.example\.edu/calendar/tutor\.ics\?token=vmc_[\w-]+)")


@pytest.fixture
def app_config(app_config):
    return dict(app_config, PUBLIC_BASE_URL=BASE_URL, MAIL_DELIVERY="manual")


def _make_link(auth, htmx=False):
    response = auth.post("/notifications/calendar", htmx=htmx, token_path="/tutor/preferences")
    return response


def _feed_url(client):
    match = FEED_RE.search(client.get("/tutor/preferences").get_data(as_text=True))
    assert match, "no calendar link in Preferences"
    return match.group(1)


def _get(client, url):
    return client.get(url.replace(BASE_URL, ""))


def test_feed_lists_the_tutors_appointments_with_their_links_and_nobody_elses(
    app, auth, client, world
):
    tom, stu = world["tutor_a"], world["student_a"]
    other_tutor = make_user("tutor.c@x.edu", "tutor", [world["a"]], name="Cy Colleague")
    mine = book(stu, tom, days=2, hour=10)
    theirs = book(stu, other_tutor, days=2, hour=11)
    auth.as_user(tom)
    assert "Make my calendar link" in client.get("/tutor/preferences").get_data(as_text=True)
    assert _make_link(auth).status_code == 303
    url = _feed_url(client)
    auth.logout()  # the feed needs no login: calendar programs have none

    response = _get(client, url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "private, no-store"
    cal = icalendar.Calendar.from_ical(response.data)
    events = cal.walk("VEVENT")
    assert [str(e["UID"]) for e in events] == [ics.uid(mine.id, BASE_URL)]
    (event,) = events
    assert event.decoded("DTSTART") == mine.start_at.replace(tzinfo=datetime.UTC)
    assert str(event["URL"]) == f"{BASE_URL}/tutor/preferences"
    assert f"{BASE_URL}/join/appointment/{mine.id}" in str(event["DESCRIPTION"])
    assert "Stu Student" in str(event["SUMMARY"])
    assert ics.uid(theirs.id, BASE_URL) not in response.get_data(as_text=True)


def test_feed_needs_its_token_and_a_new_token_retires_the_old_one(app, auth, client, world):
    tom = world["tutor_a"]
    book(world["student_a"], tom, days=2)
    auth.as_user(tom)
    _make_link(auth)
    old = _feed_url(client)
    response = _make_link(auth, htmx=True)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="mail-prefs"')
    assert "The old one no longer works" in html
    new = _feed_url(client)
    assert new != old and FEED_RE.search(html).group(1) == new
    assert CalendarFeed.select().count() == 1
    assert CalendarFeed.get().token_hash not in (old + new)  # only a digest is stored
    auth.logout()

    assert _get(client, new).status_code == 200
    assert _get(client, old).status_code == 404
    for bad in ("", "?token=", "?token=x", "?token=" + "A" * 500, "?token=%0d%0a"):
        assert client.get("/calendar/tutor.ics" + bad).status_code == 404
    tom.active = False
    tom.save()
    assert _get(client, new).status_code == 404  # a deactivated tutor's feed closes


def test_only_tutors_make_calendar_links(app, auth, world):
    auth.as_user(world["student_a"])
    response = auth.post("/notifications/calendar", token_path="/notifications/preferences")
    assert response.status_code == 403
    assert CalendarFeed.select().count() == 0


def test_the_outbox_page_lists_messages_in_development(app, auth, client, world):
    book(world["student_a"], world["tutor_a"], days=2)
    page = client.get("/dev/outbox/")
    assert page.status_code == 200
    assert "(written when it is sent)" in page.get_data(as_text=True)
    auth.as_user(world["student_a"])
    response = auth.post("/dev/outbox/send-reminders", token_path="/home")
    assert response.status_code == 303
    html = client.get("/dev/outbox/").get_data(as_text=True)
    assert "Booked: online tutoring with Tom Tutor" in html and "(kept here)" in html
    first = re.search(r'href="/dev/outbox/(\d+)">Booked', html).group(1)
    message = client.get(f"/dev/outbox/{first}").get_data(as_text=True)
    assert "METHOD:REQUEST" in message and f"{BASE_URL}/join/appointment/" in message
    assert client.get(f"/dev/outbox/{first}/invitation.ics").mimetype == "text/calendar"


def test_the_outbox_page_does_not_exist_outside_development(app_config, database_url):
    from test_config import production

    app = create_app(production(database_url, PUBLIC_BASE_URL=BASE_URL))
    client = app.test_client()
    for path in ("/dev/outbox/", "/dev/outbox/1", "/dev/outbox/1/invitation.ics"):
        assert client.get(path).status_code == 404
    assert "dev_outbox" not in app.blueprints


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"MAIL_URL": "http://mail.example.edu"}, "MAIL_URL must start with smtp://"),
        ({"MAIL_URL": "smtp://:25"}, "MAIL_URL names no host"),
        ({"MAIL_URL": "smtp://mail.example.edu:abc"}, "port that is not a number"),
        ({"MAIL_URL": "smtp://user@mail.example.edu"}, "a user but no password"),
        ({"MAIL_FROM": ""}, "MAIL_FROM is missing"),
        ({"MAIL_FROM": "not an address\r\nBcc: x@y.z"}, "MAIL_FROM must be an e-mail address"),
        ({"PUBLIC_BASE_URL": "portal.example.edu"}, "PUBLIC_BASE_URL must be"),
        ({"REMINDER_MINUTES_BEFORE": 0}, "REMINDER_MINUTES_BEFORE must be between"),
        ({"MAIL_DELIVERY": "sometimes"}, "MAIL_DELIVERY must be one of"),
    ],
)
def test_bad_mail_settings_stop_the_start_with_one_line(app_config, overrides, words):
    server = SMTPServer()  # not started: settings are checked without connecting
    config = mail_config(app_config, server)
    config.update(overrides)
    with pytest.raises(ConfigError, match=re.escape(words)):
        create_app(config)


def test_production_with_mail_needs_the_public_address(app_config, database_url):
    from test_config import production

    config = production(database_url, MAIL_URL="smtp://mail.example.edu:587", MAIL_FROM=SENDER)
    with pytest.raises(ConfigError, match="PUBLIC_BASE_URL is missing"):
        create_app(config)


def test_the_feed_token_never_reaches_a_log_line(app, world):
    from portal.logging_setup import redact
    from portal.notifications import feed

    tokens = [feed.new_token(app, world["tutor_a"]) for _ in range(20)]
    tokens.append(feed.PREFIX + "12-" + "a" * 40)  # digits and a dash right after the prefix
    for token in tokens:
        line = f'"GET /calendar/tutor.ics?token={token} HTTP/1.1" 200 -'
        assert token[4:12] not in redact(line) and "token=[redacted]" in redact(line)
