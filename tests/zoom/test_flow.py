"""Connect, refresh, rotation, revocation and 124 handling against the simulator over HTTP."""

import base64
import hashlib

import pytest

from portal.models import ZoomConnection
from portal.zoom import (
    OAuthDenied,
    OAuthInvalidGrant,
    OAuthStateError,
    ZoomAuthError,
    ZoomClient,
    ZoomConfigError,
    ZoomNotConnected,
    ZoomReauthRequired,
    finish_authorization,
    retry_pending_revocations,
    revoke,
    start_authorization,
)
from portal.zoom.oauth import STORE_KEY

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    approve,
    connect,
    expire,
    make_settings,
    query_of,
    reload,
    stored_tokens,
)


def basic(client_id=CLIENT_ID, secret=CLIENT_SECRET):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# --- connect ---------------------------------------------------------------------------------


def test_connect_end_to_end(zoom, http, tutor):
    user = zoom.new_user()
    conn, token, args, pending = connect(zoom, http, tutor, user)
    assert zoom.recorder.token_calls() == 1
    call = zoom.recorder.last("POST", "/oauth/token")
    # Basic client auth, and nothing of the client in the body.
    assert call.authorization == basic()
    assert "client_id" not in call.form and "client_secret" not in call.form
    assert call.form["grant_type"] == "authorization_code"
    assert call.form["code"] == args["code"]
    assert call.form["redirect_uri"] == REDIRECT_URI
    # PKCE: the verifier sent is the one whose S256 challenge went to /authorize.
    verifier = call.form["code_verifier"]
    assert verifier == pending["verifier"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    authorize = zoom.recorder.last("GET", "/oauth/authorize")
    assert authorize.query["code_challenge"] == challenge.rstrip(b"=").decode()
    assert authorize.query["redirect_uri"] == REDIRECT_URI
    # What was stored is what Zoom issued, and it works.
    grant = zoom.latest_grant(user)
    assert token["access_token"] == grant.access_token
    assert stored_tokens(conn, zoom.settings) == (grant.access_token, grant.refresh_token)
    row = reload(conn)
    assert row.status == "active" and row.email == f"{user}@example.com"
    assert row.user_type == 2 and row.login_types == [100] and row.pmi
    assert row.scopes == "meeting:read meeting:write user:read"
    assert ZoomClient(tutor, zoom.settings, http=http).me()["id"] == row.zoom_user_id


def test_replayed_callback_is_refused_without_token_call(zoom, http, tutor):
    store = {}
    url = start_authorization(store, zoom.settings)
    args = approve(zoom, http, url, zoom.new_user())
    finish_authorization(args, store, zoom.settings, http=http)
    assert zoom.recorder.token_calls() == 1
    with pytest.raises(OAuthStateError):
        finish_authorization(args, store, zoom.settings, http=http)
    assert zoom.recorder.token_calls() == 1


@pytest.mark.parametrize("case", ["missing", "mismatch", "other_session"])
def test_bad_state_makes_no_token_call(zoom, http, case):
    store, other = {}, {}
    url = start_authorization(store, zoom.settings)
    start_authorization(other, zoom.settings)
    args = approve(zoom, http, url, zoom.new_user())
    if case == "missing":
        args.pop("state")
    elif case == "mismatch":
        args["state"] = args["state"][::-1]
    with pytest.raises(OAuthStateError):
        finish_authorization(args, other if case == "other_session" else store, zoom.settings, http)
    assert zoom.recorder.token_calls() == 0


def test_access_denied_on_zoom(zoom, http):
    store = {}
    url = start_authorization(store, zoom.settings)
    args = approve(zoom, http, url, zoom.new_user(), action="cancel")
    assert args["error"] == "access_denied"
    with pytest.raises(OAuthDenied):
        finish_authorization(args, store, zoom.settings, http=http)
    assert zoom.recorder.token_calls() == 0


def test_wrong_pkce_verifier_is_rejected_by_zoom(zoom, http):
    store = {}
    url = start_authorization(store, zoom.settings)
    store[STORE_KEY]["verifier"] = "x" * 64
    args = approve(zoom, http, url, zoom.new_user())
    with pytest.raises(OAuthInvalidGrant) as info:
        finish_authorization(args, store, zoom.settings, http=http)
    assert info.value.reason == "Invalid code_verifier"


def test_wrong_client_secret_is_a_config_error(zoom, http):
    settings = make_settings(zoom.url, client_secret="wrong")
    store = {}
    url = start_authorization(store, settings)
    args = approve(zoom, http, url, zoom.new_user())
    with pytest.raises(ZoomConfigError) as info:
        finish_authorization(args, store, settings, http=http)
    assert info.value.error == "invalid_client"


def test_redirect_uri_is_the_configured_constant(zoom, http):
    store = {}
    url = start_authorization(store, zoom.settings)
    assert query_of(url)["redirect_uri"] == REDIRECT_URI
    args = approve(zoom, http, url, zoom.new_user())
    finish_authorization(args, store, zoom.settings, http=http)
    assert zoom.recorder.last("POST", "/oauth/token").form["redirect_uri"] == REDIRECT_URI


# --- refresh and rotation --------------------------------------------------------------------


def test_expiring_token_is_refreshed_once_and_rotated(zoom, http, tutor):
    user = zoom.new_user()
    conn, token, _, _ = connect(zoom, http, tutor, user)
    client = ZoomClient(tutor, zoom.settings, http=http)
    for round_ in range(1, 4):
        zoom.recorder.clear()
        expire(conn)
        client.me()
        assert zoom.recorder.token_calls() == 1
        call = zoom.recorder.last("POST", "/oauth/token")
        assert call.authorization == basic()
        assert call.form == {
            "grant_type": "refresh_token",
            "refresh_token": call.form["refresh_token"],
        }
        grant = zoom.latest_grant(user)
        assert stored_tokens(conn, zoom.settings) == (grant.access_token, grant.refresh_token)
        assert reload(conn).version == round_
    assert token["refresh_token"] not in stored_tokens(conn, zoom.settings)
    zoom.recorder.clear()
    client.me()  # fresh now: no refresh
    assert zoom.recorder.token_calls() == 0


def test_refresh_token_reused_elsewhere_needs_reauth_and_stops_calls(zoom, http, tutor):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    _, refresh = stored_tokens(conn, zoom.settings)
    zoom.state.refresh(refresh)  # someone else used our refresh token: it is dead now
    expire(conn)
    zoom.recorder.clear()
    client = ZoomClient(tutor, zoom.settings, http=http)
    with pytest.raises(ZoomReauthRequired):
        client.me()
    row = reload(conn)
    assert row.status == "needs_reauth"
    assert "invalid_grant" in row.last_error and "Invalid Token!" in row.last_error
    assert zoom.recorder.token_calls() == 1
    zoom.recorder.clear()
    for call in (client.me, client.list_meetings, lambda: client.get_meeting(12345678901)):
        with pytest.raises(ZoomReauthRequired):
            call()
    assert zoom.recorder.calls == []


@pytest.mark.parametrize("mode", ["500", "close"])
def test_lost_refresh_answer_needs_reauth(zoom, http, tutor, mode):
    conn, _, _, _ = connect(zoom, http, tutor)
    zoom.state.drop_next_refresh(mode)
    expire(conn)
    # A dropped answer surfaces as a read timeout over a kept-alive socket: keep it short.
    quick = make_settings(zoom.url, timeout=(3.05, 0.5))
    with pytest.raises(ZoomReauthRequired):
        ZoomClient(conn, quick, http=http).me()
    row = reload(conn)
    assert row.status == "needs_reauth" and "lost" in row.last_error
    assert row.lease_owner is None


def test_invalid_client_on_refresh_does_not_mark_the_tutor(zoom, http, tutor):
    conn, _, _, _ = connect(zoom, http, tutor)
    expire(conn)
    wrong = make_settings(zoom.url, client_secret="rotated-by-admin")
    with pytest.raises(ZoomConfigError):
        ZoomClient(conn, wrong, http=http).me()
    row = reload(conn)
    assert row.status == "active" and row.lease_owner is None and row.lease_until is None
    ZoomClient(conn, zoom.settings, http=http).me()  # fixed config: works again
    assert reload(conn).version == 1


def test_401_124_refreshes_once_and_retries(zoom, http, tutor):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    zoom.state.expire_access_tokens(user)  # Zoom says expired; our row says fresh
    zoom.recorder.clear()
    assert ZoomClient(tutor, zoom.settings, http=http).me()["email"] == f"{user}@example.com"
    assert zoom.recorder.token_calls() == 1
    assert zoom.recorder.count("GET", "/v2/users/me") == 2
    assert reload(conn).version == 1


@pytest.mark.parametrize("by", ["connection", "tutor"])
def test_second_124_after_refresh_means_revoked(zoom, http, tutor, by):
    conn, _, _, _ = connect(zoom, http, tutor)
    zoom.recorder.clear()
    body = {"code": 124, "message": "Invalid access token."}
    zoom.recorder.add("GET", "/v2/users/me", 401, body, times=2)
    client = ZoomClient(conn if by == "connection" else tutor, zoom.settings, http=http)
    with pytest.raises(ZoomReauthRequired):
        client.me()
    assert zoom.recorder.token_calls() == 1
    assert zoom.recorder.count("GET", "/v2/") == 2
    assert reload(conn).status == "needs_reauth"
    with pytest.raises(ZoomReauthRequired):
        client.me()
    assert zoom.recorder.count("GET", "/v2/") == 2


def test_revoked_in_zoom_then_refresh_fails(zoom, http, tutor):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    zoom.state.revoke_user_tokens(user)
    with pytest.raises(ZoomReauthRequired):
        ZoomClient(conn, zoom.settings, http=http).me()
    assert reload(conn).status == "needs_reauth"
    assert zoom.recorder.token_calls() == 2  # the connect, then one refused refresh


def test_bare_token_401_is_an_auth_error(zoom, http):
    from portal.zoom import fetch_profile

    with pytest.raises(ZoomAuthError) as info:
        fetch_profile("not-a-token", zoom.settings, http)
    assert info.value.code == 124


# --- revoke ----------------------------------------------------------------------------------


def test_revoke_disconnects_and_wipes(zoom, http, tutor):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    access, _ = stored_tokens(conn, zoom.settings)
    zoom.recorder.clear()
    assert revoke(conn, zoom.settings, http) is True
    call = zoom.recorder.last("POST", "/oauth/revoke")
    assert call.authorization == basic() and call.form == {"token": access}
    assert zoom.latest_grant(user).revoked
    row = reload(conn)
    assert row.status == "revoked" and row.ended_at is not None and not row.revoke_pending
    assert row.access_token_enc is None and row.refresh_token_enc is None
    zoom.recorder.clear()
    with pytest.raises(ZoomNotConnected):
        ZoomClient(tutor, zoom.settings, http=http).me()
    with pytest.raises(ZoomReauthRequired):
        ZoomClient(conn, zoom.settings, http=http).me()
    assert zoom.recorder.calls == []


def test_revoke_failure_is_recorded_and_retried(zoom, http, tutor):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    zoom.state.fail_next(1, 503, scope="oauth")
    assert revoke(conn, zoom.settings, http) is False
    row = reload(conn)
    assert row.status == "revoked" and row.revoke_pending and "503" in row.last_error
    assert row.refresh_token_enc is None and row.access_token_enc
    with pytest.raises(ZoomReauthRequired):
        ZoomClient(conn, zoom.settings, http=http).me()
    assert not zoom.latest_grant(user).revoked
    done, pending = retry_pending_revocations(zoom.settings, http)
    assert done >= 1 and zoom.latest_grant(user).revoked
    row = reload(conn)
    assert not row.revoke_pending and row.access_token_enc is None


def test_revoke_refreshes_an_expiring_token_first(zoom, http, tutor):
    user = zoom.new_user()
    conn, _, _, _ = connect(zoom, http, tutor, user)
    expire(conn)
    zoom.recorder.clear()
    assert revoke(conn, zoom.settings, http) is True
    assert zoom.recorder.token_calls() == 1
    assert zoom.latest_grant(user).revoked


def test_reconnect_to_another_zoom_user_revokes_the_old_one_later(zoom, http, tutor):
    first_user, second_user = zoom.new_user(), zoom.new_user()
    first, _, _, _ = connect(zoom, http, tutor, first_user)
    second, _, _, _ = connect(zoom, http, tutor, second_user)
    assert reload(first).revoke_pending
    retry_pending_revocations(zoom.settings, http)
    assert zoom.latest_grant(first_user).revoked
    assert not zoom.latest_grant(second_user).revoked
    assert ZoomConnection.for_tutor(tutor).id == second.id
    assert ZoomClient(tutor, zoom.settings, http=http).me()["email"].startswith(second_user)
