"""In Chromium: the tutor's whole journey with the Zoom simulator.

Select → Authorize → the simulator's sign-in page → back → today's Daily Session
number equals the simulator's meeting → Start lands on the simulator's host page
→ Disconnect.
"""

import pytest
from support.zoom import sim_state, simulator_config

from e2e.browser import free_port, log_in
from portal.daily import format_meeting_number

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config(app_config):
    port = free_port()
    config = simulator_config(app_config)
    config["LIVE_PORT"] = port
    config["ZOOM_SIM_BASE_URL"] = f"http://127.0.0.1:{port}/zoom-sim"
    return config


def test_connect_start_disconnect(app, live_server, new_page, world):
    watch = new_page()
    page = watch.page
    log_in(watch, live_server, world["tutor_a"].email)
    page.click("summary")
    page.click("text=Preferences")
    page.select_option("select[name=choice]", "connect")
    page.click("a:has-text('Authorize')")
    page.wait_for_url("**/zoom-sim/oauth/authorize**")
    assert "Sign in to Zoom" in page.inner_text("h1")
    page.check("text=Lena Licensed")
    page.click("button:has-text('Authorize')")
    page.wait_for_url(f"{live_server}/tutor/preferences")
    page.wait_for_selector(".meeting-number")
    (meeting,) = sim_state(app).meetings_of("licensed")
    shown = page.inner_text(".meeting-number")
    assert shown == format_meeting_number(meeting.id)
    assert "is connected" in page.inner_text("#messages")
    watch.assert_clean()

    page.click("a:has-text('Start')")
    page.wait_for_url(f"**/zoom-sim/s/{meeting.id}**")
    assert format_meeting_number(meeting.id) in page.inner_text("body")
    assert sim_state(app).meeting(meeting.id).status == "started"

    page.goto(f"{live_server}/tutor/preferences")
    page.select_option("select[name=choice]", "disconnect")
    page.click("button:has-text('Disconnect Zoom Account')")
    page.wait_for_selector("text=Your Zoom account is disconnected.")
    assert page.locator("select[name=choice] option[value=connect]").count() == 1
    watch.assert_clean()
