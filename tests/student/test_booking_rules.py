"""Booking that respects reality: opening hours, availability, days off, the slot grid,
taken slots, the past, time zones across DST, moving an appointment, and only tutors
Join reaches offered online. Each refusal is checked on the page (by direct POST too)
and in the CLI, with the database unchanged."""

import datetime
import re
import zoneinfo

import pytest
from support import make_user

from portal import appointments, availability
from portal.appointments import AppointmentSlot
from portal.models import (
    Appointment,
    AuditEntry,
    Availability,
    Center,
    DayOff,
    OutboxMessage,
    User,
    ZoomConnection,
)
from portal.validation import ValidationError

NY = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def reachable(world):
    """Join reaches Tom through a Connect Link Center A allows: he may be booked online."""
    User.update(connect_link="https://meet.example.edu/tom").where(
        User.id == world["tutor_a"].id
    ).execute()
    world["tutor_a"] = User.get_by_id(world["tutor_a"].id)


def next_weekday(weekday, at_least=2):
    """The first date at least ``at_least`` days ahead in New York that is ``weekday``."""
    day = datetime.datetime.now(NY).date() + datetime.timedelta(days=at_least)
    return day + datetime.timedelta(days=(weekday - day.weekday()) % 7)


WEDNESDAY = 2


def ny_utc(day, hour, minute=0):
    """Naive UTC of a New York wall-clock time on ``day`` (EST or EDT, whichever it is)."""
    local = datetime.datetime.combine(day, datetime.time(hour, minute), NY)
    return local.astimezone(datetime.UTC).replace(tzinfo=None)


def form(world, day, time, minutes="30"):
    return {
        "tutor": f"{world['a'].id}:{world['tutor_a'].id}",
        "date": day.isoformat(),
        "time": time,
        "minutes": minutes,
    }


def post_book(auth, data):
    return auth.post("/student/book", data, token_path="/student/book")


def cli_book(runner, at, student="student.a@x.edu"):
    return runner.invoke(args=["portal", "book", student, "tutor.a@x.edu", "--at", at])


def nothing_booked(count=0):
    assert Appointment.select().count() == count
    assert AppointmentSlot.select().count() == count * 6  # 30 minutes = six 5-minute slots


def offered(client, world, day, minutes=None):
    """The start times (HH:MM, New York) the booking page offers for Tom on ``day``."""
    query = {"tutor": f"{world['a'].id}:{world['tutor_a'].id}", "date": day.isoformat()}
    if minutes:
        query["minutes"] = minutes
    response = client.get("/student/book", query_string=query)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return re.findall(r'name="slot" value="[\d-]+T(\d\d:\d\d)', html), html


# --- refusals, on the page and in the CLI ----------------------------------------------------


@pytest.mark.parametrize("time", ["03:10", "08:30", "16:45", "17:00"])
def test_outside_the_opening_hours_is_refused_by_page_and_cli(auth, runner, login_as, world, time):
    day = next_weekday(WEDNESDAY)
    login_as("student_a")
    response = post_book(auth, form(world, day, time))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Center A is open 09:00–17:00 (America/New_York)" in html and "outside" in html
    result = cli_book(runner, f"{day.isoformat()}T{time}")
    assert result.exit_code == 1 and "is open 09:00–17:00" in result.output
    nothing_booked()


def test_the_page_offers_only_free_slots_inside_the_hours_in_the_slot_length(
    client, login_as, world
):
    day = next_weekday(WEDNESDAY)
    login_as("student_a")
    times, html = offered(client, world, day)
    assert times[0] == "09:00" and times[-1] == "16:30" and len(times) == 16
    zone = datetime.datetime.combine(day, datetime.time(12), NY).tzname()  # EST or EDT
    assert f"America/New_York ({zone})" in html  # the zone, with its abbreviation on that date
    Center.update(slot_minutes=45).where(Center.id == world["a"].id).execute()
    times, _ = offered(client, world, day)
    assert times[:3] == ["09:00", "09:45", "10:30"] and times[-1] == "15:45"


def test_outside_the_tutors_availability_is_refused_and_not_offered(
    auth, client, runner, login_as, world
):
    day = next_weekday(WEDNESDAY)
    availability.set_weekly(world["tutor_a"], world["a"], {WEDNESDAY: "10:00-11:00, 14:00-15:00"})
    login_as("student_a")
    times, _ = offered(client, world, day)
    assert times == ["10:00", "10:30", "14:00", "14:30"]
    for time in ("09:00", "11:00", "13:30"):
        response = post_book(auth, form(world, day, time))
        html = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "Tom Tutor takes appointments on Wednesdays 10:00–11:00, 14:00–15:00" in html
    result = cli_book(runner, f"{day.isoformat()}T11:00")
    assert result.exit_code == 1 and "takes appointments on Wednesdays" in result.output
    nothing_booked()
    thursday = day + datetime.timedelta(days=1)  # no range on Thursdays: not bookable at all
    assert offered(client, world, thursday)[0] == []
    assert post_book(auth, form(world, day, "10:30")).status_code == 303
    nothing_booked(1)


def test_a_day_off_is_refused_and_offers_nothing(auth, client, runner, login_as, world):
    day = next_weekday(WEDNESDAY)
    availability.add_day_off(world["tutor_a"], world["a"], day.isoformat())
    login_as("student_a")
    times, html = offered(client, world, day)
    assert times == [] and "not taking appointments on this day" in html
    response = post_book(auth, form(world, day, "10:00"))
    assert response.status_code == 400
    assert "Tom Tutor is not taking appointments on Wednesday" in response.get_data(as_text=True)
    assert cli_book(runner, f"{day.isoformat()}T10:00").exit_code == 1
    nothing_booked()


def test_a_taken_slot_is_not_offered_and_is_refused(auth, client, runner, login_as, world):
    day = next_weekday(WEDNESDAY)
    make_user("s2@x.edu", "student", [world["a"]], name="Sam Second")
    assert cli_book(runner, f"{day.isoformat()}T10:00", "s2@x.edu").exit_code == 0
    login_as("student_a")
    times, _ = offered(client, world, day)
    assert "10:00" not in times and "09:30" in times and "10:30" in times
    response = post_book(auth, form(world, day, "10:00"))
    assert response.status_code == 400
    assert "already booked" in response.get_data(as_text=True)
    result = cli_book(runner, f"{day.isoformat()}T10:00")
    assert result.exit_code == 1 and "already booked" in result.output
    nothing_booked(1)
    assert Appointment.get().student_id == User.by_email("s2@x.edu").id


def test_the_past_and_off_grid_times_are_refused(auth, runner, login_as, world):
    yesterday = datetime.datetime.now(NY).date() - datetime.timedelta(days=1)
    login_as("student_a")
    past = post_book(auth, form(world, yesterday, "10:00"))
    assert past.status_code == 400 and "already passed" in past.get_data(as_text=True)
    assert "already passed" in cli_book(runner, f"{yesterday.isoformat()}T10:00").output
    day = next_weekday(WEDNESDAY)
    off_grid = post_book(auth, form(world, day, "10:10"))
    assert off_grid.status_code == 400
    assert "start every 30 minutes from 09:00" in off_grid.get_data(as_text=True)
    wrong_length = post_book(auth, form(world, day, "10:00", minutes="45"))
    assert wrong_length.status_code == 400
    assert "last 30, 60, 90, 120 minutes" in wrong_length.get_data(as_text=True)
    by_cli = runner.invoke(
        args=["portal", "book", "student.a@x.edu", "tutor.a@x.edu"]
        + ["--at", f"{day.isoformat()}T10:00", "--minutes", "45"]
    )
    assert by_cli.exit_code == 1 and "whole 30-minute slots" in by_cli.output
    assert cli_book(runner, f"{day.isoformat()}T10:10").exit_code == 1
    nothing_booked()


def test_a_posted_slot_with_its_offset_books_that_exact_time(auth, login_as, world):
    day = next_weekday(WEDNESDAY)
    login_as("student_a")
    data = form(world, day, "")
    data["slot"] = f"{day.isoformat()}T15:00:00-05:00"
    assert post_book(auth, data).status_code == 303
    appt = Appointment.get()
    assert appt.start_at == datetime.datetime.combine(day, datetime.time(20, 0))


# --- a center whose zone is not UTC, across a DST change ------------------------------------


def test_slots_follow_the_centers_wall_clock_across_the_dst_changes(world):
    """New York: clocks go back on 2027-11-07 and forward on 2027-03-14."""
    center, tom = world["a"], world["tutor_a"]
    early = datetime.datetime(2026, 6, 1)  # "now", so the dates stay ahead whenever this runs
    before, after = datetime.date(2027, 11, 6), datetime.date(2027, 11, 7)
    assert appointments.free_slots(center, tom, before, now=early)[0] == datetime.datetime(
        2027, 11, 6, 13
    )
    assert appointments.free_slots(center, tom, after, now=early)[0] == datetime.datetime(
        2027, 11, 7, 14
    )
    stu = world["student_a"]
    a = appointments.book(stu, tom, "online", "2027-11-06T09:00", now=early)
    b = appointments.book(stu, tom, "online", "2027-11-07T09:00", now=early)
    assert (a.start_at.hour, b.start_at.hour) == (13, 14)

    # A night center: the repeated hour gives more real slots, the skipped hour fewer.
    Center.update(opens_at="00:00", closes_at="04:00").where(Center.id == center.id).execute()
    center = Center.get_by_id(center.id)
    back = appointments.free_slots(center, tom, after, now=early)
    assert len(back) == 10  # 00:00 EDT to 04:00 EST is five real hours
    assert back[0] == datetime.datetime(2027, 11, 7, 4) and back[-1] == datetime.datetime(
        2027, 11, 7, 8, 30
    )
    first = appointments.book(stu, tom, "online", "2027-11-07T01:30-04:00", now=early)  # EDT
    second = appointments.book(stu, tom, "online", "2027-11-07T01:30-05:00", now=early)  # EST
    assert (first.start_at, second.start_at) == (
        datetime.datetime(2027, 11, 7, 5, 30),
        datetime.datetime(2027, 11, 7, 6, 30),
    )
    forward = appointments.free_slots(center, tom, datetime.date(2027, 3, 14), now=early)
    assert len(forward) == 6  # 00:00 EST to 04:00 EDT is three real hours
    with pytest.raises(ValidationError, match="does not exist on Sunday, March 14, 2027"):
        appointments.book(stu, tom, "online", "2027-03-14T02:30", now=early)


def test_the_booking_page_shows_the_zone_abbreviation_of_the_chosen_date(client, login_as, world):
    login_as("student_a")
    summer = next_weekday(WEDNESDAY, at_least=200)
    _, html = offered(client, world, summer)
    zone = datetime.datetime.combine(summer, datetime.time(12), NY).tzname()
    assert f"America/New_York ({zone})" in html


# --- only tutors Join reaches, for online appointments ---------------------------------------


def test_tutors_join_would_not_reach_are_shown_disabled_and_refused_by_post(
    auth, client, login_as, world
):
    broken = make_user("broken@x.edu", "tutor", [world["a"]], name="Ann Broken")
    ZoomConnection.create(tutor=broken, zoom_user_id="zb", email="b@x.edu", status="revoked")
    none = make_user("none@x.edu", "tutor", [world["a"]], name="Al Nolink")
    zoomed = make_user("zoomed@x.edu", "tutor", [world["a"]], name="Zed Zoomed")
    ZoomConnection.create(tutor=zoomed, zoom_user_id="zz", email="z@x.edu")
    login_as("student_a")
    html = client.get("/student/book").get_data(as_text=True)
    ready_order = [html.index("Tom Tutor ·"), html.index("Zed Zoomed ·")]
    not_ready = [html.index("Al Nolink ·"), html.index("Ann Broken ·")]
    assert max(ready_order) < min(not_ready)  # ready tutors first
    for tutor in (broken, none):
        assert (
            f'<option value="{world["a"].id}:{tutor.id}" disabled >{tutor.name} · Center A'
            " — not available online</option>" in html
        )
    day = next_weekday(WEDNESDAY)
    for tutor, why in ((broken, "stopped working"), (none, "has not connected a Zoom account")):
        data = form(world, day, "10:00")
        data["tutor"] = f"{world['a'].id}:{tutor.id}"
        response = post_book(auth, data)
        text = response.get_data(as_text=True)
        assert response.status_code == 400
        assert f"{tutor.name} is not available online right now" in text and why in text
        shown = client.get("/student/book", query_string={"tutor": data["tutor"]})
        assert shown.status_code == 400 and "not available online" in shown.get_data(as_text=True)
    nothing_booked()
    # Connect Links that the center does not allow don't count either.
    Center.update(allow_connect_links=False).where(Center.id == world["a"].id).execute()
    response = post_book(auth, form(world, day, "10:00"))
    assert response.status_code == 400
    assert "does not allow Connect Links" in response.get_data(as_text=True)
    nothing_booked()
    data = form(world, day, "10:00")
    data["tutor"] = f"{world['a'].id}:{zoomed.id}"
    assert post_book(auth, data).status_code == 303


def test_the_appointment_page_does_not_promise_a_room_that_is_not_working(
    auth, client, login_as, world
):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    login_as("student_a")
    assert "isn't working right now" not in client.get(f"/student/appointments/{appt.id}").get_data(
        as_text=True
    )
    ZoomConnection.create(tutor=world["tutor_a"], zoom_user_id="z", email="t@x.edu", status="error")
    html = client.get(f"/student/appointments/{appt.id}").get_data(as_text=True)
    assert "Tom Tutor's online room isn't working right now" in html
    assert f"/student/appointments/{appt.id}/move" in html


# --- moving an appointment ------------------------------------------------------------------


def move(auth, appt, day, time):
    return auth.post(
        f"/student/appointments/{appt.id}/move",
        {"date": day.isoformat(), "time": time},
        token_path="/student/",
    )


def test_student_moves_an_appointment_to_a_free_slot(auth, client, login_as, runner, world):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    login_as("student_a")
    page = client.get(f"/student/appointments/{appt.id}/move").get_data(as_text=True)
    assert (
        "Move appointment" in page
        and "10:00" not in page.split("Start time")[1].split("</fieldset>")[0]
    )  # its own time is not offered again
    response = move(auth, appt, day, "14:30")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/student/appointments/{appt.id}"
    moved = Appointment.get_by_id(appt.id)
    assert moved.start_at == ny_utc(day, 14, 30)
    assert moved.end_at - moved.start_at == datetime.timedelta(minutes=30)
    assert (moved.status, moved.sequence) == ("booked", 1)
    held = [s.slot_start for s in AppointmentSlot.select().order_by(AppointmentSlot.slot_start)]
    assert held[0] == moved.start_at and len(held) == 6
    entry = AuditEntry.get(AuditEntry.action == "appointment.reschedule")
    assert (
        entry.before["start_utc"] == ny_utc(day, 10).isoformat()
        and entry.actor_id == world["student_a"].id
    )
    keys = {r.key for r in OutboxMessage.select().where(OutboxMessage.kind == "confirmation")}
    student = world["student_a"].id
    assert f"appointment:{appt.id}:confirmation:1:user:{student}" in keys
    # The old time is free again: another student books it.
    make_user("s2@x.edu", "student", [world["a"]])
    assert cli_book(runner, f"{day.isoformat()}T10:00", "s2@x.edu").exit_code == 0


def test_moving_to_a_taken_or_closed_time_is_refused_and_nothing_is_lost(
    auth, login_as, runner, world
):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    make_user("s2@x.edu", "student", [world["a"]])
    assert cli_book(runner, f"{day.isoformat()}T11:00", "s2@x.edu").exit_code == 0
    login_as("student_a")
    for time, reason in (
        ("11:00", "already booked"),
        ("17:30", "outside those hours"),
        ("10:00", "current time"),
        ("10:10", "start every 30 minutes"),
    ):
        response = move(auth, appt, day, time)
        assert response.status_code == 400
        assert reason in response.get_data(as_text=True)
    kept = Appointment.get_by_id(appt.id)
    assert kept.start_at == ny_utc(day, 10)
    assert kept.sequence == 0
    mine = AppointmentSlot.select().where(AppointmentSlot.appointment == appt.id)
    assert mine.count() == 6 and min(s.slot_start for s in mine) == kept.start_at
    assert AppointmentSlot.select().count() == 12
    assert not AuditEntry.select().where(AuditEntry.action == "appointment.reschedule").exists()


def test_the_atomic_move_keeps_the_old_slots_when_the_database_refuses_the_new_ones(world):
    """A booking that slipped in after the checks: the INSERT fails, the move is undone."""
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    other = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T12:00")
    original = appointments.check_time
    appointments.check_time = lambda *a, **k: a[2] + datetime.timedelta(minutes=30)
    try:
        with pytest.raises(ValidationError, match="already booked"):
            appointments.reschedule(appt, f"{day}T12:00")
    finally:
        appointments.check_time = original
    kept = Appointment.get_by_id(appt.id)
    assert kept.start_at == ny_utc(day, 10)
    assert AppointmentSlot.select().where(AppointmentSlot.appointment == appt.id).count() == 6
    assert AppointmentSlot.select().where(AppointmentSlot.appointment == other.id).count() == 6


def test_another_students_appointment_cannot_be_moved(auth, client, login_as, world):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    make_user("other@x.edu", "student", [world["a"]])
    auth.login("other@x.edu")
    assert client.get(f"/student/appointments/{appt.id}/move").status_code == 404
    assert move(auth, appt, day, "14:00").status_code == 404
    assert Appointment.get_by_id(appt.id).sequence == 0


def test_a_cancelled_appointment_cannot_be_moved(auth, login_as, world):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    appointments.cancel(appt)
    login_as("student_a")
    response = move(auth, appt, day, "14:00")
    assert response.status_code == 303
    assert Appointment.get_by_id(appt.id).status == "cancelled"
    assert AppointmentSlot.select().count() == 0


def test_an_admin_moves_an_appointment_of_their_center(auth, client, login_as, world):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    login_as("admin_a")
    listing = client.get(f"/admin/centers/{world['a'].id}/day", query_string={"date": day})
    assert f"/admin/centers/{world['a'].id}/appointments/{appt.id}/move" in listing.get_data(
        as_text=True
    )
    path = f"/admin/centers/{world['a'].id}/appointments/{appt.id}/move"
    response = auth.post(
        path, {"date": day.isoformat(), "time": "16:00"}, token_path="/admin/centers"
    )
    assert response.status_code == 303
    moved = Appointment.get_by_id(appt.id)
    assert moved.start_at == ny_utc(day, 16)
    entry = AuditEntry.get(AuditEntry.action == "appointment.reschedule")
    assert entry.actor_id == world["admin_a"].id
    auth.logout()
    login_as("admin_b")
    assert client.get(path).status_code == 404  # another center's appointment


# --- availability pages ----------------------------------------------------------------------


def test_tutor_sets_weekly_hours_and_days_off_from_the_availability_page(
    auth, client, login_as, world
):
    login_as("tutor_a")
    home = client.get("/tutor/today").get_data(as_text=True)
    assert 'href="/tutor/availability"' in home
    page = client.get("/tutor/availability").get_data(as_text=True)
    assert "No weekly hours set" in page and "Center A is open 09:00–17:00" in page
    center = world["a"].id
    response = auth.post(
        f"/tutor/availability/{center}",
        {"day0": "09:00-12:00, 13:00-15:30", "day2": "10:00-11:00"},
        token_path="/tutor/availability",
    )
    assert response.status_code == 303
    tom = world["tutor_a"]
    assert availability.weekly(tom, world["a"]) == {
        0: [("09:00", "12:00"), ("13:00", "15:30")],
        2: [("10:00", "11:00")],
    }
    assert 'value="09:00-12:00, 13:00-15:30"' in client.get("/tutor/availability").get_data(
        as_text=True
    )
    day = next_weekday(WEDNESDAY)
    added = auth.post(
        f"/tutor/availability/{center}/days-off",
        {"day": day.isoformat()},
        htmx=True,
        token_path="/tutor/availability",
    )
    assert added.status_code == 200 and "Day off added" in added.get_data(as_text=True)
    off = DayOff.get()
    assert off.day == day
    assert availability.windows(tom, world["a"], day) == []
    removed = auth.post(
        f"/tutor/availability/{center}/days-off/{off.id}/remove", token_path="/tutor/availability"
    )
    assert removed.status_code == 303 and DayOff.select().count() == 0


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("day1", "9-12", "is not a time range"),
        ("day1", "12:00-09:00", "ends before it starts"),
        ("day1", "07:00-10:00", "07:00–10:00 is outside Center A"),
        ("day1", "09:00-11:00, 10:00-12:00", "the ranges overlap"),
        ("day1", "25:00-26:00", "is not a time range"),
        ("day1", "x" * 5000, "at most"),
    ],
)
def test_bad_weekly_hours_are_refused_and_change_nothing(
    auth, login_as, world, field, value, message
):
    availability.set_weekly(world["tutor_a"], world["a"], {0: "09:00-10:00"})
    login_as("tutor_a")
    response = auth.post(
        f"/tutor/availability/{world['a'].id}",
        {"day0": "", field: value},
        token_path="/tutor/availability",
    )
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert [(a.weekday, a.starts, a.ends) for a in Availability.select()] == [(0, "09:00", "10:00")]


def test_bad_days_off_are_refused(auth, login_as, world):
    login_as("tutor_a")
    path = f"/tutor/availability/{world['a'].id}/days-off"
    for value, message in (("soon", "must be a date"), ("2020-01-01", "already passed")):
        response = auth.post(path, {"day": value}, token_path="/tutor/availability")
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert DayOff.select().count() == 0
    other = auth.post(
        f"/tutor/availability/{world['b'].id}/days-off",
        {"day": "2099-01-01"},
        token_path="/tutor/availability",
    )
    assert other.status_code == 404  # not Tom's center
    gone = auth.post(path + "/999999/remove", token_path="/tutor/availability")
    assert gone.status_code == 404


def test_an_admin_sets_a_tutors_availability_from_the_users_page(auth, client, login_as, world):
    login_as("admin_a")
    users = client.get(f"/admin/centers/{world['a'].id}/users").get_data(as_text=True)
    path = f"/admin/centers/{world['a'].id}/users/{world['tutor_a'].id}/availability"
    assert f'href="{path}"' in users
    assert "Tom Tutor's availability" in client.get(path).get_data(as_text=True)
    response = auth.post(path, {"day4": "13:00-16:00"}, token_path="/admin/centers")
    assert response.status_code == 303
    assert availability.weekly(world["tutor_a"], world["a"]) == {4: [("13:00", "16:00")]}
    entry = AuditEntry.get(AuditEntry.action == "availability.set")
    assert entry.actor_id == world["admin_a"].id
    assert entry.after == {"tutor": "Tom Tutor", "Friday": "13:00-16:00"}
    assert entry.before == {"Friday": "no hours"}
    # Clearing Friday and setting Monday records those two days only, the cleared one as
    # "no hours", and History reads it so.
    auth.post(path, {"day0": "09:00-10:00", "day4": ""}, token_path="/admin/centers")
    entry = (
        AuditEntry.select()
        .where(AuditEntry.action == "availability.set")
        .order_by(AuditEntry.id.desc())
        .get()
    )
    assert entry.before == {"Monday": "no hours", "Friday": "13:00-16:00"}
    assert entry.after == {"tutor": "Tom Tutor", "Monday": "09:00-10:00", "Friday": "no hours"}
    history = client.get(f"/admin/centers/{world['a'].id}/history").get_data(as_text=True)
    assert "<del>13:00-16:00</del> → <ins>no hours</ins>" in history
    auth.post(path, {"day0": "09:00-10:00"}, token_path="/admin/centers")
    student = f"/admin/centers/{world['a'].id}/users/{world['student_a'].id}/availability"
    assert client.get(student).status_code == 404
    auth.logout()
    login_as("admin_b")
    assert client.get(path).status_code == 404
    assert auth.post(path, {"day4": ""}, token_path="/admin/centers").status_code == 404
    assert Availability.select().count() == 1


def test_availability_pages_are_for_their_audience_and_need_csrf(auth, client, login_as, world):
    login_as("student_a")
    assert client.get("/tutor/availability").status_code == 403
    auth.logout()
    login_as("tutor_a")
    response = client.post(f"/tutor/availability/{world['a'].id}", data={"day0": "09:00-10:00"})
    assert response.status_code == 400
    assert Availability.select().count() == 0


def test_the_admin_sets_the_slot_length_on_the_settings_page(auth, client, login_as, world):
    login_as("admin_a")
    page = client.get(f"/admin/centers/{world['a'].id}").get_data(as_text=True)
    assert 'name="slot_minutes"' in page
    data = {
        "opens_at": "09:00",
        "closes_at": "17:00",
        "waiting_room_limit_minutes": "5",
        "waiting_room_default": "1",
        "allow_connect_links": "1",
    }
    path = f"/admin/centers/{world['a'].id}/settings"
    bad = auth.post(path, {**data, "slot_minutes": "7"}, token_path="/admin/centers")
    assert bad.status_code == 400 and "must be one of 15, 20, 30, 45, 60" in bad.get_data(
        as_text=True
    )
    assert Center.get_by_id(world["a"].id).slot_minutes == 30
    ok = auth.post(path, {**data, "slot_minutes": "60"}, token_path="/admin/centers")
    assert ok.status_code == 303 and Center.get_by_id(world["a"].id).slot_minutes == 60
    day = next_weekday(WEDNESDAY)
    starts = appointments.free_slots(Center.get_by_id(world["a"].id), world["tutor_a"], day)
    assert len(starts) == 8


def test_migration_0006_keeps_existing_centers_and_bookings_bookable(app, tmp_path):
    """An installation from before 0006: 30-minute slots, no availability (opening hours)."""
    from portal import db as dbmod
    from portal.migrate import runner

    original = dbmod.database.obj
    scratch = dbmod.make_database(f"sqlite:///{tmp_path}/before.db")
    dbmod.database.initialize(scratch)
    try:
        with scratch.connection_context():
            runner().up(target="0005_notifications")
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
            sql(
                "INSERT INTO appointment (id, student_id, tutor_id, center_id, kind, start_at, "
                "end_at, status, created_at, updated_at) VALUES (1, 1, 2, 1, 'online', "
                "'2099-01-01 10:00:00', '2099-01-01 10:30:00', 'booked', '2026-01-01', "
                "'2026-01-01')"
            )
            runner().up()
            assert sql("SELECT slot_minutes FROM center").fetchone()[0] == 30
            assert sql("SELECT sequence, status FROM appointment").fetchone() == (0, "booked")
            assert sql("SELECT COUNT(*) FROM tutor_availability").fetchone()[0] == 0
            assert sql("SELECT COUNT(*) FROM tutor_day_off").fetchone()[0] == 0
            runner().down()  # 0006 comes off cleanly; the data stays
            assert sql("SELECT COUNT(*) FROM appointment").fetchone()[0] == 1
    finally:
        dbmod.database.initialize(original)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"date": "soon", "time": "10:00"}, "Choose a date"),
        ({"slot": "x" * 10_000}, "is not a date and time"),
        ({"slot": "2099-01-01T10:00' OR 1=1--"}, "is not a date and time"),
        ({"date": "2099-02-30", "time": "10:00"}, "is not a date and time"),
    ],
)
def test_bad_input_to_move_is_refused_and_changes_nothing(
    auth, client, login_as, world, data, message
):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    login_as("student_a")
    garbage = client.get(f"/student/appointments/{appt.id}/move", query_string={"date": "soon"})
    assert garbage.status_code == 200 and "Choose a day" in garbage.get_data(as_text=True)
    response = auth.post(f"/student/appointments/{appt.id}/move", data, token_path="/student/")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    kept = Appointment.get_by_id(appt.id)
    assert (kept.start_at, kept.sequence) == (appt.start_at, 0)
    assert AppointmentSlot.select().count() == 6


def test_a_length_the_page_does_not_offer_is_refused_by_direct_post(auth, login_as, world):
    day = next_weekday(WEDNESDAY)
    login_as("student_a")
    for minutes, reason in (
        ("240", "last 30, 60, 90, 120 minutes"),
        ("45", "last 30, 60, 90, 120 minutes"),
        ("-30", "Length must be between"),
        ("9" * 30, "Length must be between"),
    ):
        response = post_book(auth, form(world, day, "10:00", minutes=minutes))
        assert response.status_code == 400, minutes
        assert reason in response.get_data(as_text=True)
    nothing_booked()


def test_an_appointment_with_a_deactivated_tutor_cannot_be_moved(auth, login_as, world):
    day = next_weekday(WEDNESDAY)
    appt = appointments.book(world["student_a"], world["tutor_a"], "online", f"{day}T10:00")
    User.update(active=False).where(User.id == world["tutor_a"].id).execute()
    login_as("student_a")
    response = move(auth, appt, day, "14:00")
    assert response.status_code == 400
    assert "Tom Tutor no longer takes appointments" in response.get_data(as_text=True)
    assert Appointment.get_by_id(appt.id).start_at == ny_utc(day, 10)
    assert [s.slot_start for s in AppointmentSlot.select()][0] == ny_utc(day, 10)


def test_the_free_times_also_read_in_the_viewers_own_zone(client, login_as, world):
    day = next_weekday(WEDNESDAY)
    User.update(timezone="Europe/Paris").where(User.id == world["student_a"].id).execute()
    login_as("student_a")
    times, html = offered(client, world, day)
    assert times[0] == "09:00"
    assert "the smaller times are yours, in Europe/Paris" in html
    assert "3:00 PM CET" in html  # 09:00 in New York (EST) is 15:00 in Paris (CET)
    User.update(timezone=None).where(User.id == world["student_a"].id).execute()
    _, html = offered(client, world, day)
    assert "the smaller times are yours" not in html and "CET" not in html
