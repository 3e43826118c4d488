"""In Chromium: an admin switches Virtual Meetings on; the tutor finds it in Preferences."""

import pytest

from e2e.browser import log_in, log_out

pytestmark = pytest.mark.browser


def test_admin_switch_controls_the_tutors_virtual_meetings(live_server, new_page, world):
    center_b = world["b"]  # Virtual Meetings off, Tia Tutor's center
    admin = new_page()
    log_in(admin, live_server, world["admin_b"].email)
    admin.page.goto(f"{live_server}/admin/centers/{center_b.id}")
    switch = admin.page.locator("#vm-switch button[role=switch]")
    assert switch.get_attribute("aria-checked") == "false"
    switch.click()  # an htmx POST that swaps the switch in place
    admin.page.wait_for_selector('#vm-switch button[aria-checked="true"]')
    admin.page.wait_for_selector("#audit-history >> text=Virtual Meetings")
    assert "virtual_meetings_enabled" not in admin.page.inner_text("#audit-history")
    assert "Virtual Meetings is on for Center B." in admin.page.inner_text("#vm-switch")
    assert "/admin/centers/" in admin.page.url  # no full navigation happened
    admin.assert_clean()

    tutor = new_page()
    log_in(tutor, live_server, world["tutor_b"].email)
    tutor.page.click("summary")
    tutor.page.click("text=Preferences")
    tutor.page.wait_for_selector("#vm-panel")
    assert tutor.page.locator("#vm-panel h2").inner_text() == "Virtual Meetings"
    tutor.page.select_option("select[name=choice]", "connect")
    tutor.page.wait_for_selector("#vm-panel option[value=connect][selected]", state="attached")
    tutor.assert_clean()

    admin.page.locator("#vm-switch button[role=switch]").click()
    question = admin.page.locator("#vm-switch [role=alertdialog]")
    assert "No online appointments are booked from now on" in question.inner_text()
    tutor.page.reload()
    assert tutor.page.locator("#vm-panel h2").inner_text() == "Virtual Meetings"  # still on
    admin.page.click("#vm-switch button:has-text('Switch Virtual Meetings off')")
    admin.page.wait_for_selector('#vm-switch button[aria-checked="false"]')
    tutor.page.reload()
    assert "haven't enabled Virtual Meetings yet" in tutor.page.inner_text("#vm-panel")
    tutor.assert_clean()
    admin.assert_clean()


def test_login_page_and_narrow_window_have_no_csp_violations(live_server, new_page, world):
    watch = new_page(width=380, height=800)
    log_in(watch, live_server, world["admin_a"].email)
    watch.page.goto(f"{live_server}/admin/centers/{world['a'].id}/users")
    assert watch.page.is_visible("text=Tom Tutor")
    # the page fits the narrow window: no horizontal scroll of the document
    width = watch.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 380 + 1
    watch.assert_clean()
    log_out(watch)
    assert "/login" in watch.page.url
