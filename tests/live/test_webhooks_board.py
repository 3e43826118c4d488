"""The live board (admins, their centers) and the tutor's live line, plain and as htmx."""

import datetime

import pytest
from support.webhooks import (
    OTHER_MEETING_ID,
    connect_tutor,
    participant,
    post,
    started,
    todays_session,
    webhook_config,
)

from portal.live import board
from portal.models import Finding, JoinEvent, utcnow

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def app_config(app_config):
    return webhook_config(app_config)


@pytest.fixture
def sessions(world):
    """Tom (Center A) and Tia (Center B) connected, each with today's Daily Session."""
    connect_tutor(world["tutor_a"])
    connect_tutor(world["tutor_b"], zoom_user_id="zoom-user-tia")
    tom = todays_session(world["tutor_a"], world["a"])
    tia = todays_session(
        world["tutor_b"], world["b"], meeting_id=OTHER_MEETING_ID, host_id="zoom-user-tia"
    )
    return {"tom": tom, "tia": tia}


@pytest.fixture
def busy(client, sessions):
    """Tom's session live: two waiting (one for 3 minutes), one in for 4 minutes after 2 waiting."""
    now = utcnow().replace(microsecond=0)
    post(client, started(now - 10 * MINUTE))
    post(client, participant("waiting", now - 6 * MINUTE, pid="p-1", name="Jo Joined"))
    post(client, participant("admitted", now - 4 * MINUTE, pid="p-1", name="Jo Joined"))
    post(client, participant("joined", now - 4 * MINUTE, pid="p-1", name="Jo Joined"))
    post(client, participant("waiting", now - 3 * MINUTE, pid="p-2", name="Wes Waiting"))
    post(client, participant("waiting", now - MINUTE, pid="p-3", name="Val Waiting"))
    return sessions


def test_admin_sees_only_their_centers(auth, login_as, sessions):
    login_as("admin_a")
    page = auth.get("/live/").get_data(as_text=True)
    assert "Center A" in page and "Tom Tutor" in page
    assert "Center B" not in page and "Tia Tutor" not in page
    assert "857 4606 5432" in page and "Not started" in page


def test_account_admin_sees_every_center(auth, login_as, sessions):
    login_as("account_admin")
    page = auth.get("/live/").get_data(as_text=True)
    assert "Tom Tutor" in page and "Tia Tutor" in page


@pytest.mark.parametrize("role", ["tutor_a", "student_a"])
def test_tutors_and_students_cannot_open_the_board(auth, login_as, sessions, role):
    login_as(role)
    assert auth.get("/live/").status_code == 403
    assert auth.get("/live/", htmx=True).status_code == 403


def test_anonymous_visitors_are_sent_to_login(client, sessions):
    response = client.get("/live/")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    assert client.get("/tutor/live/").status_code in (302, 303)


def test_the_board_shows_live_waiting_and_joined(auth, login_as, busy):
    login_as("admin_a")
    page = auth.get("/live/").get_data(as_text=True)
    assert "Live</span> since" in page
    assert "2 waiting</strong>, longest 3 min" in page
    assert "Wes Waiting" in page and "Val Waiting" in page
    assert "Jo Joined · 4 min" in page and "(waited 2 min)" in page


def test_polling_fragment_and_no_js_page(auth, login_as, busy):
    login_as("admin_a")
    full = auth.get("/live/")
    fragment = auth.get("/live/", htmx=True)
    for response in (full, fragment):
        assert response.status_code == 200
        assert "HX-Request" in response.headers["Vary"]
    full_html, part = full.get_data(as_text=True), fragment.get_data(as_text=True)
    assert "<html" in full_html and "<html" not in part
    assert 'hx-trigger="every 5s"' in part and 'hx-target="this"' in part
    assert 'hx-swap="outerHTML"' in part and 'hx-get="/live/"' in part
    assert 'href="/live/">Refresh</a>' in full_html  # works without JavaScript
    assert 'href="/live/">Live board</a>' in full_html  # the admin's navigation
    assert "Wes Waiting" in part


def test_polling_writes_nothing_when_nothing_changed(auth, login_as, busy):
    login_as("admin_a")
    auth.get("/live/", htmx=True)
    before = [(f.id, f.last_seen, f.detail) for f in Finding.select()]
    auth.get("/live/", htmx=True)
    assert [(f.id, f.last_seen, f.detail) for f in Finding.select()] == before


def test_the_board_notices_a_wait_that_grew_too_long(world, busy):
    assert Finding.open().where(Finding.check == "waiting_room_stuck").count() == 0
    later = utcnow() + 3 * MINUTE  # Wes has now waited about 6 minutes
    ((center, rows),) = board.board([world["a"]], now=later)
    (row,) = rows
    assert row.stuck and row.longest_wait == 6 and len(row.waiting) == 2
    (finding,) = Finding.open().where(Finding.check == "waiting_room_stuck")
    assert "up to 6 minutes" in finding.detail and "has not admitted them" in finding.detail


def test_matched_students_are_shown_by_their_portal_name(auth, client, login_as, world, sessions):
    JoinEvent.create(
        student=world["student_a"],
        tutor=world["tutor_a"],
        center=world["a"],
        destination="daily_session",
        meeting_id=sessions["tom"].zoom_meeting_id,
    )
    post(client, started(utcnow() - 5 * MINUTE))
    post(client, participant("joined", utcnow(), name="Zoom Nickname", email="student.a@x.edu"))
    login_as("admin_a")
    assert "Zoom Nickname (Stu Student)" in auth.get("/live/").get_data(as_text=True)


# --- the tutor's live line -------------------------------------------------------------------


def test_tutor_panel_says_how_many_students_wait(auth, login_as, busy):
    login_as("tutor_a")
    panel = auth.get("/tutor/preferences").get_data(as_text=True)
    assert "2 students waiting — admit them in Zoom" in panel
    line = auth.get("/tutor/live/", htmx=True)
    html = line.get_data(as_text=True)
    assert "<html" not in html and 'hx-trigger="every 5s"' in html
    assert 'hx-get="/tutor/live/"' in html and "2 students waiting — admit them in Zoom" in html
    assert "Jo Joined" in html and "HX-Request" in line.headers["Vary"]
    full = auth.get("/tutor/live/").get_data(as_text=True)
    assert "<html" in full and "2 students waiting" in full


def test_one_student_waiting_reads_singular(auth, client, login_as, sessions):
    post(client, participant("waiting", utcnow(), pid="p-9", name="Solo"))
    login_as("tutor_a")
    html = auth.get("/tutor/live/", htmx=True).get_data(as_text=True)
    assert "1 student waiting — admit them in Zoom" in html


def test_a_tutor_sees_only_their_own_session(auth, login_as, busy):
    login_as("tutor_b")
    html = auth.get("/tutor/live/", htmx=True).get_data(as_text=True)
    assert "waiting —" not in html and "Wes Waiting" not in html and "Jo Joined" not in html


def test_admins_cannot_open_the_tutor_line(auth, login_as, busy):
    login_as("admin_a")
    assert auth.get("/tutor/live/").status_code == 403


def test_no_sessions_today_says_so(auth, login_as, world):
    login_as("admin_a")
    assert "No Daily Sessions today" in auth.get("/live/").get_data(as_text=True)
