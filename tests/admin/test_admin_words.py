"""Admin pages in the product's words: History labels, the audit CSV's names, and the
confirmation before switching Virtual Meetings off."""

import csv
import datetime
import io

import pytest

from portal.models import Appointment, AuditEntry, Center, User, utcnow


def vm(center):
    return Center.get_by_id(center.id).virtual_meetings_enabled


def history(client, center):
    response = client.get(f"/admin/centers/{center.id}/history", headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def online(student, tutor, center, start, minutes=30, status="booked"):
    return Appointment.create(
        student=student,
        tutor=tutor,
        center=center,
        kind="online",
        start_at=start,
        end_at=start + datetime.timedelta(minutes=minutes),
        status=status,
    )


# Each audited field kind as the code writes it, and the words History must show.
ENTRIES = [
    (
        "center.settings",
        {"virtual_meetings_enabled": False, "opens_at": "09:00"},
        {"virtual_meetings_enabled": True, "opens_at": "08:30"},
        ["Virtual Meetings</span>: <del>Off</del> → <ins>On</ins>", "Opens at"],
    ),
    (
        "center.settings",
        {"waiting_room_default": True, "allow_connect_links": False},
        {"waiting_room_default": False, "allow_connect_links": True},
        [
            "Zoom waiting room for new Daily Sessions</span>: <del>On</del> → <ins>Off</ins>",
            "Connect Links allowed</span>: <del>No</del> → <ins>Yes</ins>",
        ],
    ),
    (
        "user.create",
        None,
        {"email": "new@x.edu", "role": "center_admin", "centers": ["Writing Center"]},
        ["Centers</span>: <ins>Writing Center</ins>", "Role</span>: <ins>Center administrator"],
    ),
    (
        "zoom.connect",
        None,
        {"zoom_email": "t@x.edu", "zoom_user_id": "abc", "type": 2, "login_types": [100]},
        [
            "Zoom login method</span>: <ins>Zoom password</ins>",
            "Zoom license</span>: <ins>Licensed</ins>",
        ],
    ),
    (
        "user.connect_link",
        {"connect_link": None},
        {"connect_link": "https://zoom.us/j/1234567890"},
        ["Connect Link</span>: <del>none</del> → <ins>https://zoom.us/j/1234567890</ins>"],
    ),
    (
        "appointment.book",
        None,
        {
            "student": "s@x.edu",
            "tutor": "t@x.edu",
            "kind": "walk_in",
            "start_utc": "2031-05-02T14:30:00",
        },
        [
            "Kind</span>: <ins>Virtual walk-in</ins>",
            "Starts</span>: <ins>Fri, May 2, 2031, 10:30 AM EDT</ins>",
        ],
    ),
    (
        "appointment.cancel",
        {"status": "booked"},
        {"status": "cancelled"},
        ["Status</span>: <del>Booked</del> → <ins>Cancelled</ins>"],
    ),
    (
        "zoom.deauthorized",
        {"status": "active"},
        {"status": "deauthorized", "tokens": "deleted"},
        ["Status</span>: <del>Connected</del> → <ins>The portal app was removed"],
    ),
    (
        "zoom.connect_refused",
        None,
        {"reason": "already_linked:7", "zoom_email": "t@x.edu", "kept_for_owner": True},
        [
            "Reason</span>: <ins>the Zoom account is connected to another tutor</ins>",
            "The owner&#39;s connection kept working</span>: <ins>Yes</ins>",
        ],
    ),
    (
        "mail.retry",
        {"status": "failed", "attempts": 8},
        {"status": "queued"},
        [
            "Status</span>: <del>Failed</del> → <ins>Waiting to be sent</ins>",
            "Tries</span>: <ins>8</ins>",
        ],
    ),
    (
        "health.recreate_session",
        {"meeting_id": 81234567890, "deleted_at_zoom": False},
        {"meeting_id": 89876543210, "session": 7, "finding": 3, "check": "session_mismatch"},
        [
            "Meeting number</span>: <del>812 3456 7890</del> → <ins>898 7654 3210</ins>",
            "Old meeting deleted in Zoom</span>: <ins>No</ins>",
            "Check</span>: <ins>Daily Session differs in Zoom</ins>",
        ],
    ),
]


def test_history_shows_labels_not_field_names_or_python_reprs(login_as, client, world):
    admin = login_as("admin_a")
    for action, before, after, _words in ENTRIES:
        AuditEntry.create(actor=admin, center=world["a"], action=action, before=before, after=after)
    AuditEntry.create(
        actor=admin,
        center=world["a"],
        action="walk_in.assign",
        after={"tutor": "tutor.a@x.edu", "student_id": world["student_a"].id},
    )
    html = history(client, world["a"])
    for action, _before, _after, words in ENTRIES:
        for expected in words:
            assert expected in html, (action, expected)
    assert "Student</span>: <ins>Stu Student</ins>" in html  # an id shown as the name
    for raw in (
        "virtual_meetings_enabled",
        "login_types",
        "[100]",
        "[&#39;Writing Center&#39;]",
        "False",
        "True",
        "None",
        "center_admin",
        "walk_in<",
        "student_id",
        "session_mismatch",
        "<code>",
        "already_linked",
        "kept_for_owner",
    ):
        assert raw not in html, raw


def test_history_after_a_real_change_reads_in_words(login_as, auth, client, world):
    login_as("admin_a")
    data = {"opens_at": "08:00", "closes_at": "17:00", "waiting_room_limit_minutes": "5"}
    auth.post(f"/admin/centers/{world['a'].id}/settings", data)
    html = history(client, world["a"])
    assert "Abe Admin</strong> changed settings" in html
    assert "Opens at</span>: <del>09:00</del> → <ins>08:00</ins>" in html
    assert "waiting_room_default" not in html and "False" not in html


def test_audit_csv_keeps_its_columns_and_adds_names(login_as, auth, world):
    admin = login_as("admin_a")
    appointment = online(world["student_a"], world["tutor_a"], world["a"], utcnow())
    AuditEntry.create(
        actor=admin, center=world["a"], action="user.connect_link",
        target_type="User", target_id=world["tutor_a"].id, after={"connect_link": None},
    )  # fmt: skip
    AuditEntry.create(
        actor=None, center=world["a"], action="appointment.cancel",
        target_type="Appointment", target_id=appointment.id,
    )  # fmt: skip
    AuditEntry.create(
        actor=admin, center=world["a"], action="center.settings",
        target_type="Center", target_id=world["a"].id,
    )  # fmt: skip
    response = auth.get("/admin/health/audit.csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "time", "actor", "action", "center", "target", "before", "after",
        "actor_name", "target_name",
    ]  # fmt: skip
    link, cancel, settings = rows[1:]
    assert link[1:5] == [
        "admin.a@x.edu",
        "user.connect_link (changed a Connect Link)",
        "Center A",
        f"User {world['tutor_a'].id}",
    ]
    assert link[7:] == ["Abe Admin", "Tom Tutor"]
    assert cancel[1] == "command line" and cancel[7:] == ["Command line", "Stu Student"]
    assert settings[7:] == ["Abe Admin", "Center A"]


def test_cli_audit_log_has_the_name_columns(app, runner, world):
    AuditEntry.create(
        actor=world["admin_a"], center=world["a"], action="user.create",
        target_type="User", target_id=world["student_a"].id,
    )  # fmt: skip
    result = runner.invoke(args=["portal", "audit-log", "--format", "csv"])
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0][7:] == ["actor_name", "target_name"]
    assert rows[1][7:] == ["Abe Admin", "Stu Student"]


@pytest.mark.parametrize("htmx", [True, False])
def test_switching_off_asks_first_with_counts_and_changes_nothing(login_as, auth, world, htmx):
    login_as("admin_a")
    a, tom, stu = world["a"], world["tutor_a"], world["student_a"]
    now = utcnow().replace(microsecond=0)
    for ago in (1, 2, 3):  # in progress now: today in any time zone
        online(stu, tom, a, now - datetime.timedelta(minutes=ago))
    for days in range(1, 10):  # later days
        online(stu, tom, a, now + datetime.timedelta(days=days))
    online(stu, tom, a, now + datetime.timedelta(days=11), status="cancelled")
    online(stu, tom, a, now - datetime.timedelta(days=2))  # over
    online(world["student_b"], world["tutor_b"], world["b"], now + datetime.timedelta(days=1))
    response = auth.post(f"/admin/centers/{a.id}/virtual-meetings", {"enabled": "0"}, htmx=htmx)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Switch Virtual Meetings off for Center A?" in html
    assert "3 online appointments today" in html
    assert "12 booked online appointments from now on" in html
    assert 'name="confirm" value="1"' in html
    assert vm(a) is True and AuditEntry.select().count() == 0

    done = auth.post(
        f"/admin/centers/{a.id}/virtual-meetings", {"enabled": "0", "confirm": "1"}, htmx=htmx
    )
    assert done.status_code == (200 if htmx else 303)
    assert vm(a) is False
    assert AuditEntry.get().after == {"virtual_meetings_enabled": False}


def test_switching_off_with_nothing_booked_still_asks(login_as, auth, world):
    login_as("admin_a")
    html = auth.post(f"/admin/centers/{world['a'].id}/virtual-meetings", {"enabled": "0"})
    assert "No online appointments are booked from now on" in html.get_data(as_text=True)
    assert vm(world["a"]) is True


def test_switching_on_needs_no_confirmation(login_as, auth, world):
    login_as("account_admin")
    b = world["b"]
    response = auth.post(f"/admin/centers/{b.id}/virtual-meetings", {"enabled": "1"}, htmx=True)
    assert response.status_code == 200 and "Virtual Meetings is on for Center B." in (
        response.get_data(as_text=True)
    )
    assert vm(b) is True


def test_keep_it_on_shows_the_switch_again(login_as, client, world):
    login_as("admin_a")
    url = f"/admin/centers/{world['a'].id}/virtual-meetings"
    html = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert html.lstrip().startswith('<section id="vm-switch"') and 'role="switch"' in html
    assert vm(world["a"]) is True and User.select().count() > 0


def test_session_evidence_reads_in_words_not_raw_values(app):
    from portal.labels import evidence_lines

    with app.test_request_context():
        words = [
            w
            for _label, w in evidence_lines(
                {
                    "meeting_id": 35765147314,
                    "date": "2026-12-01",
                    "zoom_start_time": "2026-12-01T14:00:00Z",
                    "other_meetings": [81234567890],
                }
            )
        ]
    assert words == [
        "357 6514 7314",
        "Tuesday, December 1, 2026",
        "Tue, Dec 1, 2026, 2:00 PM UTC",
        "812 3456 7890",
    ]
