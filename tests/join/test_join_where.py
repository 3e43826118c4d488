"""Who was sent where: admins per tutor and per day, tutors for today; scoped to centers."""

import datetime

import pytest
from support import make_user

from portal import daily
from portal.models import Appointment, DailySession, JoinEvent, ZoomConnection, utcnow

JOIN_URL = "https://us05web.zoom.us/j/85746065432?pwd=s3cret"


@pytest.fixture
def joins(client, auth, world):
    """Stu joined Tom's Daily Session; Olga joined Ted (no connection, Connect Link)."""
    ted = make_user(
        "ted@x.edu",
        "tutor",
        [world["a"]],
        name="Ted Tutor",
        connect_link="https://meet.example.edu/ted",
    )
    olga = make_user("olga@x.edu", "student", [world["a"]], name="Olga Other")
    ZoomConnection.create(tutor=world["tutor_a"], zoom_user_id="zu", email="t@x.edu")
    DailySession.create(
        tutor=world["tutor_a"],
        center=world["a"],
        date=daily.center_today(world["a"]),
        status="scheduled",
        zoom_meeting_id=85746065432,
        join_url=JOIN_URL,
    )
    now = utcnow()
    for student, tutor in ((world["student_a"], world["tutor_a"]), (olga, ted)):
        appt = Appointment.create(
            student=student,
            tutor=tutor,
            center=world["a"],
            kind="online",
            start_at=now - datetime.timedelta(minutes=5),
            end_at=now + datetime.timedelta(minutes=25),
        )
        auth.login(student.email)
        assert client.get(f"/join/appointment/{appt.id}").status_code == 303
        auth.logout()
    world["ted"] = ted
    return world


def test_admin_sees_who_was_sent_where_per_tutor_and_day(client, login_as, joins):
    w = joins
    login_as("admin_a")
    center = w["a"].id
    day = daily.center_today(w["a"]).isoformat()
    page = client.get(f"/admin/centers/{center}/day").get_data(as_text=True)
    assert "Stu Student" in page and "Olga Other" in page
    assert "857 4606 5432" in page and "Connect Link" in page
    tom = client.get(f"/admin/centers/{center}/joins?tutor={w['tutor_a'].id}&date={day}")
    html = tom.get_data(as_text=True)
    assert tom.status_code == 200 and "Stu Student" in html and "Olga Other" not in html
    assert "Today&#39;s Daily Session" in html or "Today's Daily Session" in html
    fragment = client.get(
        f"/admin/centers/{center}/joins?tutor={w['ted'].id}&date={day}",
        headers={"HX-Request": "true"},
    )
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="join-events"') and "Olga Other" in text
    assert "HX-Request" in fragment.headers["Vary"]
    yesterday = (daily.center_today(w["a"]) - datetime.timedelta(days=1)).isoformat()
    empty = client.get(f"/admin/centers/{center}/joins?date={yesterday}").get_data(as_text=True)
    assert "No Joins yet." in empty


def test_admin_pages_are_scoped_to_the_admins_centers(client, login_as, joins):
    w = joins
    login_as("admin_b")
    assert client.get(f"/admin/centers/{w['a'].id}/day").status_code == 404
    assert client.get(f"/admin/centers/{w['a'].id}/joins").status_code == 404
    assert client.get(f"/admin/centers/{w['a'].id}/walk-ins").status_code == 404
    assert "Stu Student" not in client.get(f"/admin/centers/{w['b'].id}/day").get_data(as_text=True)


def test_admin_tutor_filter_refuses_other_centers_and_non_tutors(client, login_as, joins):
    w = joins
    login_as("admin_a")
    base = f"/admin/centers/{w['a'].id}/joins"
    assert client.get(f"{base}?tutor={w['tutor_b'].id}").status_code == 404
    assert client.get(f"{base}?tutor={w['student_a'].id}").status_code == 404
    assert client.get(f"{base}?date=not-a-date").status_code == 400


def test_account_admin_sees_every_center(client, login_as, joins):
    login_as("account_admin")
    response = client.get("/admin/today")
    assert response.status_code == 302
    assert client.get(f"/admin/centers/{joins['a'].id}/day").status_code == 200


def test_tutor_sees_their_own_joins_today(client, login_as, joins):
    login_as("tutor_a")
    html = client.get("/tutor/today").get_data(as_text=True)
    assert "Who was sent where today" in html
    assert "Stu Student" in html and "Olga Other" not in html
    assert "857 4606 5432" in html
    assert f"/join/{joins['tutor_a'].id}" in html  # the stable link to hand out
    assert JoinEvent.select().count() == 2


def test_tutor_today_lists_todays_appointments(client, login_as, joins):
    login_as("tutor_a")
    html = client.get("/tutor/today").get_data(as_text=True)
    assert "Appointments · Center A" in html and "Online" in html


def test_tutor_today_without_virtual_meetings(client, login_as):
    login_as("tutor_b")
    html = client.get("/tutor/today").get_data(as_text=True)
    assert "Virtual Meetings is not enabled for your centers" in html


def test_tutor_cannot_open_another_centers_queue_or_student_pages(client, login_as, world):
    login_as("tutor_a")
    assert client.get(f"/tutor/walk-ins/{world['b'].id}").status_code == 404
    assert client.get("/student/walk-in").status_code == 403


# --- the joins export (DESIGN §8: joins --format csv, and the admin's download) --------------

JOIN_HEADER = "time,student_email,tutor_email,center,destination,meeting_id,reason"


def csv_rows(text):
    import csv
    import io

    return list(csv.reader(io.StringIO(text)))


def test_joins_cli_has_the_contract_columns_and_filters(app, runner, joins):
    w = joins
    result = runner.invoke(args=["portal", "joins", "--format", "csv"])
    assert result.exit_code == 0, result.output
    header, *rows = csv_rows(result.output)
    assert ",".join(header) == JOIN_HEADER
    by_student = {r[1]: r for r in rows}
    assert set(by_student) == {"student.a@x.edu", "olga@x.edu"}
    stu = by_student["student.a@x.edu"]
    assert stu[2:] == ["tutor.a@x.edu", "Center A", "daily_session", "85746065432", "session_known"]
    assert stu[0].endswith("Z") and datetime.datetime.fromisoformat(stu[0][:-1])
    assert by_student["olga@x.edu"][4:] == ["connect_link", "", "connect_link"]

    day = daily.center_today(w["a"]).isoformat()
    one_day = runner.invoke(args=["portal", "joins", "--date", day, "--center", "Center A"])
    assert len(csv_rows(one_day.output)) == 3
    other_day = runner.invoke(args=["portal", "joins", "--date", "2001-01-01"])
    assert csv_rows(other_day.output) == [JOIN_HEADER.split(",")]
    other_center = runner.invoke(args=["portal", "joins", "--center", "Center B"])
    assert csv_rows(other_center.output) == [JOIN_HEADER.split(",")]
    for bad in (["--date", "9999-12-31"], ["--date", "tomorrow"], ["--center", "Nowhere"]):
        refused = runner.invoke(args=["portal", "joins", *bad])
        assert refused.exit_code == 1 and "Error:" in refused.output


def test_joins_cells_are_formula_safe(app, runner, joins):
    User = __import__("portal.models", fromlist=["User"]).User
    User.update(email="=cmd|'/c calc'!A1@x.edu").where(User.email == "olga@x.edu").execute()
    rows = csv_rows(runner.invoke(args=["portal", "joins"]).output)
    assert any(r[1] == "'=cmd|'/c calc'!A1@x.edu" for r in rows)


def test_admin_downloads_their_centers_joins_only(client, login_as, joins):
    w = joins
    login_as("admin_a")
    day = daily.center_today(w["a"]).isoformat()
    response = client.get(f"/admin/centers/{w['a'].id}/joins.csv?date={day}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response.get_data(as_text=True))
    assert ",".join(rows[0]) == JOIN_HEADER and len(rows) == 3
    page = client.get(f"/admin/centers/{w['a'].id}/day").get_data(as_text=True)
    assert f"/admin/centers/{w['a'].id}/joins.csv?date={day}" in page
    assert client.get(f"/admin/centers/{w['b'].id}/joins.csv").status_code == 404
    assert client.get(f"/admin/centers/{w['a'].id}/joins.csv?date=9999-12-31").status_code == 400
    assert client.get(f"/admin/centers/{w['a'].id}/joins.csv?date=soon").status_code == 400
