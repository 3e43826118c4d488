"""As deployed: connecting Zoom at another origin, Start, Join, and what breaks on the way.

Each test runs in the production-shaped world of conftest.py (gunicorn, a Zoom at its own
address, the job consumer) and checks the pages it visits for CSP violations.
"""

import datetime
import time

import pytest
from support import make_user

from e2e.browser import log_in, log_out
from portal.daily import format_meeting_number
from portal.models import Appointment, DailySession, ZoomConnection, utcnow

pytestmark = pytest.mark.browser


def authorize(watch, base, zoom, user_key):
    """Preferences → Select meeting → Connect to Zoom Account → Authorize → sign in at Zoom."""
    page = watch.page
    page.goto(f"{base}/tutor/preferences")
    page.select_option("select[name=choice]", "connect")
    page.click("text=Authorize")
    page.wait_for_url(f"{zoom.config.meeting_url_base}/oauth/authorize**")
    page.check(f"text={zoom.user(user_key).display_name}")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{base}/tutor/preferences")


def connected(new_page, deployed, tutor, user_key, **size):
    """A tutor's browser, logged in and connected to Zoom as user_key, showing today's number."""
    watch = new_page(**size)
    log_in(watch, deployed.url, tutor.email)
    authorize(watch, deployed.url, deployed.zoom, user_key)
    watch.page.wait_for_selector(".meeting-number")
    return watch


def book_now(world, tutor, student_key="student_a"):
    """An online appointment with the tutor that is open for Join right now."""
    start = utcnow() - datetime.timedelta(minutes=5)
    return Appointment.create(
        student=world[student_key],
        tutor=tutor,
        center=world["a"],
        kind="online",
        start_at=start,
        end_at=start + datetime.timedelta(hours=1),
    )


def student_joins(new_page, deployed, world, appointment, meeting_id):
    """A student presses Join and lands in that meeting at Zoom, named for the waiting room."""
    student = new_page()
    log_in(student, deployed.url, world["student_a"].email)
    student.page.click("text=My appointments")
    student.page.click(f"a[href='/join/appointment/{appointment.id}']")
    student.page.wait_for_url(f"{deployed.zoom_url}/j/{meeting_id}**")
    assert world["student_a"].name in student.page.inner_text("body")
    student.assert_clean()
    return student


def test_connect_start_join(deployed, new_page, world):
    zoom = deployed.zoom
    tutor = world["tutor_a"]
    watch = connected(new_page, deployed, tutor, "licensed")
    page = watch.page
    assert "is connected" in page.inner_text("#messages")
    (meeting,) = zoom.meetings_of("licensed")
    assert page.inner_text(".meeting-number") == format_meeting_number(meeting.id)
    watch.assert_clean()

    page.click("a:has-text('Start')")
    page.wait_for_url(f"{deployed.zoom_url}/s/{meeting.id}**")
    assert zoom.meeting(meeting.id).status == "started"

    student_joins(new_page, deployed, world, book_now(world, tutor), meeting.id)
    assert ZoomConnection.for_tutor(tutor).status == "active"
    assert DailySession.get(DailySession.tutor == tutor).zoom_meeting_id == meeting.id


def test_basic_refused_google_warned(deployed, new_page, world):
    watch = new_page()
    page = watch.page
    log_in(watch, deployed.url, world["tutor_a"].email)
    authorize(watch, deployed.url, deployed.zoom, "basic")
    alert = page.locator("#messages [role=alert]")
    assert "Free Zoom accounts aren't supported" in alert.inner_text()
    assert page.locator("#messages .notice").count() == 0  # an error, not a success
    assert ZoomConnection.for_tutor(world["tutor_a"]) is None
    assert page.locator("select[name=choice] option[value=connect]").count() == 1
    watch.assert_clean()

    authorize(watch, deployed.url, deployed.zoom, "google")
    warning = page.locator("#messages .warning")
    assert "signs in with Google" in warning.inner_text()
    page.wait_for_selector(".meeting-number")
    assert ZoomConnection.for_tutor(world["tutor_a"]).status == "active"
    watch.assert_clean()


def test_refused_duplicate_leaves_the_owner_working(deployed, new_page, world):
    zoom = deployed.zoom
    owner = world["tutor_a"]
    other = make_user("other.tutor@x.edu", "tutor", [world["a"]], name="Olive Other")
    first = new_page()
    log_in(first, deployed.url, owner.email)
    authorize(first, deployed.url, zoom, "licensed")
    first.page.wait_for_selector(".meeting-number")
    (meeting,) = zoom.meetings_of("licensed")

    second = new_page()
    log_in(second, deployed.url, other.email)
    authorize(second, deployed.url, zoom, "licensed")
    alert = second.page.locator("#messages [role=alert]").inner_text()
    assert "already connected to another tutor" in alert and owner.name not in alert
    assert ZoomConnection.for_tutor(other) is None
    second.assert_clean()

    zoom.expire_access_tokens("licensed")  # the owner's next call must refresh
    first.page.goto(f"{deployed.url}/tutor/preferences")
    first.page.click("a:has-text('Start')")
    first.page.wait_for_url(f"{deployed.zoom_url}/s/{meeting.id}**")
    first.assert_clean()
    assert ZoomConnection.for_tutor(owner).status == "active"
    student_joins(new_page, deployed, world, book_now(world, owner), meeting.id)


def test_reconnecting_another_account_the_same_day(deployed, new_page, world):
    zoom = deployed.zoom
    tutor = world["tutor_a"]
    watch = connected(new_page, deployed, tutor, "tutor1")
    page = watch.page
    (old,) = zoom.meetings_of("tutor1")

    page.select_option("select[name=choice]", "disconnect")
    page.click("button:has-text('Disconnect Zoom Account')")
    page.wait_for_selector("text=Your Zoom account is disconnected.")
    authorize(watch, deployed.url, zoom, "tutor2")
    page.wait_for_selector(".meeting-number")
    (new,) = zoom.meetings_of("tutor2")
    assert new.id != old.id
    assert page.inner_text(".meeting-number") == format_meeting_number(new.id)
    moved = page.locator("#messages .warning").inner_text()
    assert format_meeting_number(old.id) in moved and format_meeting_number(new.id) in moved
    page.click("a:has-text('Start')")
    page.wait_for_url(f"{deployed.zoom_url}/s/{new.id}**")
    watch.assert_clean()
    student = student_joins(new_page, deployed, world, book_now(world, tutor), new.id)
    student.page.goto(f"{deployed.url}/join/{tutor.id}")  # the stable link follows too
    student.page.wait_for_url(f"{deployed.zoom_url}/j/{new.id}**")


def test_start_after_the_meeting_vanished_at_zoom(deployed, new_page, world):
    zoom = deployed.zoom
    tutor = world["tutor_a"]
    watch = connected(new_page, deployed, tutor, "licensed")
    page = watch.page
    (gone,) = zoom.meetings_of("licensed")
    zoom.zoom_delete_meeting(gone.id, notify=False)  # behind the portal's back

    page.click("a:has-text('Start')")
    page.wait_for_url(f"{deployed.url}/tutor/preferences")
    (fresh,) = zoom.meetings_of("licensed")
    assert fresh.id != gone.id
    note = page.locator("#messages .warning").inner_text()
    assert format_meeting_number(gone.id) in note and format_meeting_number(fresh.id) in note
    assert page.inner_text(".meeting-number") == format_meeting_number(fresh.id)
    watch.assert_clean()
    student_joins(new_page, deployed, world, book_now(world, tutor), fresh.id)
    page.click("a:has-text('Start')")
    page.wait_for_url(f"{deployed.zoom_url}/s/{fresh.id}**")


def test_broken_connection_shows_the_one_button_that_fixes_it(deployed, new_page, world):
    zoom = deployed.zoom
    tutor = world["tutor_a"]
    watch = connected(new_page, deployed, tutor, "licensed", width=390, height=844)
    page = watch.page
    zoom.revoke_user_tokens("licensed")
    page.click("a:has-text('Start')")  # Zoom refuses the token: the portal learns it here
    page.wait_for_url(f"{deployed.url}/tutor/preferences")
    problem = page.locator("#vm-panel .problem[role=alert]")
    assert "stopped working" in problem.inner_text()
    assert "needs_reauth" not in page.content()
    assert page.locator(".meeting-number").count() == 0
    page.goto(f"{deployed.url}/tutor/setup?run=1")  # Check my setup agrees, in plain words
    assert page.locator("[data-check=connected]").count() == 1
    assert page.locator("[data-check=connected].ok").count() == 0
    assert "needs_reauth" not in page.content() and "Connect again" in page.inner_text("main")
    watch.assert_clean()
    page.goto(f"{deployed.url}/tutor/preferences")
    page.click("#vm-panel a:has-text('Connect again')")
    page.wait_for_url(f"{deployed.zoom_url}/oauth/authorize**")
    page.check(f"text={zoom.user('licensed').display_name}")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{deployed.url}/tutor/preferences")
    page.wait_for_selector(".meeting-number")
    assert ZoomConnection.for_tutor(tutor).status == "active"
    watch.assert_clean()
    log_out(watch)


def test_a_csp_violation_is_caught_even_after_navigating_away(deployed, new_page, world):
    """The guard behind every assert_clean(): the portal's CSP, enforced and reported."""
    watch = new_page()
    page = watch.page
    page.goto(f"{deployed.url}/login")
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.injected = 1'; document.body.appendChild(s); }"
    )
    assert page.evaluate("window.injected") is None  # inline code did not run
    page.goto(f"{deployed.url}/healthz")
    assert any("script-src" in v for v in watch.csp_violations())


def test_slow_zoom_gets_the_room_ready_without_stalling(deployed, new_page, world):
    """12 s of Zoom latency: Join shows "getting ready" within its budget, the job finishes."""
    zoom = deployed.zoom
    tutor = world["tutor_a"]
    watch = connected(new_page, deployed, tutor, "licensed")
    page = watch.page
    DailySession.delete().execute()  # as if the morning job had not run yet
    zoom.zoom_delete_meeting(zoom.meetings_of("licensed")[0].id, notify=False)
    appointment = book_now(world, tutor)
    zoom.set_latency(12)

    student = new_page()
    log_in(student, deployed.url, world["student_a"].email)
    started = time.monotonic()
    student.page.goto(f"{deployed.url}/join/appointment/{appointment.id}")
    print(f"\nJoin at 12 s Zoom latency answered in {time.monotonic() - started:.1f} s")
    assert "Getting your tutor's room ready" in student.page.inner_text("h1")
    student.assert_clean()
    row = DailySession.get(DailySession.tutor == tutor)
    assert row.status in ("failed", "pending")  # handed to the job, not stuck

    student.page.goto("about:blank")  # nobody refreshes: the job alone must finish it
    zoom.set_latency(0)  # Zoom recovers
    deadline = time.monotonic() + 90
    while DailySession.get(DailySession.tutor == tutor).status != "scheduled":
        assert time.monotonic() < deadline, "the job did not finish the Daily Session"
        time.sleep(0.5)
    (meeting,) = zoom.meetings_of("licensed")  # the unsure create was found, not repeated
    assert DailySession.get(DailySession.tutor == tutor).zoom_meeting_id == meeting.id
    student.page.goto(f"{deployed.url}/join/appointment/{appointment.id}")
    student.page.wait_for_url(f"{deployed.zoom_url}/j/{meeting.id}**")

    zoom.set_latency(12)  # Start answers within its budget too, and says what happened
    page.goto(f"{deployed.url}/tutor/preferences")
    started = time.monotonic()
    page.click("a:has-text('Start')")
    page.wait_for_url(f"{deployed.url}/tutor/preferences")
    print(f"Start at 12 s Zoom latency answered in {time.monotonic() - started:.1f} s")
    assert "Zoom did not answer" in page.locator("#messages [role=alert]").inner_text()
    zoom.set_latency(0)
    watch.assert_clean()
