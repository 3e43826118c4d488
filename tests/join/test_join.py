"""Join: every branch of the one resolution function, scoping, the JoinEvent and its cookie.

These tests seed the tutor's Zoom connection and today's Daily Session rows
directly; tests/test_join_zoom.py runs the branches that need Zoom (the
simulator) — lazy creation, creation failing, Zoom down.
"""

import datetime

import pytest
from support import make_user

from portal import daily, join
from portal.models import (
    Appointment,
    Center,
    DailySession,
    Finding,
    JoinEvent,
    User,
    ZoomConnection,
    utcnow,
)

JOIN_URL = "https://us05web.zoom.us/j/85746065432?pwd=s3cret"
# Where Join sends Stu Student: the join link with their name for the waiting room.
SENT_TO = JOIN_URL + "&uname=Stu%20Student"
PMI_LINK = "https://us05web.zoom.us/j/5551234567"


@pytest.fixture(autouse=True)
def no_zoom(monkeypatch):
    """Fail loudly if Join tries to reach Zoom in these tests."""

    def refuse(gateway, tutor):
        raise AssertionError("Join called Zoom")

    monkeypatch.setattr("portal.zoom.wiring.ZoomGateway.for_request", refuse)


def open_appointment(student, tutor, center, **fields):
    """An online appointment that can be joined now (created directly: it started already)."""
    now = utcnow()
    values = {
        "student": student,
        "tutor": tutor,
        "center": center,
        "kind": "online",
        "start_at": now - datetime.timedelta(minutes=5),
        "end_at": now + datetime.timedelta(minutes=25),
        "status": "booked",
    }
    values.update(fields)
    return Appointment.create(**values)


def connect(tutor, status="active"):
    return ZoomConnection.create(
        tutor=tutor, zoom_user_id=f"zu-{tutor.id}", email=tutor.email, status=status
    )


def todays_session(tutor, center, join_url=JOIN_URL, status="scheduled", meeting=85746065432):
    return DailySession.create(
        tutor=tutor,
        center=center,
        date=daily.center_today(center),
        status=status,
        zoom_meeting_id=meeting,
        join_url=join_url,
    )


@pytest.fixture
def ready(world):
    """Tom Tutor connected, with today's Daily Session, and Stu's appointment open now."""
    connect(world["tutor_a"])
    todays_session(world["tutor_a"], world["a"])
    return open_appointment(world["student_a"], world["tutor_a"], world["a"])


def join_path(appointment):
    return f"/join/appointment/{appointment.id}"


def only_event():
    (event,) = JoinEvent.select()
    return event


# --- the Daily Session branch ---------------------------------------------------------------


def test_connected_tutor_goes_to_todays_daily_session(app, client, login_as, world, ready):
    student = login_as("student_a")
    response = client.get(join_path(ready))
    assert response.status_code == 303
    assert response.headers["Location"] == SENT_TO
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    event = only_event()
    assert event.student_id == student.id and event.appointment_id == ready.id
    assert event.tutor_id == world["tutor_a"].id and event.center_id == world["a"].id
    assert event.destination == "daily_session" and event.reason == "session_known"
    assert event.meeting_id == 85746065432
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"vmp_device={event.device_id};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=34560000" in cookie
    assert len(event.device_id) >= 22


def test_device_id_cookie_is_reused_on_the_next_join(client, login_as, ready):
    login_as("student_a")
    first = client.get(join_path(ready))
    second = client.get(join_path(ready))
    assert second.status_code == 303 and "Set-Cookie" not in second.headers
    ids = [e.device_id for e in JoinEvent.select().order_by(JoinEvent.id)]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert first.headers["Set-Cookie"].startswith(f"vmp_device={ids[0]};")


def test_forged_device_cookie_is_replaced(client, login_as, ready):
    login_as("student_a")
    client.set_cookie("vmp_device", "<script>")
    response = client.get(join_path(ready))
    assert response.status_code == 303
    assert "<script>" not in only_event().device_id
    assert "Set-Cookie" in response.headers


def test_device_cookie_is_secure_with_host_prefix_in_production(app, client, login_as, ready):
    app.config["SESSION_COOKIE_SECURE"] = True
    login_as("student_a")
    response = client.get(join_path(ready), base_url="https://localhost")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-device=") and "Secure" in cookie


def test_connected_tutor_with_a_pmi_in_the_connect_link_still_gets_the_daily_session(
    client, login_as, world, ready
):
    User.update(connect_link=PMI_LINK).where(User.id == world["tutor_a"].id).execute()
    login_as("student_a")
    response = client.get(join_path(ready))
    assert response.status_code == 303 and response.headers["Location"] == SENT_TO
    assert only_event().destination == "daily_session"


def test_yesterdays_session_is_not_todays(client, login_as, world):
    """Only today's (center-local) row counts; yesterday's would send students to a stale room."""
    tutor = world["tutor_a"]
    connect(tutor, status="needs_reauth")  # so the missing session is not created lazily
    DailySession.create(
        tutor=tutor,
        center=world["a"],
        date=daily.center_today(world["a"]) - datetime.timedelta(days=1),
        status="scheduled",
        zoom_meeting_id=111,
        join_url=JOIN_URL,
    )
    appt = open_appointment(world["student_a"], tutor, world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    assert response.status_code == 200
    assert only_event().destination == "nowhere"


def test_join_url_on_another_host_is_never_followed(client, login_as, world):
    connect(world["tutor_a"])
    todays_session(world["tutor_a"], world["a"], join_url="https://zoom.us.evil.example/j/1")
    appt = open_appointment(world["student_a"], world["tutor_a"], world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    assert response.status_code == 200
    assert "evil.example" not in response.get_data(as_text=True)
    assert only_event().reason == "join_url_refused"
    assert Finding.open().where(Finding.check == "session_link_invalid").count() == 1


# --- broken connection ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["needs_reauth", "revoked", "deauthorized", "error"])
def test_broken_connection_shows_not_ready_page_and_opens_one_finding(
    client, login_as, world, status
):
    tutor = world["tutor_a"]
    connect(tutor, status=status)
    todays_session(tutor, world["a"])
    # A Connect Link must not be used for a connected tutor, even a broken one.
    User.update(connect_link="https://meet.example.edu/tom").where(User.id == tutor.id).execute()
    appt = open_appointment(world["student_a"], tutor, world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your tutor's online room isn't ready; the center has been told" in html
    assert "Tom Tutor" in html and "Center A" in html
    assert "meet.example.edu" not in html and JOIN_URL not in html
    event = only_event()
    assert (event.destination, event.reason) == ("nowhere", "connection_broken")
    (finding,) = Finding.open()
    assert finding.check == "connection_broken" and finding.severity == "critical"
    assert finding.center_id == world["a"].id and finding.tutor_id == tutor.id
    assert "Tom Tutor" in finding.detail and finding.evidence["appointment_id"] == appt.id
    first_seen = finding.first_seen
    assert client.get(join_path(appt)).status_code == 200
    (again,) = Finding.open()
    assert again.id == finding.id and again.first_seen == first_seen
    assert again.last_seen >= finding.last_seen
    assert JoinEvent.select().count() == 2


# --- no connection: the Connect Link, if the center allows it --------------------------------


def test_tutor_without_connection_uses_connect_link_when_center_allows(client, login_as, world):
    tutor = world["tutor_a"]
    User.update(connect_link="https://meet.example.edu/tom").where(User.id == tutor.id).execute()
    appt = open_appointment(world["student_a"], tutor, world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    assert response.status_code == 303
    assert response.headers["Location"] == "https://meet.example.edu/tom"
    event = only_event()
    assert (event.destination, event.reason, event.meeting_id) == (
        "connect_link",
        "connect_link",
        None,
    )
    assert Finding.select().count() == 0


def test_connect_link_not_used_when_center_disallows(client, login_as, world):
    tutor = world["tutor_a"]
    User.update(connect_link=PMI_LINK).where(User.id == tutor.id).execute()
    Center.update(allow_connect_links=False).where(Center.id == world["a"].id).execute()
    appt = open_appointment(world["student_a"], tutor, world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    assert response.status_code == 200
    assert PMI_LINK not in response.get_data(as_text=True)
    assert only_event().reason == "connect_link_not_allowed"
    assert Finding.open().get().check == "not_connected"


def test_no_connection_and_no_link_goes_nowhere(client, login_as, world):
    appt = open_appointment(world["student_a"], world["tutor_a"], world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    assert response.status_code == 200
    assert "isn't ready" in response.get_data(as_text=True)
    assert only_event().reason == "not_connected"


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hi", "ftp://x.edu/a"])
def test_a_connect_link_that_is_not_a_web_address_is_never_followed(client, login_as, world, link):
    User.update(connect_link=link).where(User.id == world["tutor_a"].id).execute()
    appt = open_appointment(world["student_a"], world["tutor_a"], world["a"])
    login_as("student_a")
    response = client.get(join_path(appt))
    assert response.status_code == 200
    assert only_event().destination == "nowhere"


def test_inactive_tutor_goes_nowhere(client, login_as, world, ready):
    User.update(active=False).where(User.id == world["tutor_a"].id).execute()
    login_as("student_a")
    assert client.get(join_path(ready)).status_code == 200
    assert only_event().reason == "no_tutor"


# --- scoping and roles ----------------------------------------------------------------------


def test_another_students_appointment_is_404(client, auth, world, ready):
    make_user("other@x.edu", "student", [world["a"]], name="Olga Other")
    auth.login("other@x.edu")
    assert client.get(join_path(ready)).status_code == 404
    assert client.get(f"/student/appointments/{ready.id}").status_code == 404
    assert JoinEvent.select().count() == 0


def test_other_center_student_and_unknown_ids_are_404(client, login_as, ready):
    login_as("student_b")
    assert client.get(join_path(ready)).status_code == 404
    assert client.get("/join/appointment/999999").status_code == 404
    assert client.get("/join/appointment/-1").status_code == 404
    assert client.get("/join/appointment/abc").status_code == 404
    assert JoinEvent.select().count() == 0


@pytest.mark.parametrize("role", ["tutor_a", "admin_a", "account_admin"])
def test_only_students_join(client, login_as, role, ready, world):
    login_as(role)
    assert client.get(join_path(ready)).status_code == 403
    assert client.get(f"/join/{world['tutor_a'].id}").status_code == 403


@pytest.mark.parametrize(
    "change, status",
    [
        ({"active": False}, 302),  # deactivated: the session no longer counts
        ({"session_version": 99}, 302),  # logged out everywhere / password changed
        ({"role": "tutor"}, 403),  # no longer a student
    ],
)
def test_join_checks_the_student_like_the_login_gate(
    client, login_as, world, ready, change, status
):
    """Join checks the signed-in student inside its one query; the outcome matches the gate."""
    login_as("student_a")
    User.update(**change).where(User.id == world["student_a"].id).execute()
    response = client.get(join_path(ready))
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]
    assert JoinEvent.select().count() == 0


def test_anonymous_join_goes_to_login(client, ready):
    response = client.get(join_path(ready))
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the stable link ------------------------------------------------------------------------


def test_stable_link_resolves_to_todays_session(client, login_as, world, ready):
    login_as("student_a")
    response = client.get(f"/join/{world['tutor_a'].id}")
    assert response.status_code == 303 and response.headers["Location"] == SENT_TO
    event = only_event()
    assert event.appointment_id == ready.id and event.tutor_id == world["tutor_a"].id


def test_stable_link_without_appointment_still_resolves(client, login_as, world):
    connect(world["tutor_a"])
    todays_session(world["tutor_a"], world["a"])
    login_as("student_a")
    response = client.get(f"/join/{world['tutor_a'].id}")
    assert response.status_code == 303
    assert only_event().appointment_id is None


def test_stable_link_is_scoped_to_the_students_centers(client, login_as, world, ready):
    login_as("student_b")
    assert client.get(f"/join/{world['tutor_a'].id}").status_code == 404
    assert client.get(f"/join/{world['student_a'].id}").status_code == 404
    assert client.get("/join/999999").status_code == 404
    assert JoinEvent.select().count() == 0


def test_stable_link_to_a_non_tutor_is_404(client, login_as, world):
    login_as("student_a")
    assert client.get(f"/join/{world['admin_a'].id}").status_code == 404


# --- when Join is not open ------------------------------------------------------------------


def test_cancelled_appointment_cannot_be_joined(client, login_as, world, ready):
    Appointment.update(status="cancelled").where(Appointment.id == ready.id).execute()
    login_as("student_a")
    response = client.get(join_path(ready))
    assert response.status_code == 200
    assert "cancelled" in response.get_data(as_text=True)
    assert JoinEvent.select().count() == 0


def test_join_opens_thirty_minutes_before_and_closes_at_the_end(client, login_as, world):
    connect(world["tutor_a"])
    todays_session(world["tutor_a"], world["a"])
    now = utcnow()
    later = open_appointment(
        world["student_a"],
        world["tutor_a"],
        world["a"],
        start_at=now + datetime.timedelta(hours=3),
        end_at=now + datetime.timedelta(hours=4),
    )
    soon = open_appointment(
        world["student_a"],
        world["tutor_a"],
        world["a"],
        start_at=now + datetime.timedelta(minutes=20),
        end_at=now + datetime.timedelta(minutes=50),
    )
    over = open_appointment(
        world["student_a"],
        world["tutor_a"],
        world["a"],
        start_at=now - datetime.timedelta(hours=2),
        end_at=now - datetime.timedelta(hours=1),
    )
    login_as("student_a")
    assert "isn't open yet" in client.get(join_path(later)).get_data(as_text=True)
    assert "has ended" in client.get(join_path(over)).get_data(as_text=True)
    assert client.get(join_path(soon)).status_code == 303
    assert JoinEvent.select().count() == 1


def test_in_person_appointment_has_no_room(client, login_as, world, ready):
    Appointment.update(kind="in_person").where(Appointment.id == ready.id).execute()
    login_as("student_a")
    assert "in person" in client.get(join_path(ready)).get_data(as_text=True)


# --- the appointment page -------------------------------------------------------------------


def test_appointment_page_shows_join_waiting_room_and_meeting_number(client, login_as, ready):
    login_as("student_a")
    html = client.get(f"/student/appointments/{ready.id}").get_data(as_text=True)
    assert f'href="/join/appointment/{ready.id}"' in html and ">Join</a>" in html
    assert "A waiting room may be on: your tutor will admit you." in html
    assert daily.format_meeting_number(85746065432) in html
    assert JoinEvent.select().count() == 0  # looking is not joining


def test_appointment_page_without_waiting_room(client, login_as, world, ready):
    Center.update(waiting_room_default=False).where(Center.id == world["a"].id).execute()
    login_as("student_a")
    html = client.get(f"/student/appointments/{ready.id}").get_data(as_text=True)
    assert "waiting room" not in html


# --- the service helpers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, simulator, allowed",
    [
        ("https://us05web.zoom.us/j/123?pwd=x", None, True),
        ("https://zoom.us/j/123", None, True),
        ("https://ZOOM.US/j/123", None, True),
        ("http://us05web.zoom.us/j/123", None, False),
        ("https://zoom.us.evil.example/j/1", None, False),
        ("https://evilzoom.us/j/1", None, False),
        ("https://user@us05web.zoom.us/j/1", None, False),
        ("https://us05web.zoom.us:8443/j/1", None, False),
        ("https://us05web.zoom.us/j/1\r\nSet-Cookie: x", None, False),
        ("javascript:alert(1)", None, False),
        ("", None, False),
        (None, None, False),
        ("http://127.0.0.1:5000/zoom-sim/j/1?pwd=a", None, False),
        ("http://127.0.0.1:5000/zoom-sim/j/1?pwd=a", "http://127.0.0.1:5000/zoom-sim", True),
        ("http://127.0.0.1:5000/zoom-simx/j/1", "http://127.0.0.1:5000/zoom-sim", False),
        ("http://127.0.0.1:5001/zoom-sim/j/1", "http://127.0.0.1:5000/zoom-sim", False),
        ("https://127.0.0.1:5000/zoom-sim/j/1", "http://127.0.0.1:5000/zoom-sim", False),
    ],
)
def test_join_url_host_check(url, simulator, allowed):
    assert join.url_checker(simulator)(url) is allowed


def test_open_finding_upserts_on_the_open_key(app, world):
    args = ("connection_broken", "k:1", "critical", world["a"], world["tutor_a"])
    first = join.open_finding(*args, "first")
    second = join.open_finding(*args, "second")
    assert first.id == second.id
    (finding,) = Finding.select()
    assert finding.detail == "second"
    join.resolve_findings("k:1")
    third = join.open_finding(*args, "third")
    assert third.id != first.id
    assert Finding.select().count() == 2 and Finding.open().count() == 1
