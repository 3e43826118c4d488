"""Preferences → Virtual Meetings appears only when a tutor's center enabled it."""

import pytest

from portal.models import Center

NOT_ENABLED = "your center's administrators haven't enabled Virtual Meetings yet"


def test_tutor_with_enabled_center_sees_select_meeting(login_as, client, world):
    login_as("tutor_a")
    html = client.get("/tutor/preferences").get_data(as_text=True)
    assert "Virtual Meetings" in html and "Select meeting" in html
    assert "Connect to Zoom Account" in html
    assert NOT_ENABLED not in html


def test_tutor_without_enabled_center_reads_the_sentence(login_as, client, world):
    login_as("tutor_b")
    html = client.get("/tutor/preferences").get_data(as_text=True)
    assert NOT_ENABLED in html
    assert "Select meeting" not in html


def test_switch_off_hides_the_panel(login_as, client, world):
    Center.update(virtual_meetings_enabled=False).where(Center.id == world["a"].id).execute()
    login_as("tutor_a")
    assert NOT_ENABLED in client.get("/tutor/preferences").get_data(as_text=True)


def test_account_menu_links_to_preferences(login_as, client, world):
    login_as("tutor_a")
    html = client.get("/home").get_data(as_text=True)
    assert 'href="/tutor/preferences">Preferences</a>' in html
    assert "Tom Tutor" in html


def test_panel_fragment_for_htmx_and_page_without(login_as, client, world):
    login_as("tutor_a")
    fragment = client.get("/tutor/virtual-meetings?choice=connect", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="vm-panel"') and "<html" not in html
    assert 'value="connect" selected' in html
    page = client.get("/tutor/preferences?choice=connect").get_data(as_text=True)
    assert "<html" in page and 'value="connect" selected' in page


@pytest.mark.parametrize("choice", ["<script>", "x" * 5000, "disconnect"])
def test_unknown_choice_is_ignored(login_as, client, world, choice):
    login_as("tutor_a")
    response = client.get("/tutor/virtual-meetings", query_string={"choice": choice})
    assert response.status_code == 200
    assert "selected>Choose" in response.get_data(as_text=True).replace('value="" ', "")


@pytest.mark.parametrize("who", ["student_a", "admin_a", "account_admin"])
def test_only_tutors_reach_tutor_pages(login_as, client, world, who):
    login_as(who)
    assert client.get("/tutor/preferences").status_code == 403
    assert client.get("/tutor/virtual-meetings", headers={"HX-Request": "true"}).status_code == 403


def test_help_page_explains_the_steps(login_as, client, world):
    login_as("tutor_a")
    html = client.get("/help/virtual-meetings").get_data(as_text=True)
    for words in ("Connect to Zoom Account", "Authorize", "Daily Session", "Start", "Connect Link"):
        assert words in html
