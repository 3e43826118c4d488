"""Check my setup never contradicts itself, speaks plain words, and names the fixing button."""

import html as htmllib
import re

import pytest
from support.zoom import connect_as, sim_state, simulator_config

from portal import readiness
from portal.models import ZoomConnection
from portal.zoom.simulator.tokens import GRANULAR_SCOPES

ROW = re.compile(r'class="check-row (ok|bad|unknown)" data-check="(\w+)"')
RAW_STATUSES = ("needs_reauth", "deauthorized", "(revoked)", "(error)", "(ended)")
NO_DELETE = tuple(s for s in GRANULAR_SCOPES if s != "meeting:delete:meeting")


@pytest.fixture
def app_config(app_config):
    return simulator_config(app_config)


@pytest.fixture
def tom(app, auth, client, login_as):
    """Tom Tutor logged in; connect() links him to the simulator's licensed user."""
    tutor = login_as("tutor_a")

    def connect(granted=None):
        if granted is not None:
            config = sim_state(app).config
            config.scope_mode, config.scopes = "granular", granted
        connect_as(auth, client, app, "licensed")
        response = auth.post("/tutor/daily-session", {}, htmx=True, token_path="/tutor/preferences")
        assert response.status_code == 200
        return tutor

    return connect


def setup_rows(client):
    """Run Check my setup (htmx): (the rows' text, {key: ok|bad|unknown})."""
    response = client.get("/tutor/setup?run=1", headers={"HX-Request": "true"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    return htmllib.unescape(text), {key: state for state, key in ROW.findall(text)}


def row_text(text, key):
    start = text.index(f'data-check="{key}"')
    return text[start : text.index("</li>", start)]


def assert_consistent(text, states):
    """No ✓ connected beside a Zoom refusal; no raw status string anywhere."""
    if states.get("token") == "bad":
        assert states["connected"] == "bad", text
    if states.get("connected") == "ok":
        assert "no longer accepts" not in text and "refuses" not in text, text
    for raw in RAW_STATUSES:
        assert raw not in text, raw


def test_zoom_refusing_the_token_turns_connected_red_too(app, client, tom):
    tom()
    sim_state(app).revoke_user_tokens("licensed", notify=False)
    text, states = setup_rows(client)
    assert_consistent(text, states)
    assert states["connected"] == "bad" and states["token"] == "bad"
    assert "Zoom no longer accepts the portal's authorization" in row_text(text, "connected")
    assert "What to do: Press “Connect again”" in row_text(text, "connected")
    for key in ("licensed", "login", "permissions", "session"):
        assert states[key] == "unknown", key  # could not be asked: grey, with the reason
        assert "Not checked: Zoom refuses the portal's authorization" in row_text(text, key)
    assert "Could not check: Zoom did not answer" not in text  # Zoom answered: it said no


def test_after_the_refusal_the_stored_status_reads_in_plain_words(app, client, tom):
    tutor = tom()
    sim_state(app).revoke_user_tokens("licensed", notify=False)
    setup_rows(client)
    assert ZoomConnection.for_tutor(tutor).status == "needs_reauth"
    text, states = setup_rows(client)  # now from the stored status, no Zoom call
    assert_consistent(text, states)
    assert states["connected"] == "bad" and states["token"] == "bad"
    assert "stopped working: Zoom stopped accepting the portal's authorization." in text
    assert states["session"] == "unknown" and "until you connect again" in row_text(text, "session")


@pytest.mark.parametrize("status", ["needs_reauth", "deauthorized", "revoked", "error"])
def test_every_broken_status_is_in_plain_words(app, client, tom, status):
    tutor = tom()
    ZoomConnection.update(status=status).where(ZoomConnection.tutor == tutor.id).execute()
    text, states = setup_rows(client)
    assert_consistent(text, states)
    assert readiness.status_words(status) in row_text(text, "connected")
    assert "Press “Connect again”" in row_text(text, "connected")
    assert states["connected"] == "bad"
    assert all(states[k] == "unknown" for k in ("licensed", "login", "permissions", "session"))


def test_all_permissions_are_a_green_row(client, tom):
    tom()
    text, states = setup_rows(client)
    assert states["permissions"] == "ok" and set(states.values()) == {"ok"}, text
    assert_consistent(text, states)


def test_token_without_delete_scope_shows_a_red_permissions_row(app, client, tom):
    tom(NO_DELETE)
    text, states = setup_rows(client)
    assert states["permissions"] == "bad", text
    row = row_text(text, "permissions")
    assert "The portal's Zoom app isn't allowed to delete meetings (meeting:delete:meeting)." in row
    assert "still creates the Daily Session and sends students to it" in row
    assert "whoever manages the portal's Zoom app in the Zoom App Marketplace" in row
    assert "then press “Connect again”" in row
    assert [k for k, v in states.items() if v != "ok"] == ["permissions"]  # the rest works


def test_a_live_4711_shows_the_scopes_zoom_named(app, client, tom):
    tom()
    (grant,) = [g for g in sim_state(app).grants_of("licensed") if not g.revoked]
    grant.scopes = tuple(s for s in grant.scopes if s != "meeting:read")  # removed in Zoom since
    text, states = setup_rows(client)
    assert states["permissions"] == "bad" and states["session"] == "unknown", text
    row = row_text(text, "permissions")
    assert "Zoom just answered that the authorization lacks meeting:read" in row
    assert "Zoom App Marketplace" in row
    assert "Not checked: the portal isn't allowed to read meeting" in row_text(text, "session")
    assert states["token"] == "ok" and states["connected"] == "ok"  # the token itself works
    assert_consistent(text, states)


def test_admin_sees_the_same_permissions_row(app, auth, client, tom, login_as, world):
    tom(NO_DELETE)
    auth.logout()
    login_as("admin_a")
    response = auth.get(f"/admin/health/tutors/{world['tutor_a'].id}?run=1", htmx=True)
    text = htmllib.unescape(response.get_data(as_text=True))
    assert 'class="check-row bad" data-check="permissions"' in text
    assert "delete meetings (meeting:delete:meeting)" in text


def test_not_connected_names_the_buttons(client, login_as):
    login_as("tutor_a")
    text, states = setup_rows(client)
    assert states["connected"] == "bad"
    assert "choose “Connect to Zoom Account”, then press “Authorize”" in text


def test_no_session_names_create_todays_session(app, auth, client, login_as):
    login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    text, states = setup_rows(client)
    assert states["session"] == "bad"
    assert "Press “Create today's session”" in row_text(text, "session")
