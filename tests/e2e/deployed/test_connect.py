"""As deployed: a tutor connects Zoom at another origin, presses Start, a student presses Join."""

import datetime

import pytest

from e2e.browser import log_in
from portal.daily import format_meeting_number
from portal.models import Appointment, DailySession, ZoomConnection, utcnow

pytestmark = pytest.mark.browser


def authorize(watch, base, zoom, user_key):
    """Preferences → Select meeting → Connect to Zoom Account → Authorize → sign in at Zoom."""
    page = watch.page
    page.goto(f"{base}/tutor/preferences")
    page.select_option("select[name=choice]", "connect")
    page.click("text=Authorize")
    page.wait_for_url(f"{zoom.config.meeting_url_base}/oauth/authorize**")
    page.check(f"text={zoom.user(user_key).display_name}")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{base}/tutor/preferences")


def test_connect_start_join(deployed, new_page, world):
    zoom = deployed.zoom
    tutor = world["tutor_a"]
    watch = new_page()
    page = watch.page
    log_in(watch, deployed.url, tutor.email)
    authorize(watch, deployed.url, zoom, "licensed")
    page.wait_for_selector(".meeting-number")
    assert "is connected" in page.inner_text("#messages")
    (meeting,) = zoom.meetings_of("licensed")
    assert page.inner_text(".meeting-number") == format_meeting_number(meeting.id)
    watch.assert_clean()

    page.click("a:has-text('Start')")
    page.wait_for_url(f"{deployed.zoom_url}/s/{meeting.id}**")
    assert zoom.meeting(meeting.id).status == "started"

    start = utcnow() - datetime.timedelta(minutes=5)
    appointment = Appointment.create(
        student=world["student_a"],
        tutor=tutor,
        center=world["a"],
        kind="online",
        start_at=start,
        end_at=start + datetime.timedelta(hours=1),
    )
    student = new_page()
    log_in(student, deployed.url, world["student_a"].email)
    student.page.goto(f"{deployed.url}/join/appointment/{appointment.id}")
    student.page.wait_for_url(f"{deployed.zoom_url}/j/{meeting.id}**")
    assert world["student_a"].name in student.page.inner_text("body")
    student.assert_clean()
    assert ZoomConnection.for_tutor(tutor).status == "active"
    assert DailySession.get(DailySession.tutor == tutor).zoom_meeting_id == meeting.id
