"""Join with the Zoom simulator: lazy creation, creation failing, and Zoom down.

The tutor connects through the real OAuth flow against the simulator; then the
student presses Join.
"""

import datetime
import time

import pytest
from support.zoom import SIM_BASE, sim_state, simulator_config

from portal import daily
from portal.models import Appointment, DailySession, Finding, JoinEvent, utcnow


@pytest.fixture
def app_config(app_config):
    return simulator_config(app_config)


@pytest.fixture
def appointment(app, auth, login_as, world, connected):
    """Tom Tutor connected to the simulator's licensed user; Stu logged in, appointment open."""
    auth.logout()
    DailySession.delete().execute()  # the connect flow prepared today's session: start without
    sim_state(app).meetings.clear()
    login_as("student_a")
    now = utcnow()
    return Appointment.create(
        student=world["student_a"],
        tutor=world["tutor_a"],
        center=world["a"],
        kind="online",
        start_at=now - datetime.timedelta(minutes=1),
        end_at=now + datetime.timedelta(minutes=29),
    )


def daily_meetings(app):
    return [m for m in sim_state(app).meetings_of("licensed") if m.topic.startswith("Daily")]


def test_missing_session_is_created_on_join_exactly_once(app, client, world, appointment):
    response = client.get(f"/join/appointment/{appointment.id}")
    assert response.status_code == 303, response.get_data(as_text=True)
    (meeting,) = daily_meetings(app)
    location = response.headers["Location"]
    assert location.startswith(f"{SIM_BASE}/j/{meeting.id}?pwd=")
    session = DailySession.get()
    assert (
        session.date == daily.center_today(world["a"])
        and location == session.join_url + "&uname=Stu%20Student"
    )
    event = JoinEvent.get()
    assert (event.destination, event.reason, event.meeting_id) == (
        "daily_session",
        "session_created",
        meeting.id,
    )
    again = client.get(f"/join/appointment/{appointment.id}")
    assert again.headers["Location"] == location
    assert len(daily_meetings(app)) == 1
    reasons = [e.reason for e in JoinEvent.select().order_by(JoinEvent.id)]
    assert reasons == ["session_created", "session_known"]
    # the simulator's landing page answers the join URL
    assert client.get(location).status_code == 200


def test_zoom_down_while_todays_session_is_known_still_redirects(app, client, appointment):
    assert client.get(f"/join/appointment/{appointment.id}").status_code == 303
    state = sim_state(app)
    state.fail_next(count=100, status=503, scope="all")
    state.set_latency(2.0)
    try:
        started = time.monotonic()
        response = client.get(f"/join/appointment/{appointment.id}")
        elapsed = time.monotonic() - started
    finally:
        state.set_latency(0)
    assert response.status_code == 303
    assert response.headers["Location"] == DailySession.get().join_url + "&uname=Stu%20Student"
    assert elapsed < 1.0
    assert state.faults.fail_count == 100  # not one call reached Zoom


def test_session_that_cannot_be_created_shows_not_ready_and_opens_a_finding(
    app, client, world, appointment
):
    sim_state(app).fail_next(count=10, status=500, scope="api")
    response = client.get(f"/join/appointment/{appointment.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your tutor's online room isn't ready; the center has been told" in html
    assert "Tom Tutor" in html
    event = JoinEvent.get()
    assert (event.destination, event.reason) == ("nowhere", "session_failed")
    (finding,) = Finding.open()
    assert finding.check == "session_unavailable" and finding.tutor_id == world["tutor_a"].id
    assert DailySession.get().status == "failed"
    # While the failed claim's retry time has not come, Join does not call Zoom again.
    sim_state(app).reset_faults()
    assert client.get(f"/join/appointment/{appointment.id}").status_code == 200
    assert daily_meetings(app) == []


def test_recovery_after_a_failed_claim_resolves_the_finding(app, client, appointment):
    sim_state(app).fail_next(count=10, status=500, scope="api")
    client.get(f"/join/appointment/{appointment.id}")
    sim_state(app).reset_faults()
    DailySession.update(lease_until=utcnow() - datetime.timedelta(seconds=1)).execute()
    response = client.get(f"/join/appointment/{appointment.id}")
    assert response.status_code == 303
    assert len(daily_meetings(app)) == 1
    assert Finding.open().count() == 0
    assert Finding.select().where(Finding.resolved_at.is_null(False)).count() == 1
