"""In Chromium: the admin's live board and the tutor's panel follow Zoom's webhooks.

The simulator is mounted in the live server and sends its signed events over
real HTTP to that server's /webhooks/zoom; the pages only poll (htmx, every 5 s).
"""

import pytest
from support.webhooks import connect_tutor, todays_session
from support.zoom import sim_state, simulator_config

from e2e.browser import free_port, log_in, log_out

pytestmark = pytest.mark.browser

POLL_WAIT_MS = 12_000  # two polling rounds and then some


@pytest.fixture
def app_config(app_config):
    port = free_port()
    config = simulator_config(app_config)
    config["LIVE_PORT"] = port
    config["ZOOM_SIM_BASE_URL"] = f"http://127.0.0.1:{port}/zoom-sim"
    config["ZOOM_SIM_OPTIONS"] = {"webhook_url": f"http://127.0.0.1:{port}/webhooks/zoom"}
    config["HUEY_IMMEDIATE"] = True
    return config


@pytest.fixture
def meeting(app, world):
    """Tom's Daily Session, held by the simulator's licensed user."""
    state = sim_state(app)
    meeting = state.create_daily_session("licensed")
    connect_tutor(world["tutor_a"], zoom_user_id=meeting.host_id)
    todays_session(world["tutor_a"], world["a"], meeting_id=meeting.id, host_id=meeting.host_id)
    return meeting


def test_live_board_follows_start_and_waiting_room(app, live_server, new_page, world, meeting):
    state = sim_state(app)
    watch = new_page()
    page = watch.page
    log_in(watch, live_server, world["admin_a"].email)
    page.click("text=Live board")
    page.wait_for_url(f"{live_server}/live/")
    row = page.locator(".live-row")
    assert "Tom Tutor" in row.inner_text() and "Not started" in row.inner_text()

    state.start_meeting(meeting.id)  # Zoom → POST /webhooks/zoom on the live server
    page.wait_for_selector(".live-row .live-status:has-text('Live')", timeout=POLL_WAIT_MS)
    state.participant_waiting(meeting.id, "Stu Student")
    page.wait_for_selector(".live-row .live-waiting:has-text('1 waiting')", timeout=POLL_WAIT_MS)
    assert "Stu Student" in page.inner_text(".live-row .live-waiting")
    assert page.url == f"{live_server}/live/"  # updated in place, never reloaded
    watch.assert_clean()

    log_out(watch)
    log_in(watch, live_server, world["tutor_a"].email)
    page.goto(f"{live_server}/tutor/preferences")
    page.wait_for_selector("text=1 student waiting — admit them in Zoom")
    state.participant_waiting(meeting.id, "Sue Second")
    page.wait_for_selector(
        "#live-status:has-text('2 students waiting — admit them in Zoom')", timeout=POLL_WAIT_MS
    )
    watch.assert_clean()
