"""As deployed, in Chromium: picking time zones from the list, and seeing times in two zones.

A student picks their own zone in Preferences and then sees each appointment in the
center's zone and in theirs; an account administrator who types "Eastern" for a new center
is told which zone that likely is, and picks one from the list.
"""

import datetime

import pytest

from e2e.browser import log_in
from portal.models import Appointment, Center, User

pytestmark = pytest.mark.browser


def test_a_student_picks_their_zone_and_sees_both(deployed, new_page, world):
    center, stu = world["a"], world["student_a"]
    day = center.today() + datetime.timedelta(days=2)
    start, _ = center.day_bounds(day)
    start += datetime.timedelta(hours=14)  # 14:00 in New York
    Appointment.create(
        student=stu,
        tutor=world["tutor_a"],
        center=center,
        kind="online",
        start_at=start,
        end_at=start + datetime.timedelta(minutes=30),
    )
    watch = new_page()
    page = watch.page
    log_in(watch, deployed.url, stu.email)
    page.goto(f"{deployed.url}/notifications/preferences")
    field = page.locator("#time-zone input[name=timezone]")
    assert field.get_attribute("list") == "zone-names"
    assert page.locator("datalist#zone-names option").count() > 300
    field.fill("Europe/Berlin")
    page.click("#time-zone button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Europe/Berlin" in page.inner_text("#messages")
    assert User.get_by_id(stu.id).timezone == "Europe/Berlin"
    watch.assert_clean()

    page.goto(f"{deployed.url}/student/")
    row = page.inner_text("table")
    assert "2:00 – 2:30 PM EST" in row or "2:00 – 2:30 PM EDT" in row
    assert "8:00 – 8:30 PM CET for you" in row or "8:00 – 8:30 PM CEST for you" in row
    watch.assert_clean()


def test_a_new_center_zone_is_picked_from_the_list_after_a_hint(deployed, new_page, world):
    watch = new_page()
    page = watch.page
    log_in(watch, deployed.url, world["account_admin"].email)
    page.goto(f"{deployed.url}/admin/centers/new")
    page.fill("input[name=name]", "Science Center")
    page.fill("input[name=timezone]", "Eastern")
    page.click("button:has-text('Create center')")
    page.wait_for_load_state("networkidle")
    alert = page.inner_text("[role=alert]")
    assert "Did you mean America/New_York?" in alert
    assert not Center.select().where(Center.name == "Science Center").exists()
    # the refusal is a 400 page (Chromium logs its status); nothing else went wrong
    assert watch.csp_violations() == []
    assert watch.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"
    ]
    watch.console_errors.clear()

    page.fill("input[name=timezone]", "America/Chicago")
    page.click("button:has-text('Create center')")
    page.wait_for_load_state("networkidle")
    assert Center.get(Center.name == "Science Center").timezone == "America/Chicago"
    assert "America/Chicago (C" in page.inner_text("main")  # "America/Chicago (CST)"
    watch.assert_clean()
