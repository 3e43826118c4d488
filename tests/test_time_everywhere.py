"""One way to show a time, on every page type and in e-mail (issue 14).

One moment, stored as naive UTC, is put on every page that shows times: the student's
list and appointment page, the tutor's Today, Meetings and Appointments (home), the
admin's findings, a finding, center history, Joins, mail, the live board, and a
confirmation e-mail. Each must show it in the center's zone (America/New_York) with the
abbreviation, "9:25 AM EST", never as UTC or a raw zone name, and a viewer who chose
their own zone also sees it in theirs on pages (never in e-mail).
"""

import datetime
import re
import zoneinfo

import pytest
from support.mail import SMTPServer, mail_config, send_reminders
from support.webhooks import connect_tutor, todays_session

from portal.models import (
    Appointment,
    AuditEntry,
    Finding,
    JoinEvent,
    OutboxMessage,
    User,
    utcnow,
)
from portal.notifications import bookings

NY = zoneinfo.ZoneInfo("America/New_York")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(app_config, smtp)


def _local(moment, zone=NY):
    return moment.replace(tzinfo=datetime.UTC).astimezone(zone)


def shown(moment, zone=NY):
    """A regex for the moment as the page shows it: "9:25 AM EST", "9:25:00 AM EST" or
    the start of a range "9:25 – 10:25 AM EST" (Python's strftime, not the helper)."""
    local = _local(moment, zone)
    clock = rf"{local:%-I:%M}(:\d\d)?"
    return re.compile(rf"{clock}( [AP]M)?( – \d{{1,2}}:\d\d)? [AP]M {local.tzname()}\b")


@pytest.fixture
def everything(world):
    """Tom's appointment with Stu today (started 5 minutes ago, so both lists still show it),
    his live Daily Session, a finding, a history entry, a Join and a mail awaiting a retry,
    all at the same moment."""
    center, tom, stu = world["a"], world["tutor_a"], world["student_a"]
    now = utcnow().replace(second=0, microsecond=0)
    midnight, _ = center.day_bounds(center.today(now))
    at = max(now - datetime.timedelta(minutes=5), midnight)
    appt = Appointment.create(
        student=stu,
        tutor=tom,
        center=center,
        kind="online",
        start_at=at,
        end_at=at + datetime.timedelta(hours=1),
    )
    connect_tutor(tom)
    session = todays_session(tom, center, started_at=at)
    session.status = "live"
    session.save()
    Finding.create(
        check="not_connected",
        key=f"not_connected:tutor:{tom.id}",
        center=center,
        tutor=tom,
        detail="Tom Tutor has no Zoom connection.",
        first_seen=at,
        last_seen=at,
        last_checked=at,
    )
    AuditEntry.create(actor=world["admin_a"], center=center, action="center.update", created_at=at)
    JoinEvent.create(
        student=stu,
        appointment=appt,
        tutor=tom,
        center=center,
        destination="daily_session",
        meeting_id=session.zoom_meeting_id,
        reason="session_known",
        created_at=at,
    )
    OutboxMessage.create(
        key="retry:1",
        kind="alert",
        recipient=world["admin_a"],
        center=center,
        status="queued",
        attempts=1,
        next_attempt_at=at,
    )
    return {"at": at, "appointment": appt, "finding": Finding.get(), "session": session}


def _pages(world, everything):
    a = world["a"]
    finding = everything["finding"]
    day = a.today(everything["at"]).isoformat()
    return {
        "student_a": [
            "/student/",
            f"/student/appointments/{everything['appointment'].id}",
        ],
        "tutor_a": ["/tutor/today", "/home"],
        "admin_a": [
            "/admin/health",
            f"/admin/health/findings/{finding.id}",
            f"/admin/centers/{a.id}",
            f"/admin/centers/{a.id}/joins?date={day}",
            f"/admin/centers/{a.id}/day?date={day}",
            "/admin/mail/",
            "/live/",
        ],
    }


def test_every_page_shows_the_center_time_with_its_abbreviation(auth, login_as, world, everything):
    pattern = shown(everything["at"])
    for who, paths in _pages(world, everything).items():
        login_as(who)
        for path in paths:
            response = auth.get(path)
            page = response.get_data(as_text=True)
            assert response.status_code == 200, path
            assert pattern.search(page), f"{path} does not show the time as {pattern.pattern}"
            assert not re.search(r"\d:\d\d(:\d\d)? UTC|\(UTC\)", page), f"{path} shows UTC"
            assert "America/New_York</" not in page and "America/New_York)" not in page, path
            assert "for you" not in page, path  # nobody here chose another zone
        auth.logout()


def test_meetings_page_shows_the_daily_session_day(auth, login_as, world, everything):
    login_as("tutor_a")
    page = auth.get("/tutor/meetings").get_data(as_text=True)
    day = _local(everything["at"]).date()
    assert f"{day:%a}, {day:%b} {day.day}, {day.year}" in page  # "Tue, Dec 1, 2026"


def test_the_live_line_on_the_tutor_panel_carries_the_zone(auth, login_as, world, everything):
    login_as("tutor_a")
    page = auth.get("/tutor/preferences").get_data(as_text=True)
    assert re.search(r"live since " + shown(everything["at"]).pattern, page)


@pytest.mark.parametrize("who", ["student_a", "tutor_a"])
def test_a_viewer_with_their_own_zone_also_sees_it_on_pages(auth, login_as, world, everything, who):
    User.update(timezone="Europe/Berlin").where(User.id == world[who].id).execute()
    login_as(who)
    path = _pages(world, everything)[who][0]
    page = auth.get(path).get_data(as_text=True)
    assert shown(everything["at"]).search(page)  # the center's time first
    there = _local(everything["at"], BERLIN)
    assert re.search(rf"\(({there:%a}, [^)]*)?{there:%-I:%M}[^)]* {there.tzname()} for you\)", page)


def test_the_confirmation_email_shows_the_center_zone_only(app, runner, smtp, world, everything):
    stu = world["student_a"]
    User.update(timezone="Europe/Berlin").where(User.id == stu.id).execute()
    bookings.queue_for(everything["appointment"], "confirmation")
    send_reminders(runner)
    (mail,) = smtp.inbox.to(stu.email)
    assert shown(everything["at"]).search(mail.text)
    assert shown(everything["at"]).search(mail.subject)
    assert "for you" not in mail.text and "CET" not in mail.text and "UTC" not in mail.text
