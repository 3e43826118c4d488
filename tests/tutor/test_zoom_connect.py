"""Connect to Zoom through the simulator: the callback's checks, storage, refusals, disconnect."""

import pytest
from support.zoom import SIM_BASE, approve, connect_as, sim_state, simulator_config, start_connect

from portal.models import AuditEntry, ZoomConnection


@pytest.fixture
def app_config(app_config):
    return simulator_config(app_config)


def tokens_issued(app):
    return sum(1 for _ in sim_state(app).grants)


def test_connect_licensed_account_stores_encrypted_tokens(app, auth, client, login_as, world):
    tutor = login_as("tutor_a")
    response = connect_as(auth, client, app, "licensed")
    assert response.status_code == 303
    assert response.headers["Location"] == "/tutor/preferences"
    connection = ZoomConnection.for_tutor(tutor)
    zoom_user = sim_state(app).user("licensed")
    assert connection.zoom_user_id == zoom_user.id
    assert connection.email == "lena.licensed@example.com"
    assert connection.user_type == 2 and connection.login_types == [100]
    assert connection.status == "active" and connection.pmi == zoom_user.pmi
    grant = sim_state(app).grants[-1]
    for value in (connection.access_token_enc, connection.refresh_token_enc):
        assert value and grant.access_token not in value and grant.refresh_token not in value
    entry = AuditEntry.get(AuditEntry.action == "zoom.connect")
    assert entry.actor_id == tutor.id and entry.after["zoom_email"] == zoom_user.email
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert "is connected" in page and "Disconnect Zoom Account" in page
    assert "Connect to Zoom Account" not in page


def test_authorize_sends_state_and_s256_challenge(auth, login_as, world):
    login_as("tutor_a")
    first, second = start_connect(auth), start_connect(auth)
    from urllib.parse import parse_qs, urlsplit

    one, two = (parse_qs(urlsplit(u).query) for u in (first, second))
    assert one["state"] != two["state"] and len(one["state"][0]) >= 22
    assert one["code_challenge_method"] == ["S256"]
    assert one["redirect_uri"] == ["http://localhost/zoom/callback"]


def test_basic_account_is_refused_and_nothing_stored(app, auth, client, login_as, world):
    tutor = login_as("tutor_a")
    response = connect_as(auth, client, app, "basic")
    assert response.status_code == 303
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert "Free Zoom accounts aren&#39;t supported" in page
    assert ZoomConnection.select().count() == 0
    assert AuditEntry.get(AuditEntry.action == "zoom.connect_refused").after["reason"] == (
        "free_account"
    )
    # the grant we did not keep was given back
    assert not sim_state(app).grants_of("basic") or all(
        g.revoked for g in sim_state(app).grants_of("basic")
    )
    assert ZoomConnection.for_tutor(tutor) is None


@pytest.mark.parametrize("key, provider", [("google", "Google"), ("facebook", "Facebook")])
def test_social_login_connects_with_a_warning(app, auth, client, login_as, world, key, provider):
    tutor = login_as("tutor_a")
    connect_as(auth, client, app, key)
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert f"signs in with {provider}" in page and "e-mail and password" in page
    assert ZoomConnection.for_tutor(tutor).status == "active"


def test_account_linked_to_another_tutor_is_refused(app, auth, client, login_as, world):
    from support import make_user

    other = make_user("other.tutor@x.edu", "tutor", [world["a"]], name="Olive Other")
    login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    auth.logout()
    auth.as_user(other)
    connect_as(auth, client, app, "licensed")
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert "already connected to another tutor" in page
    assert "Tom Tutor" not in page  # the other tutor is not named to this tutor
    assert ZoomConnection.for_tutor(other) is None
    assert ZoomConnection.for_tutor(world["tutor_a"]).status == "active"


def test_refused_duplicate_keeps_the_owner_working(app, auth, client, login_as, world):
    """Zoom revoked the owner's tokens for the new grant (4741): the owner gets that grant."""
    from support import make_user

    from portal.health.checks import duplicate_authorization
    from portal.health.checks._common import Context
    from portal.models import utcnow
    from portal.zoom import ZoomClient
    from portal.zoom.wiring import gateway

    owner = world["tutor_a"]
    other = make_user("other.tutor@x.edu", "tutor", [world["a"]], name="Olive Other")
    login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    first = ZoomConnection.for_tutor(owner)
    auth.logout()
    auth.as_user(other)
    connect_as(auth, client, app, "licensed")
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert 'role="alert"' in page and "already connected to another tutor" in page
    assert "Tom Tutor" not in page

    kept = ZoomConnection.for_tutor(owner)
    assert kept.id == first.id and kept.status == "active" and kept.version == first.version + 1
    live = [g for g in sim_state(app).grants if not g.revoked]
    assert len(live) == 1  # the first pair was revoked by Zoom, the new one was not
    with ZoomClient(owner, gateway(app).settings, http=gateway(app).http()) as zoom:
        assert zoom.me()["email"] == "lena.licensed@example.com"
    sim_state(app).expire_access_tokens("licensed")
    with ZoomClient(owner, gateway(app).settings, http=gateway(app).http()) as zoom:
        assert zoom.me()["email"] == "lena.licensed@example.com"  # the refresh works too
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.id)]
    assert actions[-2:] == ["zoom.grant_kept", "zoom.connect_refused"]

    (seen,) = duplicate_authorization.run(Context(now=utcnow()))
    assert seen.tutor_id == other.id and seen.severity == "warning"
    assert "Olive Other tried to connect" in seen.detail and "Tom Tutor" in seen.detail


def test_callback_without_state_or_with_wrong_state_is_400(app, auth, client, login_as, world):
    login_as("tutor_a")
    before = tokens_issued(app)
    assert client.get("/zoom/callback?code=abc").status_code == 400
    start_connect(auth)
    assert client.get("/zoom/callback?code=abc&state=forged").status_code == 400
    assert tokens_issued(app) == before
    assert ZoomConnection.select().count() == 0


def test_replayed_callback_is_400(app, auth, client, login_as, world):
    login_as("tutor_a")
    callback = approve(client, app, start_connect(auth), "licensed")
    assert client.get(callback).status_code == 303
    assert client.get(callback).status_code == 400
    assert ZoomConnection.select().count() == 1


def test_callback_in_another_session_is_400(app, auth, client, login_as, world):
    login_as("tutor_a")
    callback = approve(client, app, start_connect(auth), "licensed")
    other_client = app.test_client()
    from support import Auth

    Auth(other_client).as_user(world["tutor_a"])
    assert other_client.get(callback).status_code == 400
    assert ZoomConnection.select().count() == 0


def test_cancelled_authorization_says_so(app, auth, client, login_as, world):
    login_as("tutor_a")
    callback = approve(client, app, start_connect(auth), "licensed", action="cancel")
    assert "error=access_denied" in callback
    response = client.get(callback)
    assert response.status_code == 303
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert "The Zoom authorization was cancelled" in page
    assert ZoomConnection.select().count() == 0


def test_connect_only_for_tutors_with_virtual_meetings(auth, client, login_as, world):
    login_as("tutor_b")  # Center B has Virtual Meetings off
    assert auth.post("/zoom/connect", token_path="/tutor/preferences").status_code == 404
    auth.logout()
    login_as("student_a")
    assert auth.post("/zoom/connect").status_code == 403
    assert client.get("/zoom/callback?code=x&state=y").status_code == 403


def test_disconnect_revokes_and_returns_to_connect(app, auth, client, login_as, world):
    tutor = login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    response = auth.post("/zoom/disconnect", token_path="/tutor/preferences")
    assert response.status_code == 303
    row = ZoomConnection.get()
    assert row.ended_at is not None and row.status == "revoked"
    assert row.access_token_enc is None and row.refresh_token_enc is None
    assert all(g.revoked for g in sim_state(app).grants_of("licensed"))
    assert ZoomConnection.for_tutor(tutor) is None
    page = client.get("/tutor/preferences").get_data(as_text=True)
    assert "Your Zoom account is disconnected." in page
    assert "Connect to Zoom Account" in page
    assert AuditEntry.get(AuditEntry.action == "zoom.disconnect").after == {"revoked_at_zoom": True}


def test_disconnect_when_zoom_fails_still_ends_locally(app, auth, client, login_as, world):
    tutor = login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    sim_state(app).fail_next(count=5, status=503, scope="oauth")
    response = auth.post("/zoom/disconnect", {}, htmx=True, token_path="/tutor/preferences")
    assert response.status_code == 200
    assert "Zoom could not be reached to confirm" in response.get_data(as_text=True)
    row = ZoomConnection.get()
    assert row.ended_at is not None and row.refresh_token_enc is None
    assert "revoke failed" in row.last_error
    assert ZoomConnection.for_tutor(tutor) is None


def test_simulator_is_not_mounted_with_real_credentials(database_url):
    from portal import create_app

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": database_url,
            "TOKEN_ENCRYPTION_KEYS": "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A=",
            "ZOOM_CLIENT_ID": "real-id",
            "ZOOM_CLIENT_SECRET": "real-secret",
            "ZOOM_REDIRECT_URI": "https://portal.example.edu/zoom/callback",
            "ZOOM_SIMULATOR": True,
        }
    )
    assert "zoom_sim" not in app.extensions
    assert app.test_client().get("/zoom-sim/").status_code == 404
    assert SIM_BASE not in app.config["ZOOM_OAUTH_BASE_URL"]


def test_rotate_keys_cli_reencrypts_under_the_new_key(app, auth, client, login_as, world, runner):
    from cryptography.fernet import Fernet

    from portal.zoom import ZoomClient
    from portal.zoom.wiring import gateway

    tutor = login_as("tutor_a")
    connect_as(auth, client, app, "licensed")
    old_key = app.config["TOKEN_ENCRYPTION_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["TOKEN_ENCRYPTION_KEYS"] = f"{new_key},{old_key}"
    result = runner.invoke(args=["portal", "rotate-keys"])
    assert result.exit_code == 0 and "Re-encrypted 1 Zoom connection(s)" in result.output
    app.config["TOKEN_ENCRYPTION_KEYS"] = new_key  # the old key is retired
    with ZoomClient(tutor, gateway(app).settings, http=gateway(app).http()) as zoom:
        assert zoom.me()["email"] == "lena.licensed@example.com"
