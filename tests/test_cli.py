"""The CLI contract of DESIGN §8: success output, and a one-line reason on bad input."""

import pytest
from support import make_user

from portal.models import Appointment, AuditEntry, Center, Membership, User


def run(runner, *args):
    return runner.invoke(args=["portal", *args])


def test_demo_loads_once_and_prints_logins(runner):
    result = run(runner, "demo")
    assert result.exit_code == 0, result.output
    assert "admin@demo.edu" in result.output and "demo-password-1" in result.output
    assert Center.get(Center.name == "Math Center").virtual_meetings_enabled is True
    assert User.select().count() == 8
    again = run(runner, "demo")
    assert again.exit_code == 1 and "already has users" in again.output
    quiet = run(runner, "demo", "--if-empty")
    assert quiet.exit_code == 0 and User.select().count() == 8


def test_demo_users_can_log_in(runner, auth):
    run(runner, "demo")
    from portal.cli import DEMO_PASSWORD

    for email in ("admin@demo.edu", "math.admin@demo.edu", "tutor@demo.edu", "student@demo.edu"):
        assert auth.login(email, DEMO_PASSWORD).status_code == 303
        auth.logout()


def test_create_center_and_errors(runner):
    ok = run(runner, "create-center", "Science", "--timezone", "Europe/Berlin")
    assert ok.exit_code == 0 and Center.get(Center.name == "Science").timezone == "Europe/Berlin"
    dup = run(runner, "create-center", "Science")
    assert dup.exit_code == 1 and "already exists" in dup.output
    tz = run(runner, "create-center", "Other", "--timezone", "Mars/Base")
    assert tz.exit_code == 1 and "not a known time zone" in tz.output
    empty = run(runner, "create-center", "  ")
    assert empty.exit_code == 1 and "Center name is required." in empty.output
    assert Center.select().count() == 1


def test_create_user_and_errors(runner):
    run(runner, "create-center", "Science")
    ok = run(
        runner,
        "create-user",
        "T@X.edu",
        "--name",
        "T",
        "--role",
        "tutor",
        "--password",
        "long-enough-pw",
        "--center",
        "Science",
    )
    assert ok.exit_code == 0, ok.output
    user = User.by_email("t@x.edu")
    assert Membership.get(Membership.user == user).center.name == "Science"
    cases = [
        (["t@x.edu", "--role", "tutor", "--center", "Science"], "already exists"),
        (["u@x.edu", "--role", "wizard", "--center", "Science"], "Role must be one of"),
        (["u@x.edu", "--role", "tutor", "--center", "Nowhere"], "No center is named"),
        (["u@x.edu", "--role", "tutor"], "Choose at least one center"),
        (["bad-email", "--role", "tutor", "--center", "Science"], "Enter an e-mail address"),
    ]
    for args, message in cases:
        result = run(
            runner,
            "create-user",
            *args[:1],
            "--name",
            "U",
            "--password",
            "long-enough-pw",
            *args[1:],
        )
        assert result.exit_code == 1, args
        assert message in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
    assert User.select().count() == 1


def test_enable_virtual_meetings(runner):
    run(runner, "create-center", "Science")
    result = run(runner, "enable-virtual-meetings", "Science")
    assert result.exit_code == 0
    assert Center.get(Center.name == "Science").virtual_meetings_enabled is True
    assert AuditEntry.select().where(AuditEntry.action == "center.settings").count() == 1
    missing = run(runner, "enable-virtual-meetings", "Nowhere")
    assert missing.exit_code == 1 and "No center is named 'Nowhere'" in missing.output


def test_set_connect_link(runner, world):
    ok = run(runner, "set-connect-link", "tutor.a@x.edu", "https://zoom.us/j/1234567890")
    assert ok.exit_code == 0
    assert User.by_email("tutor.a@x.edu").connect_link == "https://zoom.us/j/1234567890"
    bad = run(runner, "set-connect-link", "tutor.a@x.edu", "javascript:alert(1)")
    assert bad.exit_code == 1 and "https://" in bad.output
    student = run(runner, "set-connect-link", "student.a@x.edu", "https://x.edu")
    assert student.exit_code == 1 and "Only tutors" in student.output
    unknown = run(runner, "set-connect-link", "ghost@x.edu", "https://x.edu")
    assert unknown.exit_code == 1 and "No user has the e-mail" in unknown.output
    cleared = run(runner, "set-connect-link", "tutor.a@x.edu", "")
    assert cleared.exit_code == 0 and User.by_email("tutor.a@x.edu").connect_link is None


def test_book_creates_appointment_in_center_time(runner, world):
    result = run(
        runner,
        "book",
        "student.a@x.edu",
        "tutor.a@x.edu",
        "--kind",
        "online",
        "--at",
        "2099-12-01T14:00",
    )
    assert result.exit_code == 0, result.output
    appt = Appointment.get()
    # Center A is America/New_York: 14:00 local is 19:00 UTC in December
    assert appt.start_at.isoformat() == "2099-12-01T19:00:00"
    assert (appt.end_at - appt.start_at).total_seconds() == 1800
    assert appt.kind == "online" and appt.status == "booked"


@pytest.mark.parametrize(
    "args, message",
    [
        (["student.a@x.edu", "tutor.a@x.edu", "--at", "tomorrow"], "is not a date and time"),
        (
            ["student.a@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00", "--kind", "zoom"],
            "Kind must be one of",
        ),
        (["tutor.a@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00"], "is not a student"),
        (["student.a@x.edu", "student.a@x.edu", "--at", "2099-12-01T14:00"], "is not a tutor"),
        (["student.a@x.edu", "tutor.b@x.edu", "--at", "2099-12-01T14:00"], "do not share a center"),
        (["ghost@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00"], "No user has the e-mail"),
        (
            ["student.a@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00", "--minutes", "0"],
            "Length must be",
        ),
    ],
)
def test_book_rejects_bad_input(runner, world, args, message):
    result = run(runner, "book", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert Appointment.select().count() == 0


def test_book_refuses_double_booking_and_online_without_virtual_meetings(runner, world):
    args = ["book", "student.a@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00"]
    assert run(runner, *args).exit_code == 0
    make_user("s2@x.edu", "student", [world["a"]])
    second = run(runner, "book", "s2@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00")
    assert second.exit_code == 1 and "already booked" in second.output
    make_user("s3@x.edu", "student", [world["b"]])
    online_b = run(runner, "book", "s3@x.edu", "tutor.b@x.edu", "--at", "2099-12-01T14:00")
    assert online_b.exit_code == 1 and "Virtual Meetings is not enabled" in online_b.output
    in_person = run(
        runner,
        "book",
        "s3@x.edu",
        "tutor.b@x.edu",
        "--at",
        "2099-12-01T14:00",
        "--kind",
        "in_person",
    )
    assert in_person.exit_code == 0
    assert Appointment.select().count() == 2


def test_student_sees_booked_appointment_on_home(runner, login_as, client, world):
    run(runner, "book", "student.a@x.edu", "tutor.a@x.edu", "--at", "2099-12-01T14:00")
    login_as("student_a")
    html = client.get("/home").get_data(as_text=True)
    assert "Tom Tutor" in html and "Center A" in html and "Online" in html


def test_book_refuses_a_past_start(runner, world):
    result = run(runner, "book", "student.a@x.edu", "tutor.a@x.edu", "--at", "2020-01-01T10:00")
    assert result.exit_code == 1
    assert Appointment.select().count() == 0
