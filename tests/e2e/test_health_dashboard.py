"""In Chromium: an administrator finds and fixes two broken things from the Health page.

With the simulator: the tutor's meeting is deleted behind the portal's back and
their PMI is put in their Connect Link → Run health check now (a background
thread; the page polls its progress) → both findings appear → Clear Connect Link
and Recreate today's Daily Session → both findings are resolved.
"""

import pytest
from support.health import connect, health_config, sim_state, today_meeting

from e2e.browser import free_port, log_in
from portal.models import DailySession, User, ZoomConnection

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config):
    port = free_port()
    config = health_config(app_config, HEALTH_SCAN_RUNNER="thread")
    config["LIVE_PORT"] = port
    config["ZOOM_SIM_BASE_URL"] = f"http://127.0.0.1:{port}/zoom-sim"
    return config


def test_find_and_fix_a_deleted_session_and_a_stale_connect_link(app, live_server, new_page, world):
    tom = world["tutor_a"]
    connect(app, tom, "licensed")
    old_meeting = today_meeting(tom)
    pmi = ZoomConnection.get().pmi
    User.update(connect_link=f"https://zoom.us/j/{pmi}").where(User.id == tom.id).execute()
    sim_state(app).zoom_delete_meeting(old_meeting, notify=False)

    watch = new_page()
    page = watch.page
    log_in(watch, live_server, world["admin_a"].email)
    page.click("nav.mainnav >> text=Health")
    page.wait_for_url(f"{live_server}/admin/health")
    assert "No health check has run yet." in page.inner_text("#health-scan")

    page.click("button:has-text('Run health check now')")
    page.wait_for_selector("#health-findings tr[data-check=session_mismatch]", timeout=15000)
    page.wait_for_selector("#health-findings tr[data-check=stale_connect_link]")
    assert "Last health check:" in page.inner_text("#health-scan")
    cards = page.inner_text("#health-summary")
    assert "Daily Session differs in Zoom" in cards and "Zoom link left in Connect Link" in cards
    watch.assert_clean()

    page.click("tr[data-check=stale_connect_link] >> text=Zoom link left in Connect Link")
    assert "their own Personal Meeting ID" in page.inner_text("#finding-detail")
    page.click("button[data-fix=clear_connect_link]")
    page.wait_for_selector("text=Undo: put the Connect Link back")
    assert "Resolved" in page.inner_text("#finding-detail")
    assert User.get_by_id(tom.id).connect_link is None
    watch.assert_clean()

    page.goto(f"{live_server}/admin/health")
    page.click("tr[data-check=session_mismatch] >> text=Daily Session differs in Zoom")
    assert "no longer exists in Zoom" in page.inner_text("#finding-detail")
    page.click("button[data-fix=recreate_session]")
    page.click("button[data-confirm=recreate_session]")
    page.wait_for_selector("text=Recreated Tom Tutor")
    new_meeting = DailySession.get().zoom_meeting_id
    assert new_meeting != old_meeting and not sim_state(app).meeting(new_meeting).deleted
    assert "Resolved" in page.inner_text("#finding-detail")

    page.goto(f"{live_server}/admin/health")
    assert "No open findings" in page.inner_text("#health-findings")
    watch.assert_clean()
