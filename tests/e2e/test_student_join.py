"""In Chromium: a student books an online appointment, presses Join, and lands in the tutor's
Daily Session on the simulator.

The tutor connects first (through the simulator's sign-in page), which prepares
today's Daily Session; the student's Join must land on exactly that meeting's
join URL.
"""

import datetime
import zoneinfo

import pytest
from support.zoom import sim_state, simulator_config

from e2e.browser import free_port, log_in, log_out
from portal.daily import format_meeting_number
from portal.models import Appointment, Center, DailySession, JoinEvent, User

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config):
    port = free_port()
    config = simulator_config(app_config)
    config["LIVE_PORT"] = port
    config["ZOOM_SIM_BASE_URL"] = f"http://127.0.0.1:{port}/zoom-sim"
    return config


def connect_tutor(page, base):
    page.goto(f"{base}/tutor/preferences")
    page.select_option("select[name=choice]", "connect")
    page.click("a:has-text('Authorize')")
    page.wait_for_url("**/zoom-sim/oauth/authorize**")
    page.check("text=Lena Licensed")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{base}/tutor/preferences")
    page.wait_for_selector(".meeting-number")


def soon_in(timezone):
    """A start time a few minutes from now on a 5-minute mark, in the center's zone."""
    now = datetime.datetime.now(zoneinfo.ZoneInfo(timezone)) + datetime.timedelta(minutes=6)
    return now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)


def test_student_books_presses_join_and_lands_in_the_daily_session(
    app, live_server, new_page, world
):
    watch = new_page()
    page = watch.page
    log_in(watch, live_server, world["tutor_a"].email)
    connect_tutor(page, live_server)
    (meeting,) = sim_state(app).meetings_of("licensed")
    log_out(watch)

    # Join must open within minutes, whatever the hour: the center opens all day, 5-minute slots.
    Center.update(opens_at="00:00", closes_at="23:59", slot_minutes=5).where(
        Center.id == world["a"].id
    ).execute()
    log_in(watch, live_server, world["student_a"].email)
    page.click("nav.mainnav >> text=Book")
    page.wait_for_url(f"{live_server}/student/book")
    start = soon_in(world["a"].timezone)
    page.select_option("select[name=tutor]", label="Tom Tutor · Center A")
    page.fill("input[name=date]", start.date().isoformat())
    page.click("button:has-text('Show free times')")
    page.check(f"label.slot:has-text('{start:%H:%M}') input")
    page.click("button:has-text('Book online appointment')")
    page.wait_for_url(f"{live_server}/student/appointments/*")
    appointment = Appointment.get()
    assert page.url == f"{live_server}/student/appointments/{appointment.id}"
    body = page.inner_text("main")
    assert "Tom Tutor" in body and "your tutor will admit you" in body
    if start.date() == DailySession.get().date:  # not when the slot falls after midnight
        assert format_meeting_number(meeting.id) in body
    watch.assert_clean()

    page.click("a.button:has-text('Join')")
    page.wait_for_url(f"**/zoom-sim/j/{meeting.id}?pwd=**")
    assert page.url == DailySession.get().join_url + "&uname=Stu%20Student"
    assert format_meeting_number(meeting.id) in page.inner_text("body")
    event = JoinEvent.get()
    assert event.destination == "daily_session" and event.meeting_id == meeting.id
    assert event.appointment_id == appointment.id
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["vmp_device"]["value"] == event.device_id
    assert cookies["vmp_device"]["httpOnly"] and cookies["vmp_device"]["sameSite"] == "Lax"

    # Who was sent where: the tutor's Today page and the admin's day page show this Join.
    number = format_meeting_number(meeting.id)
    for email, link in (
        (world["tutor_a"].email, "Today"),
        (world["admin_a"].email, "Today"),
    ):
        other = new_page()
        log_in(other, live_server, email)
        other.page.click(f"nav.mainnav >> text={link}")
        other.page.wait_for_selector("table.join-events")
        row = other.page.inner_text("table.join-events tbody tr")
        assert "Stu Student" in row and number in row and "Daily Session" in row
        other.assert_clean()


def test_walk_in_page_follows_the_queue_until_a_tutor_takes_the_student(
    app, live_server, new_page, world
):
    from portal import walkins

    # Join reaches Tom through his Connect Link, so the page may say he is ready.
    User.update(connect_link="https://meet.example.edu/tom").where(
        User.id == world["tutor_a"].id
    ).execute()
    watch = new_page()
    page = watch.page
    log_in(watch, live_server, world["student_a"].email)
    page.click("nav.mainnav >> text=Virtual walk-in")
    page.click("button:has-text('Join virtual walk-in')")
    page.wait_for_selector(".queue-place")
    assert page.inner_text(".queue-place") == "1"
    walkins.take(world["a"], world["tutor_a"])  # the tutor presses "Take next student"
    page.wait_for_selector("text=Your tutor is ready — Join", timeout=10_000)
    entry = Appointment.get()
    link = page.get_attribute("a.button:has-text('Join')", "href")
    assert link == f"/join/appointment/{entry.id}"
    watch.assert_clean()
