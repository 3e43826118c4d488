"""As deployed, on a phone (390 x 844) and on a desktop (1200 px): every audience's pages fit.

On each page: the document is no wider than the viewport (no sideways scroll), every action
(links, buttons, the account menu's summary, form fields) lies inside the viewport and is the
element a press at its centre lands on, and every table either stacks into labelled rows (phone)
or keeps its table layout (desktop). The account menu opens inside the viewport and Log out
works. A failure names the page and the element.
"""

import datetime
import pathlib

import pytest
from support import make_user

from e2e.browser import log_in
from e2e.deployed.test_connect import authorize
from portal import walkins
from portal.health import findings
from portal.models import Appointment, DailySession, JoinEvent, OutboxMessage, utcnow

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}
POLL_WAIT_MS = 15_000  # a webhook's way through the portal and two polling rounds

# The audit run in each page (a plain script beside this file).
AUDIT = (pathlib.Path(__file__).parent / "fit_audit.js").read_text()


def audit(page, root="body", phone=True):
    return page.evaluate(AUDIT, [root, phone])


def visit(watch, base, who, pages, size):
    """Open each (name, path, expected selectors) page; return the problems, page named."""
    page, phone = watch.page, size["width"] < 720
    problems = []
    for name, path, expected in pages:
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        where = f"{who} · {name} ({path}) at {size['width']} px"
        for selector in expected:
            if page.locator(selector).count() == 0:
                problems.append(f"{where}: nothing matches {selector!r}")
        problems += [f"{where}: {problem}" for problem in audit(page, phone=phone)]
    return problems


def account_menu_and_log_out(watch, base, who, size):
    """Open the account menu: it and its items lie inside the viewport; Log out works."""
    page = watch.page
    where = f"{who} · the account menu at {size['width']} px"
    page.click(".account-menu summary")
    menu = page.locator(".account-menu .menu")
    menu.wait_for(state="visible")
    box = menu.bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    problems = []
    if box["x"] < 0 or box["x"] + box["width"] > width:
        problems.append(
            f"{where}: opens at x {round(box['x'])}..{round(box['x'] + box['width'])}, "
            f"outside the {width} px viewport"
        )
    for item in ("Help", "Log out"):
        if menu.get_by_text(item, exact=True).count() != 1:
            problems.append(f"{where}: no {item!r}")
    problems += [f"{where}: {problem}" for problem in audit(page, ".account-menu .menu")]
    menu.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{base}/login")
    assert page.locator("input[name=password]").count() == 1, f"{where}: Log out did not log out"
    return problems


def check_audience(new_page, deployed, who, email, pages, before=None):
    """The audience's pages on a phone, then on a desktop; fails with every problem found."""
    problems = []
    for size in (PHONE, DESKTOP):
        watch = new_page(**size)
        log_in(watch, deployed.url, email)
        if before is not None:
            before(watch)
        problems += visit(watch, deployed.url, who, pages, size)
        problems += account_menu_and_log_out(watch, deployed.url, who, size)
        watch.assert_clean()
    assert not problems, "\n".join(problems)


def appointment_now(world, student, minutes_ago=5, **fields):
    start = utcnow() - datetime.timedelta(minutes=minutes_ago)
    fields.setdefault("kind", "online")
    return Appointment.create(
        student=student,
        tutor=world["tutor_a"],
        center=world["a"],
        start_at=start,
        end_at=start + datetime.timedelta(hours=1),
        **fields,
    )


def test_student_pages_fit_a_phone(deployed, new_page, world):
    now = appointment_now(world, world["student_a"])
    appointment_now(world, world["student_a"], minutes_ago=-60 * 24 * 2)  # in two days
    pages = [
        (
            "appointments",
            "/student/",
            ["a.button:text-is('Join')", "button:text-is('Cancel')", "[data-label='Tutor']"],
        ),
        ("book", "/student/book", ["form button[type=submit]"]),
        ("walk-in", "/student/walk-in", ["button:has-text('Join virtual walk-in')"]),
        ("an appointment", f"/student/appointments/{now.id}", ["a.button:text-is('Join')"]),
    ]
    check_audience(new_page, deployed, "student", world["student_a"].email, pages)


def test_tutor_pages_fit_a_phone(deployed, new_page, world):
    tutor = world["tutor_a"]
    appointment_now(world, world["student_a"])
    waiting = make_user("walk.in@x.edu", "student", [world["a"]], name="Wanda Walk-In")
    walkins.join_queue(waiting, world["a"])
    JoinEvent.create(
        student=world["student_a"],
        tutor=tutor,
        center=world["a"],
        destination=JoinEvent.CONNECT_LINK,
        reason="connect_link",
        device_id="d" * 22,
    )
    connected = set()

    def connect_once(watch):
        if not connected:  # the phone's visit connects Zoom; the desktop finds it connected
            authorize(watch, deployed.url, deployed.zoom, "licensed")
            watch.page.wait_for_selector(".meeting-number")
            connected.add(True)

    pages = [
        (
            "Today",
            "/tutor/today",
            ["button:text-is('Take next student')", "button:text-is('Take')", ".join-events"],
        ),
        ("Appointments", "/home", ["button:text-is('Cancel')"]),
        ("Meetings", "/tutor/meetings", ["a.button:text-is('Start')"]),
        ("Check my setup", "/tutor/setup?run=1", ["[data-check=connected].ok"]),
        ("Preferences", "/tutor/preferences", ["a:text-is('Start')", ".meeting-number"]),
    ]
    check_audience(new_page, deployed, "tutor", tutor.email, pages, before=connect_once)


def test_admin_pages_fit_a_phone(deployed, new_page, world):
    a, tutor, student = world["a"], world["tutor_a"], world["student_a"]
    tutor_browser = new_page()
    log_in(tutor_browser, deployed.url, tutor.email)
    authorize(tutor_browser, deployed.url, deployed.zoom, "licensed")
    tutor_browser.page.wait_for_selector(".meeting-number")
    session = DailySession.get(DailySession.tutor == tutor)
    deployed.zoom.start_meeting(session.zoom_meeting_id)
    deployed.zoom.participant_waiting(session.zoom_meeting_id, student.name)

    appointment_now(world, student)
    walkins.join_queue(make_user("walk.in@x.edu", "student", [a], name="Wanda Walk-In"), a)
    JoinEvent.create(
        student=student,
        tutor=tutor,
        center=a,
        destination=JoinEvent.DAILY_SESSION,
        meeting_id=session.zoom_meeting_id,
        reason="session_known",
        device_id="d" * 22,
    )
    finding = findings.open_finding(
        "connection_broken",
        f"connection_broken:{tutor.id}",
        "critical",
        a,
        tutor,
        f"{tutor.name}'s Zoom connection stopped working: students who press Join are sent "
        "nowhere until they connect again.",
        {"status": "needs_reauth"},
    )
    for status, attempts, error in (
        ("failed", 8, "550 5.1.1 mailbox unavailable"),
        ("queued", 2, "421 4.3.0 try again later"),
    ):
        OutboxMessage.create(
            key=f"phones-{status}",
            kind="confirmation",
            recipient=student,
            center=a,
            status=status,
            attempts=attempts,
            last_error=error,
            next_attempt_at=utcnow() + datetime.timedelta(days=1),
        )

    def live_board_caught_up(watch):
        watch.page.goto(f"{deployed.url}/live/")
        watch.page.wait_for_selector(
            ".live-row .live-waiting:has-text('1 waiting')", timeout=POLL_WAIT_MS
        )

    center = f"/admin/centers/{a.id}"
    pages = [
        ("Centers", "/admin/centers", ["td a:text-is('Settings')", "td a:text-is('Users')"]),
        ("center settings", center, [".switch", "form button[type=submit]"]),
        ("center users", f"{center}/users", ["a:text-is('Edit')", "button:text-is('Add user')"]),
        ("Health", "/admin/health", [f"[data-finding='{finding.id}'] td.detail"]),
        ("a finding", f"/admin/health/findings/{finding.id}", [".fixes button"]),
        ("Live board", "/live/", [".live-waiting:has-text('1 waiting')", "a.button"]),
        ("Today", f"{center}/day", ["button:text-is('Assign')", ".join-events"]),
        ("Joins", f"{center}/joins", [".join-events"]),
        ("E-mail", "/admin/mail/", ["button:text-is('Retry')", "button:text-is('Retry now')"]),
    ]
    check_audience(
        new_page, deployed, "center admin", world["admin_a"].email, pages, live_board_caught_up
    )


def test_account_admin_pages_fit_a_phone(deployed, new_page, world):
    pages = [
        ("Centers", "/admin/centers", ["a.button:text-is('New center')", "td a:text-is('Users')"]),
        ("New center", "/admin/centers/new", ["form button[type=submit]"]),
        ("center users", f"/admin/centers/{world['b'].id}/users", ["button:text-is('Add user')"]),
    ]
    check_audience(new_page, deployed, "account admin", world["account_admin"].email, pages)
