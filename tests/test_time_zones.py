"""Choosing a time zone: a center's (the New center page and the CLI) from a searchable
list, with a hint for "Eastern"; a student's or tutor's own, in Preferences."""

import html

import pytest

from portal.models import Center, User


def test_the_new_center_page_offers_a_searchable_list_of_zones(auth, login_as):
    login_as("account_admin")
    page = auth.get("/admin/centers/new").get_data(as_text=True)
    assert 'name="timezone"' in page and 'list="zone-names"' in page
    assert '<datalist id="zone-names">' in page
    for zone in ("America/New_York", "America/Chicago", "Europe/Berlin", "UTC"):
        assert f'<option value="{zone}">' in page


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("Eastern", "America/New_York"),
        ("EST", "America/New_York"),
        ("Pacific", "America/Los_Angeles"),
        ("Central", "America/Chicago"),
        ("Mountain", "America/Denver"),
        ("utc", "UTC"),
    ],
)
def test_a_wrong_center_zone_is_refused_with_the_likely_one(auth, login_as, typed, hint):
    login_as("account_admin")
    before = Center.select().count()
    response = auth.post("/admin/centers/new", {"name": "Science", "timezone": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"Did you mean {hint}?" in page and 'class="error"' in page
    assert f'value="{typed}"' in page  # what was typed stays in the field to correct
    assert Center.select().count() == before


def test_an_unknown_zone_without_a_likely_one_says_what_to_do(auth, login_as):
    login_as("account_admin")
    response = auth.post("/admin/centers/new", {"name": "Science", "timezone": "Mars/Base"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Did you mean" not in page
    assert "Choose a name from the list, like America/Chicago." in page


def test_the_cli_gives_the_same_hint(runner, app):
    result = runner.invoke(args=["portal", "create-center", "Science", "--timezone", "Eastern"])
    assert result.exit_code == 1 and "Did you mean America/New_York?" in result.output
    assert not Center.select().where(Center.name == "Science").exists()
    ok = runner.invoke(args=["portal", "create-center", "Science", "--timezone", "America/Denver"])
    assert ok.exit_code == 0 and Center.get(Center.name == "Science").timezone == "America/Denver"


@pytest.mark.parametrize(
    ("who", "page"),
    [("student_a", "/notifications/preferences"), ("tutor_a", "/tutor/preferences")],
)
def test_students_and_tutors_choose_their_own_zone(auth, login_as, world, who, page):
    user = login_as(who)
    form = auth.get(page).get_data(as_text=True)
    assert 'action="/preferences/time-zone"' in form and 'list="zone-names"' in form

    response = auth.post("/preferences/time-zone", {"timezone": "Europe/Berlin"}, token_path=page)
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert User.get_by_id(user.id).timezone == "Europe/Berlin"
    after = auth.get(page).get_data(as_text=True)
    assert "also shown in your time zone, Europe/Berlin" in after  # the flash
    assert 'value="Europe/Berlin"' in after and "Europe/Berlin (CE" in after

    blank = auth.post("/preferences/time-zone", {"timezone": ""}, token_path=page)
    assert blank.status_code == 303 and User.get_by_id(user.id).timezone is None
    assert "center's time zone only" in html.unescape(auth.get(page).get_data(as_text=True))


@pytest.mark.parametrize(
    ("who", "page"),
    [("student_a", "/notifications/preferences"), ("tutor_a", "/tutor/preferences")],
)
def test_a_wrong_own_zone_is_refused_and_changes_nothing(auth, login_as, world, who, page):
    user = login_as(who)
    User.update(timezone="Asia/Tokyo").where(User.id == user.id).execute()
    response = auth.post("/preferences/time-zone", {"timezone": "Pacific"}, token_path=page)
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Did you mean America/Los_Angeles?" in text and "Your time zone is unchanged." in text
    assert 'value="Pacific"' in text and "<h1>Preferences</h1>" in text
    assert User.get_by_id(user.id).timezone == "Asia/Tokyo"


def test_choosing_a_zone_needs_the_csrf_token_and_the_role(auth, client, login_as, world):
    stu = login_as("student_a")
    no_token = client.post("/preferences/time-zone", data={"timezone": "Europe/Berlin"})
    assert no_token.status_code == 400 and User.get_by_id(stu.id).timezone is None
    auth.logout()
    admin = login_as("admin_a")
    refused = auth.post("/preferences/time-zone", {"timezone": "Europe/Berlin"})
    assert refused.status_code == 403 and User.get_by_id(admin.id).timezone is None


def test_an_admin_changes_an_existing_centers_zone_from_the_list(login_as, auth, client, world):
    from portal.models import AuditEntry, Center

    login_as("admin_a")
    center = world["a"]
    page = client.get(f"/admin/centers/{center.id}").get_data(as_text=True)
    assert 'name="timezone" value="America/New_York"' in page and 'list="zone-names"' in page
    data = {"opens_at": "09:00", "closes_at": "17:00", "waiting_room_limit_minutes": "5"}
    data.update(waiting_room_default="1", allow_connect_links="1")  # as they are
    refused = auth.post(f"/admin/centers/{center.id}/settings", {**data, "timezone": "Eastern"})
    assert refused.status_code == 400 and "America/New_York" in refused.get_data(as_text=True)
    assert Center.get_by_id(center.id).timezone == "America/New_York"
    assert AuditEntry.select().count() == 0
    saved = auth.post(
        f"/admin/centers/{center.id}/settings", {**data, "timezone": "America/Chicago"}
    )
    assert saved.status_code in (200, 303)
    assert Center.get_by_id(center.id).timezone == "America/Chicago"
    entry = AuditEntry.get(AuditEntry.action == "center.settings")
    assert (entry.before, entry.after) == (
        {"timezone": "America/New_York"},
        {"timezone": "America/Chicago"},
    )
    history = client.get(f"/admin/centers/{center.id}/history").get_data(as_text=True)
    assert "Time zone" in history and "America/Chicago" in history
