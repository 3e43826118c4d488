"""Confirmation, reminder and cancellation e-mails, received by a real SMTP server."""

import datetime
import zoneinfo

import pytest
from huey import SqliteHuey
from support import make_user
from support.mail import BASE_URL, SMTPServer, book, mail_config, send_reminders

from portal import appointments
from portal.jobs import huey_for
from portal.models import Appointment, OutboxMessage
from portal.notifications import ics

NY = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def smtp():
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return mail_config(app_config, smtp)


def _utc(moment):
    return moment.replace(tzinfo=datetime.UTC)


def test_booking_confirms_to_student_and_tutor_with_join_link_and_invitation(
    app, smtp, runner, world
):
    stu, tom = world["student_a"], world["tutor_a"]
    appt = book(stu, tom, days=2, hour=14)
    assert smtp.messages == []  # booking only queues; delivery is the job's
    send_reminders(runner)

    (student_mail,) = smtp.inbox.to(stu.email)
    (tutor_mail,) = smtp.inbox.to(tom.email)
    join = f"{BASE_URL}/join/appointment/{appt.id}"
    assert student_mail.rcpt_tos == [stu.email] and student_mail.mail_from == "portal@example.edu"
    assert student_mail.subject.startswith("Booked: online tutoring with Tom Tutor")
    assert join in student_mail.text
    local = _utc(appt.start_at).astimezone(NY)
    # the center's time with its zone's abbreviation, the one way times read (timefmt)
    end = _utc(appt.end_at).astimezone(NY)
    expected = f"{local:%a, %b %-d, %Y, %-I:%M} – {end:%-I:%M %p} {local.tzname()}"
    assert expected in student_mail.text
    assert tutor_mail.subject.startswith("New appointment: Stu Student")
    assert f"{BASE_URL}/tutor/preferences" in tutor_mail.text

    for mail in (student_mail, tutor_mail):
        cal = mail.calendar()
        assert cal["METHOD"] == "REQUEST"
        event = mail.event()
        assert event.decoded("DTSTART") == _utc(appt.start_at)  # UTC, not New York time
        assert event.decoded("DTEND") == _utc(appt.end_at)
        assert str(event["UID"]) == ics.uid(appt.id, BASE_URL)
        assert "mailto:portal@example.edu" in str(event["ORGANIZER"])
    assert str(student_mail.event()["URL"]) == join == str(student_mail.event()["LOCATION"])
    assert str(tutor_mail.event()["URL"]) == f"{BASE_URL}/tutor/preferences"
    assert join in str(tutor_mail.event()["DESCRIPTION"])

    send_reminders(runner)
    assert len(smtp.messages) == 2  # a second run sends nothing again


def test_reminder_goes_out_once_before_the_start(app, smtp, runner, world):
    stu, tom = world["student_a"], world["tutor_a"]
    later = book(stu, tom, days=2)  # far away: no reminder yet
    soon = book(stu, tom, minutes_from_now=40)
    send_reminders(runner)
    send_reminders(runner)
    reminders = [m for m in smtp.messages if m.subject.startswith("Reminder")]
    assert sorted(m.rcpt_tos[0] for m in reminders) == sorted([stu.email, tom.email])
    student_reminder = next(m for m in reminders if m.rcpt_tos == [stu.email])
    assert f"{BASE_URL}/join/appointment/{soon.id}" in student_reminder.text
    assert str(student_reminder.event()["UID"]) == ics.uid(soon.id, BASE_URL)
    assert student_reminder.event().decoded("DTSTART") == _utc(soon.start_at)
    keys = {r.key for r in OutboxMessage.select().where(OutboxMessage.kind == "reminder")}
    assert all(f":{later.id}:" not in key for key in keys)


@pytest.mark.parametrize("side", ["student", "tutor"])
def test_cancelling_sends_a_cancellation_to_both(app, smtp, runner, auth, world, side):
    stu, tom = world["student_a"], world["tutor_a"]
    appt = book(stu, tom, days=3)
    send_reminders(runner)
    smtp.inbox.messages.clear()
    auth.as_user(stu if side == "student" else tom)
    path = f"/{side}/appointments/{appt.id}/cancel"
    response = auth.post(path, token_path="/home")
    assert response.status_code == 303
    assert Appointment.get_by_id(appt.id).status == "cancelled"
    send_reminders(runner)
    by_recipient = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert set(by_recipient) == {stu.email, tom.email}
    canceller, other = (stu, tom) if side == "student" else (tom, stu)
    mine = by_recipient[canceller.email].text
    assert f"You cancelled the online tutoring with {other.name}" in mine
    theirs = by_recipient[other.email].text
    assert f"{canceller.name} cancelled the online tutoring with you" in theirs
    for mail in by_recipient.values():
        assert mail.subject.startswith("Cancelled:")
        assert mail.calendar()["METHOD"] == "CANCEL"
        event = mail.event()
        assert str(event["UID"]) == ics.uid(appt.id, BASE_URL)
        assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == _utc(appt.start_at)


def test_nothing_goes_out_for_an_appointment_cancelled_while_mail_was_down(
    app, smtp, runner, world
):

    stu, tom = world["student_a"], world["tutor_a"]
    appt = book(stu, tom, minutes_from_now=30)
    smtp.stop()  # nothing gets out while the appointment is cancelled
    send_reminders(runner)
    appointments.cancel(Appointment.get_by_id(appt.id), actor=stu)
    smtp.start()
    OutboxMessage.update(next_attempt_at=OutboxMessage.created_at).execute()
    send_reminders(runner)
    # Nobody heard of the booking, so nobody needs its reminder or its cancellation either.
    assert smtp.messages == []
    statuses = {(r.kind, r.status) for r in OutboxMessage.select()}
    assert statuses == {
        ("confirmation", "skipped"),
        ("reminder", "skipped"),
        ("cancellation", "skipped"),
    }
    assert OutboxMessage.select().count() == 6


def test_booking_in_the_browser_enqueues_delivery_and_never_sends_in_the_request(
    app_config, smtp, tmp_path, world
):
    from portal import create_app

    config = dict(app_config, MAIL_DELIVERY="huey", HUEY_IMMEDIATE=False)
    config["INSTANCE_PATH"] = str(tmp_path)
    app = create_app(config)
    client = app.test_client()
    from support import Auth

    auth = Auth(client)
    auth.as_user(world["student_a"])
    # Join reaches Tom through his Connect Link, so the page offers him online.
    world["tutor_a"].connect_link = "https://meet.example.edu/tom"
    world["tutor_a"].save()
    day = (datetime.datetime.now(NY) + datetime.timedelta(days=2)).date().isoformat()
    form = {"tutor": f"{world['a'].id}:{world['tutor_a'].id}", "date": day, "time": "15:00"}
    response = auth.post("/student/book", form, token_path="/student/book")
    assert response.status_code == 303
    assert smtp.messages == []
    assert OutboxMessage.select().where(OutboxMessage.status == "queued").count() == 2
    huey = huey_for(app)
    assert isinstance(huey, SqliteHuey)
    pending = huey.pending()
    assert [task.name for task in pending] == ["deliver_mail"]
    with app.app_context():
        huey.execute(pending[0])
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["student.a@x.edu", "tutor.a@x.edu"]


def test_students_and_tutors_can_turn_reminders_off_but_not_confirmations(
    app, smtp, runner, auth, client, world
):
    stu, tom = world["student_a"], world["tutor_a"]
    auth.as_user(stu)
    page = client.get("/notifications/preferences").get_data(as_text=True)
    assert "Turn reminders off" in page
    response = auth.post("/notifications/reminders", {"reminders": "off"})
    assert response.status_code == 303
    assert "Turn reminders on" in client.get("/notifications/preferences").get_data(as_text=True)
    bad = auth.post("/notifications/reminders", {"reminders": "maybe"}, htmx=True)
    assert bad.status_code == 400 and "Choose whether" in bad.get_data(as_text=True)

    book(stu, tom, minutes_from_now=30)
    send_reminders(runner)
    got = sorted((m.rcpt_tos[0], m.subject.split(":")[0]) for m in smtp.messages)
    assert got == [
        (stu.email, "Booked"),
        (tom.email, "New appointment"),
        (tom.email, "Reminder"),
    ]


def test_tutor_turns_reminders_off_in_preferences(app, smtp, runner, auth, client, world):
    stu, tom = world["student_a"], world["tutor_a"]
    auth.as_user(tom)
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert 'id="mail-prefs"' in page and "Calendar feed" in page
    response = auth.post("/notifications/reminders", {"reminders": "off"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="mail-prefs"')
    assert "Reminder e-mails are off." in html
    book(stu, tom, minutes_from_now=30)
    send_reminders(runner)
    assert [m.subject.split(":")[0] for m in smtp.inbox.to(tom.email)] == ["New appointment"]
    assert len(smtp.inbox.to(stu.email)) == 2  # the student's own choice is unchanged


def test_a_name_with_line_breaks_cannot_add_headers(app, smtp, runner, world):
    eve = make_user(
        "eve@x.edu",
        "student",
        [world["a"]],
        name="Eve\r\nBcc: victim@evil.test\r\nX-Injected: yes",
    )
    tutor = make_user(
        "tutor.inject@x.edu", "tutor", [world["a"]], name="Tina\nSubject: you won\r\n"
    )
    book(eve, tutor, days=2)
    send_reminders(runner)
    assert len(smtp.messages) == 2
    for mail in smtp.messages:
        assert len(mail.rcpt_tos) == 1
        assert "victim@evil.test" not in mail.rcpt_tos
        assert mail.message["Bcc"] is None and mail.message["X-Injected"] is None
        assert len(mail.message.get_all("Subject")) == 1
        assert len(mail.message.get_all("To")) == 1
        headers = mail.raw.split(b"\r\n\r\n", 1)[0]
        assert b"\nBcc:" not in headers and b"\nX-Injected" not in headers
    student_mail = smtp.inbox.to("eve@x.edu")[0]
    assert "Eve Bcc: victim@evil.test X-Injected: yes" in student_mail.to
    assert "you won" in student_mail.subject  # flattened into the one Subject line


def test_moving_sends_the_confirmation_again_with_the_same_calendar_event_moved(
    app, smtp, runner, world
):

    stu, tom = world["student_a"], world["tutor_a"]
    appt = book(stu, tom, days=3, hour=10)
    send_reminders(runner)
    (booked,) = smtp.inbox.to(stu.email)
    smtp.inbox.messages.clear()
    day = _utc(appt.start_at).astimezone(NY).date()
    moved = appointments.reschedule(appt, f"{day.isoformat()}T15:30", actor=stu)
    send_reminders(runner)
    (student_mail,) = smtp.inbox.to(stu.email)
    (tutor_mail,) = smtp.inbox.to(tom.email)
    assert student_mail.subject.startswith("Moved: online tutoring with Tom Tutor, now")
    assert (
        "has moved to a new time" in student_mail.text
        and f"{day:%a, %b} {day.day}, {day.year}, 3:30 – " in student_mail.text
    )
    assert "has moved to a new time" in tutor_mail.text
    for mail in (student_mail, tutor_mail):
        event = mail.event()
        assert mail.calendar()["METHOD"] == "REQUEST"
        assert str(event["UID"]) == str(booked.event()["UID"]) == ics.uid(appt.id, BASE_URL)
        assert int(event["SEQUENCE"]) == 1 > int(booked.event()["SEQUENCE"])
        assert event.decoded("DTSTART") == _utc(moved.start_at) != _utc(appt.start_at)
    smtp.inbox.messages.clear()
    appointments.cancel(moved, actor=stu)
    send_reminders(runner)
    (cancelled,) = smtp.inbox.to(stu.email)
    assert int(cancelled.event()["SEQUENCE"]) == 2  # above the moved invitation's


def test_a_move_before_the_confirmation_went_out_sends_one_message_with_the_new_time(
    app, smtp, runner, world
):

    stu, tom = world["student_a"], world["tutor_a"]
    appt = book(stu, tom, days=3, hour=10)
    day = _utc(appt.start_at).astimezone(NY).date()
    moved = appointments.reschedule(appt, f"{day.isoformat()}T11:00", actor=stu)
    send_reminders(runner)
    (student_mail,) = smtp.inbox.to(stu.email)  # the first confirmation was not sent as well
    assert student_mail.event().decoded("DTSTART") == _utc(moved.start_at)
    first = OutboxMessage.get(
        OutboxMessage.key == f"appointment:{appt.id}:confirmation:user:{stu.id}"
    )
    assert first.status == "skipped"
