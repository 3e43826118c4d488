"""As deployed: a student books an online appointment from the offered slots and moves it.

Gunicorn in production mode, the job consumer running: the student picks a tutor Join
reaches (a tutor whose Zoom stopped working is listed but can't be chosen), a day, one
of the free times in the center's zone, books it, then moves it to another free time.
"""

import datetime
import zoneinfo

import pytest
from support import make_user

from e2e.browser import log_in
from portal.appointments import AppointmentSlot
from portal.models import Appointment, AuditEntry, OutboxMessage, ZoomConnection

pytestmark = pytest.mark.browser

NY = zoneinfo.ZoneInfo("America/New_York")


def next_wednesday():
    day = datetime.datetime.now(NY).date() + datetime.timedelta(days=2)
    return day + datetime.timedelta(days=(2 - day.weekday()) % 7)


def utc(day, hour, minute=0):
    local = datetime.datetime.combine(day, datetime.time(hour, minute), NY)
    return local.astimezone(datetime.UTC).replace(tzinfo=None)


def test_student_books_from_the_offered_slots_and_moves_the_appointment(deployed, new_page, world):
    tom = world["tutor_a"]
    ZoomConnection.create(tutor=tom, zoom_user_id="booking-zoom-user", email="tom@x.edu")
    ann = make_user("ann@x.edu", "tutor", [world["a"]], name="Ann Broken")
    ZoomConnection.create(tutor=ann, zoom_user_id="ann-zoom", email="ann@x.edu", status="revoked")
    day = next_wednesday()

    watch = new_page()
    page = watch.page
    log_in(watch, deployed.url, world["student_a"].email)
    page.click("nav.mainnav >> text=Book")
    page.wait_for_url(f"{deployed.url}/student/book")
    broken = page.locator("select[name=tutor] option", has_text="Ann Broken")
    assert "not available online" in broken.inner_text() and broken.is_disabled()
    page.select_option("select[name=tutor]", label="Tom Tutor · Center A")
    page.fill("input[name=date]", day.isoformat())
    page.click("button:has-text('Show free times')")
    page.wait_for_selector("label.slot")
    times = [t.strip() for t in page.locator("label.slot").all_inner_texts()]
    assert times[0] == "9:00 AM" and times[-1] == "4:30 PM" and len(times) == 16
    assert "America/New_York" in page.inner_text(".slot-picker .hint")
    page.check("label.slot input[value*='T10:00']")
    page.click("button:has-text('Book online appointment')")
    page.wait_for_url(f"{deployed.url}/student/appointments/*")
    appointment = Appointment.get()
    assert page.url == f"{deployed.url}/student/appointments/{appointment.id}"
    assert "Booked: Tom Tutor, online" in page.inner_text("main")
    assert appointment.start_at == utc(day, 10) and appointment.tutor_id == tom.id

    page.click("text=Move to another time")
    page.wait_for_url(f"{deployed.url}/student/appointments/{appointment.id}/move")
    page.wait_for_selector("label.slot")
    offered = [t.strip() for t in page.locator("label.slot").all_inner_texts()]
    assert "10:00 AM" not in offered and "2:30 PM" in offered  # its own time is not offered again
    page.check("label.slot input[value*='T14:30']")
    page.click("button:has-text('Move appointment')")
    page.wait_for_url(f"{deployed.url}/student/appointments/{appointment.id}")
    assert "Appointment moved" in page.inner_text("main")
    assert "2:30 – 3:00 PM" in page.inner_text(".session-facts")
    watch.assert_clean()

    moved = Appointment.get_by_id(appointment.id)
    assert (moved.start_at, moved.sequence, moved.status) == (utc(day, 14, 30), 1, "booked")
    slots = [s.slot_start for s in AppointmentSlot.select().order_by(AppointmentSlot.slot_start)]
    assert slots[0] == moved.start_at and len(slots) == 6  # the old time was freed
    assert AuditEntry.select().where(AuditEntry.action == "appointment.reschedule").count() == 1
    key = f"appointment:{appointment.id}:confirmation:1:user:{world['student_a'].id}"
    assert OutboxMessage.select().where(OutboxMessage.key == key).exists()
