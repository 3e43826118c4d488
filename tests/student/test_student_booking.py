"""Booking online appointments: rules, bad input, cancelling, the CLI sharing the service."""

import datetime
import zoneinfo

import pytest
from support import make_user

from portal import appointments
from portal.appointments import AppointmentSlot
from portal.models import Appointment, Center, User, utcnow
from portal.validation import ValidationError

NY = zoneinfo.ZoneInfo("America/New_York")


def local_slot(days=2, hour=14, minute=0):
    """A date and time in Center A's zone, some days ahead."""
    day = (datetime.datetime.now(NY) + datetime.timedelta(days=days)).date()
    return day.isoformat(), f"{hour:02d}:{minute:02d}"


def book_form(world, tutor="tutor_a", center="a", minutes="30", **when):
    date, time = local_slot(**when)
    return {
        "tutor": f"{world[center].id}:{world[tutor].id}",
        "date": date,
        "time": time,
        "minutes": minutes,
    }


def post_book(auth, data, htmx=False):
    return auth.post("/student/book", data, htmx=htmx, token_path="/student/book")


@pytest.fixture(autouse=True)
def tom_is_reachable_online(world):
    """Tom has a Connect Link Center A allows, so Join reaches him: he may be booked online."""
    User.update(connect_link="https://meet.example.edu/tom").where(
        User.id == world["tutor_a"].id
    ).execute()


def test_booking_page_lists_tutors_of_the_students_virtual_meetings_centers(
    client, login_as, world
):
    make_user("tutor.off@x.edu", "tutor", [world["b"]], name="Otto Offline")
    login_as("student_a")
    html = client.get("/student/book").get_data(as_text=True)
    assert "Tom Tutor" in html and "Tia Tutor" not in html and "Otto Offline" not in html
    assert f'value="{world["a"].id}:{world["tutor_a"].id}"' in html


def test_student_books_and_sees_the_appointment(auth, client, login_as, world):
    login_as("student_a")
    response = post_book(auth, book_form(world, minutes="60"))
    assert response.status_code == 303
    appt = Appointment.get()
    assert response.headers["Location"] == f"/student/appointments/{appt.id}"
    assert (appt.kind, appt.status, appt.center_id) == ("online", "booked", world["a"].id)
    assert (appt.end_at - appt.start_at) == datetime.timedelta(minutes=60)
    local = appt.start_at.replace(tzinfo=datetime.UTC).astimezone(NY)
    assert (local.hour, local.minute) == (14, 0)
    assert AppointmentSlot.select().where(AppointmentSlot.appointment == appt).count() == 12
    listing = client.get("/student/").get_data(as_text=True)
    assert "Tom Tutor" in listing and "Center A" in listing and "Online" in listing
    assert client.get("/home").get_data(as_text=True).count("Tom Tutor") >= 1


def test_htmx_booking_redirects_with_hx_redirect(auth, login_as, world):
    login_as("student_a")
    response = post_book(auth, book_form(world), htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/student/appointments/{Appointment.get().id}"


def test_booking_form_errors_render_as_a_partial_for_htmx(auth, login_as, world):
    login_as("student_a")
    data = book_form(world)
    data["date"] = ""
    response = post_book(auth, data, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.lstrip().startswith('<section id="book-form"') and "<html" not in html
    assert "Choose a date" in html and "HX-Request" in response.headers["Vary"]


def test_past_time_is_refused(auth, login_as, world):
    login_as("student_a")
    response = post_book(auth, book_form(world, days=-1))
    assert response.status_code == 400
    assert "already passed" in response.get_data(as_text=True)
    assert Appointment.select().count() == 0


def test_same_slot_is_refused_by_the_database(auth, client, login_as, world):
    make_user("s2@x.edu", "student", [world["a"]])
    login_as("student_a")
    assert post_book(auth, book_form(world)).status_code == 303
    auth.logout()
    auth.login("s2@x.edu")
    response = post_book(auth, book_form(world))
    assert response.status_code == 400
    assert "already booked" in response.get_data(as_text=True)
    assert Appointment.select().count() == 1


@pytest.mark.parametrize(
    "first, second, refused",
    [
        ((14, 0, "60"), (14, 30, "30"), True),  # starts inside
        ((14, 30, "30"), (14, 0, "60"), True),  # covers it
        ((14, 0, "30"), (13, 45, "30"), True),  # ends inside
        ((14, 0, "30"), (14, 30, "30"), False),  # back to back
        ((14, 0, "30"), (13, 30, "30"), False),
    ],
)
def test_overlapping_slots_are_refused(auth, login_as, world, first, second, refused):
    Center.update(slot_minutes=15).where(Center.id == world["a"].id).execute()  # 13:45 on the grid
    login_as("student_a")
    h, m, minutes = first
    assert post_book(auth, book_form(world, hour=h, minute=m, minutes=minutes)).status_code == 303
    h, m, minutes = second
    response = post_book(auth, book_form(world, hour=h, minute=m, minutes=minutes))
    assert response.status_code == (400 if refused else 303)
    assert Appointment.select().count() == (1 if refused else 2)


def test_overlap_is_a_constraint_not_an_if(world):
    """Two inserts covering one slot of the tutor: the second fails in the database itself."""
    from peewee import IntegrityError

    from portal.db import database

    start = utcnow() + datetime.timedelta(days=3)
    appt = Appointment.create(
        student=world["student_a"],
        tutor=world["tutor_a"],
        center=world["a"],
        kind="online",
        start_at=start,
        end_at=start,
    )
    AppointmentSlot.create(appointment=appt, tutor=world["tutor_a"], slot_start=start)
    with pytest.raises(IntegrityError), database.atomic():
        AppointmentSlot.create(appointment=appt, tutor=world["tutor_a"], slot_start=start)


def test_another_centers_tutor_is_refused(auth, login_as, world):
    login_as("student_a")
    for value in (
        f"{world['b'].id}:{world['tutor_b'].id}",
        f"{world['a'].id}:{world['tutor_b'].id}",
    ):
        data = book_form(world)
        data["tutor"] = value
        response = post_book(auth, data)
        assert response.status_code == 400
        assert "Choose a tutor from the list" in response.get_data(as_text=True)
    with pytest.raises(ValidationError, match="do not share a center"):
        appointments.book(world["student_a"], world["tutor_b"], "online", "2099-01-01T10:00")
    assert Appointment.select().count() == 0


def test_online_booking_needs_virtual_meetings(world):
    Center.update(virtual_meetings_enabled=False).where(Center.id == world["a"].id).execute()
    with pytest.raises(ValidationError, match="Virtual Meetings is not enabled"):
        appointments.book(world["student_a"], world["tutor_a"], "online", "2099-01-01T10:00")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("tutor", "", "Choose a tutor"),
        ("tutor", "999999:999999", "Choose a tutor"),
        ("tutor", "abc", "Choose a tutor"),
        ("tutor", "' OR 1=1--", "Choose a tutor"),
        ("tutor", "x" * 10_000, "Choose a tutor"),
        ("date", "2026-02-30", "is not a date and time"),
        ("date", "tomorrow", "Choose a date"),
        ("date", "9" * 10_000, "Choose a date"),
        ("time", "25:00", "is not a date and time"),
        ("time", "{{7*7}}", "Choose a start time"),
        ("time", "1" * 10_000, "Choose a start time"),
        ("minutes", "0", "Length must be"),
        ("minutes", "241", "Length must be"),
        ("minutes", "abc", "Length must be"),
        ("minutes", "9" * 10_000, "Length must be"),
    ],
)
def test_bad_input_is_refused_with_a_reason(auth, login_as, world, field, value, message):
    login_as("student_a")
    data = book_form(world)
    data[field] = value
    response = post_book(auth, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in html
    assert "{{7*7}}" not in html or "49" not in html
    assert Appointment.select().count() == 0


def test_a_body_over_the_limit_is_refused(auth, login_as, world):
    login_as("student_a")
    data = book_form(world)
    data["date"] = "9" * 200_000
    assert post_book(auth, data).status_code in (400, 413)
    assert Appointment.select().count() == 0


def test_booking_needs_csrf(client, login_as, world):
    login_as("student_a")
    response = client.post("/student/book", data=book_form(world))
    assert response.status_code == 400
    assert Appointment.select().count() == 0


@pytest.mark.parametrize("role", ["tutor_a", "admin_a", "account_admin"])
def test_student_pages_are_for_students(client, login_as, role):
    login_as(role)
    for path in ("/student/", "/student/book", "/student/walk-in"):
        assert client.get(path).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/student/book")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- cancelling -----------------------------------------------------------------------------


def test_cancel_frees_the_slot(auth, client, login_as, world):
    login_as("student_a")
    post_book(auth, book_form(world))
    appt = Appointment.get()
    response = auth.post(f"/student/appointments/{appt.id}/cancel", token_path="/student/")
    assert response.status_code == 303 and response.headers["Location"] == "/student/"
    assert Appointment.get_by_id(appt.id).status == "cancelled"
    assert AppointmentSlot.select().count() == 0
    assert "Tom Tutor" not in client.get("/student/").get_data(as_text=True)
    assert post_book(auth, book_form(world)).status_code == 303  # the slot is free again


def test_cancel_with_htmx_rerenders_the_list(auth, login_as, world):
    login_as("student_a")
    post_book(auth, book_form(world))
    appt = Appointment.get()
    response = auth.post(
        f"/student/appointments/{appt.id}/cancel", htmx=True, token_path="/student/"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="student-appointments"')
    assert "Appointment cancelled." in html
    again = auth.post(f"/student/appointments/{appt.id}/cancel", htmx=True, token_path="/student/")
    assert "can no longer be cancelled" in again.get_data(as_text=True)


def test_cancelling_another_students_appointment_is_404(auth, login_as, world):
    login_as("student_a")
    post_book(auth, book_form(world))
    appt = Appointment.get()
    auth.logout()
    make_user("other@x.edu", "student", [world["a"]])
    auth.login("other@x.edu")
    response = auth.post(f"/student/appointments/{appt.id}/cancel", token_path="/student/")
    assert response.status_code == 404
    assert Appointment.get_by_id(appt.id).status == "booked"
    assert auth.post("/student/appointments/999999/cancel", token_path="/student/").status_code == (
        404
    )


# --- the CLI uses the same service ----------------------------------------------------------


def run(runner, *args):
    return runner.invoke(args=["portal", *args])


def test_cli_book_refuses_past_and_overlap_like_the_pages(runner, auth, login_as, world):
    past = run(runner, "book", "student.a@x.edu", "tutor.a@x.edu", "--at", "2020-01-01T10:00")
    assert past.exit_code == 1 and "already passed" in past.output
    date, _ = local_slot()
    login_as("student_a")
    assert post_book(auth, book_form(world, hour=14, minutes="60")).status_code == 303
    overlap = run(runner, "book", "student.a@x.edu", "tutor.a@x.edu", "--at", f"{date}T14:30")
    assert overlap.exit_code == 1 and "already booked" in overlap.output
    ok = run(runner, "book", "student.a@x.edu", "tutor.a@x.edu", "--at", f"{date}T15:00")
    assert ok.exit_code == 0, ok.output
    assert AppointmentSlot.select().count() == 12 + 6


def test_migration_0002_gives_existing_bookings_their_slots(app, tmp_path):
    """Bookings made before the slot table existed hold their slots after upgrading."""
    from portal import db as dbmod
    from portal.migrate import runner

    original = dbmod.database.obj
    scratch = dbmod.make_database(f"sqlite:///{tmp_path}/before.db")
    dbmod.database.initialize(scratch)
    try:
        with scratch.connection_context():
            runner().up(target="0001_initial")
            sql = scratch.execute_sql
            sql(
                "INSERT INTO center (id, name, timezone, virtual_meetings_enabled, "
                "waiting_room_default, opens_at, closes_at, allow_connect_links, "
                "waiting_room_limit_minutes, created_at) "
                "VALUES (1, 'C', 'UTC', 1, 1, '09:00', '17:00', 1, 5, '2026-01-01')"
            )
            for uid, role in ((1, "student"), (2, "tutor")):
                sql(
                    "INSERT INTO user (id, email, name, role, password_hash, active, "
                    "session_version, created_at) VALUES (?, ?, 'U', ?, 'x', 1, 1, '2026-01-01')",
                    (uid, f"u{uid}@x.edu", role),
                )
            rows = [
                (1, "2099-01-01 10:00:00", "2099-01-01 11:00:00", "booked"),
                (2, "2099-01-01 10:30:00", "2099-01-01 11:00:00", "booked"),  # overlapped already
                (3, "2099-01-02 10:00:00", "2099-01-02 10:30:00", "cancelled"),
            ]
            for aid, start, end, status in rows:
                sql(
                    "INSERT INTO appointment (id, student_id, tutor_id, center_id, kind, "
                    "start_at, end_at, status, created_at, updated_at) "
                    "VALUES (?, 1, 2, 1, 'online', ?, ?, ?, '2026-01-01', '2026-01-01')",
                    (aid, start, end, status),
                )
            runner().up()
            held = dict(
                sql(
                    "SELECT appointment_id, COUNT(*) FROM appointment_slot GROUP BY appointment_id"
                ).fetchall()
            )
            assert held == {1: 12}  # the later overlapping booking finds its slots taken
            assert sql("SELECT COUNT(*) FROM appointment").fetchone()[0] == 3
    finally:
        dbmod.database.initialize(original)
