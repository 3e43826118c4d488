"""The simulator's own signed deliveries, end to end, into the portal's endpoint.

The simulator is mounted as in `make run`; its webhook sender posts through a
requests session on which the portal itself is mounted (no socket), so each
delivery is a real HTTP exchange with Zoom's headers: good ones, forged, stale,
duplicated and out of order.
"""

import pytest
import requests
from support.zoom import sim_state, simulator_config

from portal.models import (
    DailySession,
    Finding,
    MeetingParticipant,
    WebhookDelivery,
    ZoomConnection,
)
from portal.zoom.transport import mount_simulator

PORTAL = "http://localhost"


@pytest.fixture
def app_config(app_config):
    config = simulator_config(app_config)
    config["ZOOM_SIM_OPTIONS"] = {"webhook_url": PORTAL + "/webhooks/zoom"}
    config["HUEY_IMMEDIATE"] = True
    return config


@pytest.fixture
def zoom(app):
    """The simulator, delivering webhooks to this portal in-process."""
    state = sim_state(app)
    http = requests.Session()
    mount_simulator(http, PORTAL, app)
    state.webhooks.http = http
    yield state
    http.close()


@pytest.fixture
def meeting(with_session, zoom):
    """Tom Tutor connected as the simulator's licensed user, today's session prepared."""
    session = DailySession.get()
    return zoom.meeting(session.zoom_meeting_id)


def session():
    return DailySession.get()


def test_url_validation_passes(zoom, app):
    assert zoom.webhooks.validate_endpoint() is True


def test_url_validation_fails_with_another_secret(zoom, app):
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = "not-what-zoom-signs-with"
    assert zoom.webhooks.validate_endpoint() is False


def test_start_wait_admit_leave_end(zoom, meeting):
    zoom.start_meeting(meeting.id)
    assert session().status == "live"
    pid = zoom.participant_waiting(meeting.id, "Stu Student", "student.a@x.edu")
    assert MeetingParticipant.get().state == "waiting"
    zoom.admit_participant(meeting.id, pid)
    assert MeetingParticipant.get().state == "joined"
    zoom.leave_participant(meeting.id, pid)
    assert MeetingParticipant.get().state == "left"
    zoom.end_meeting(meeting.id)
    assert session().status == "ended"
    assert [d.status for d in zoom.webhooks.deliveries] == ["delivered"] * 6
    assert WebhookDelivery.select().where(WebhookDelivery.status == "done").count() == 6


def test_forged_and_stale_deliveries_are_refused_then_retried(zoom, meeting):
    zoom.corrupt_next_webhook("bad_signature")
    delivery = zoom.start_meeting(meeting.id)
    assert delivery.attempts[-1].status == 401 and delivery.status == "failed"
    assert session().status == "scheduled" and WebhookDelivery.select().count() == 0
    zoom.corrupt_next_webhook("stale_timestamp")
    pid = zoom.participant_waiting(meeting.id, "Stu Student")
    assert MeetingParticipant.select().count() == 0
    # Zoom retries 5 minutes later, correctly signed this time.
    zoom.advance(minutes=5)
    assert len(zoom.webhooks.retry_due()) == 2
    assert session().status == "live"
    assert MeetingParticipant.get().participant_key and pid


def test_a_redelivered_event_has_one_effect(zoom, meeting):
    zoom.start_meeting(meeting.id)
    pid = zoom.participant_waiting(meeting.id, "Stu Student")
    waiting = zoom.webhooks.events("meeting.participant_joined_waiting_room")[0]
    assert zoom.webhooks.redeliver(waiting.id) == 200
    assert zoom.webhooks.redeliver(waiting.id) == 200
    assert WebhookDelivery.select().count() == 2
    assert MeetingParticipant.select().count() == 1 and pid


def test_out_of_order_deliveries_converge(zoom, meeting):
    zoom.webhooks.pause()
    zoom.start_meeting(meeting.id)
    pid = zoom.join_participant(meeting.id, "Stu Student")
    zoom.advance(minutes=3)
    zoom.leave_participant(meeting.id, pid)
    zoom.advance(minutes=1)
    zoom.end_meeting(meeting.id)
    zoom.webhooks.release(reverse=True)
    row = session()
    assert row.status == "ended" and row.started_at < row.ended_at
    assert MeetingParticipant.get().state == "left"


def test_deauthorization_from_zoom(zoom, meeting):
    zoom.deauthorize("licensed")
    connection = ZoomConnection.get()
    assert connection.status == "deauthorized" and connection.access_token_enc is None
    assert Finding.open().where(Finding.check == "connection_broken").count() == 1


def test_deleting_the_meeting_in_zoom(zoom, meeting):
    zoom.zoom_delete_meeting(meeting.id)
    assert session().status == "missing"
    assert Finding.open().where(Finding.check == "session_mismatch").count() == 1


def test_starting_another_meeting_in_zoom(zoom, meeting):
    other = zoom.create_daily_session("licensed", topic="My own meeting")
    zoom.start_meeting(other.id)
    assert session().status == "scheduled"
    (finding,) = Finding.open().where(Finding.check == "session_mismatch")
    assert "My own meeting" not in finding.detail  # topics are not evidence; numbers are


def test_disconnecting_then_the_deauthorized_event_opens_nothing(auth, zoom, meeting):
    response = auth.post("/zoom/disconnect", token_path="/tutor/preferences")
    assert response.status_code in (200, 303)
    zoom.webhooks.flush()
    (sent,) = zoom.webhooks.events("app_deauthorized")  # revoking fires it, as in Zoom
    assert sent.status == "delivered"
    assert WebhookDelivery.get(WebhookDelivery.event == "app_deauthorized").status == "ignored"
    assert ZoomConnection.get().status == "revoked"
    assert Finding.open().where(Finding.check == "connection_broken").count() == 0
