"""As deployed: a risky fix asks first, and a waiting student's tab says when it's their turn.

"Recreate today's Daily Session" changes the meeting number students already have, so the
first press only shows what will happen (with counts) and changes nothing, in Zoom or in
the portal; the second press, on the confirmation, replaces the meeting.
"""

import pytest

from e2e.browser import log_in
from portal import walkins
from portal.health import findings
from portal.models import DailySession, Finding, User

from .test_connect import book_now, connected

pytestmark = pytest.mark.browser


def test_recreate_asks_first_then_replaces_the_meeting(deployed, new_page, world):
    zoom = deployed.zoom
    tom = world["tutor_a"]
    tutor = connected(new_page, deployed, tom, "licensed")
    tutor.assert_clean()
    (meeting,) = zoom.meetings_of("licensed")
    book_now(world, tom)
    finding = findings.open_finding(
        "session_mismatch",
        findings.tutor_key("session_mismatch", tom.id),
        "critical",
        world["a"],
        tom,
        "Tom Tutor's Daily Session does not match Zoom.",
        {"meeting_id": meeting.id, "kind": "other_host", "kinds": ["other_host"]},
    )

    admin = new_page()
    page = admin.page
    log_in(admin, deployed.url, world["admin_a"].email)
    page.goto(f"{deployed.url}/admin/health/findings/{finding.id}")
    page.click("button[data-fix=recreate_session]")
    question = page.locator("[role=alertdialog]")
    question.wait_for()
    text = question.inner_text()
    assert "Recreate Tom Tutor's Daily Session?" in text
    assert "1 online appointment today" in text
    assert DailySession.get().zoom_meeting_id == meeting.id  # nothing changed yet
    assert [m.id for m in zoom.meetings_of("licensed") if not m.deleted] == [meeting.id]
    assert Finding.get_by_id(finding.id).resolved_at is None
    admin.assert_clean()

    page.click("text=Cancel")
    page.wait_for_selector("[role=alertdialog]", state="detached")
    assert DailySession.get().zoom_meeting_id == meeting.id

    page.click("button[data-fix=recreate_session]")
    page.click("button[data-confirm=recreate_session]")
    page.wait_for_selector("text=Recreated Tom Tutor")
    new_id = DailySession.get().zoom_meeting_id
    assert new_id != meeting.id and zoom.meeting(meeting.id).deleted
    admin.assert_clean()


def test_a_waiting_students_tab_title_says_when_their_turn_comes(deployed, new_page, world):
    # Join reaches Tom through a Connect Link, so the student is truly told "ready".
    User.update(connect_link="https://meet.example.edu/tom").where(
        User.id == world["tutor_a"].id
    ).execute()
    student = new_page()
    page = student.page
    log_in(student, deployed.url, world["student_a"].email)
    page.goto(f"{deployed.url}/student/walk-in")
    page.click("button:has-text('Join virtual walk-in')")
    page.wait_for_selector(".walkin-waiting")
    assert page.title() == "Virtual walk-in · Virtual Meetings Portal"
    walkins.take(world["a"], world["tutor_a"])
    page.wait_for_selector(".walkin-ready", timeout=20000)
    page.wait_for_function("document.title === 'Your turn · Virtual Meetings'")
    student.assert_clean()
