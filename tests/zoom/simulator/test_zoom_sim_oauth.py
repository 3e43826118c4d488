"""OAuth against the simulator over real HTTP: authorize page, code exchange, refresh, revoke."""

from urllib.parse import parse_qs, urlsplit

import pytest
from oauthlib.oauth2 import InvalidClientError, InvalidGrantError
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session
from zoom_sim_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    TIMEOUT,
    parse_form,
    token_request,
)


def _authorize_page(http, live, **params):
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI}
    query.update(params)
    return http.get(f"{live}/oauth/authorize", params=query, timeout=TIMEOUT)


def _approve(http, live, page_html, user_id=None, action="approve"):
    form = parse_form(page_html)
    data = dict(form.hidden, action=action)
    data["user_id"] = form.radios[0] if user_id is None else user_id  # the checked radio
    response = http.post(
        f"{live}/oauth/authorize", data=data, allow_redirects=False, timeout=TIMEOUT
    )
    return response, form


def _query(location):
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_full_dance_with_requests_oauthlib_pkce_and_basic_auth(
    live, http, state, insecure_transport
):
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, pkce="S256")
    url, sent_state = oauth.authorization_url(f"{live}/oauth/authorize")
    page = http.get(url, timeout=TIMEOUT)
    assert page.status_code == 200
    assert "Virtual Meetings Portal" in page.text and REDIRECT_URI in page.text
    assert "<script" not in page.text and "style=" not in page.text
    basic = state.user("basic")
    response, form = _approve(http, live, page.text, user_id=basic.id)
    assert form.hidden["code_challenge_method"] == "S256"
    assert {"approve", "cancel"} <= set(form.buttons) and basic.id in form.radios
    assert response.status_code == 302
    params = _query(response.headers["Location"])
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    assert params["state"] == sent_state

    token = oauth.fetch_token(
        f"{live}/oauth/token", code=params["code"], client_secret=CLIENT_SECRET, timeout=TIMEOUT
    )
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3599
    assert token["scope"] == ["meeting:read", "meeting:write", "user:read"]
    me = oauth.get(f"{live}/v2/users/me", timeout=TIMEOUT).json()
    assert me["id"] == basic.id and me["type"] == 1
    oauth.close()


def test_token_body_is_exactly_zooms(live, http, sign_in):
    token = sign_in("licensed")
    assert set(token) == {"access_token", "token_type", "refresh_token", "expires_in", "scope"}
    assert token["token_type"] == "bearer" and token["expires_in"] == 3599
    assert token["scope"] == "meeting:read meeting:write user:read"


def test_params_in_query_string_are_accepted(live, http, state):
    code = state.issue_code("licensed", REDIRECT_URI)
    response = http.post(
        f"{live}/oauth/token",
        params={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=TIMEOUT,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"


def test_wrong_pkce_verifier_is_invalid_grant(live, http, state, insecure_transport):
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, pkce="S256")
    url, _ = oauth.authorization_url(f"{live}/oauth/authorize")
    response, _ = _approve(http, live, http.get(url, timeout=TIMEOUT).text)
    code = _query(response.headers["Location"])["code"]
    reply = token_request(
        http,
        live,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": "not-the-verifier-" + "x" * 40,
        },
    )
    assert reply.status_code == 400
    assert reply.json() == {"reason": "Invalid code_verifier", "error": "invalid_grant"}
    oauth.close()


def test_missing_verifier_when_challenge_was_sent(live, http, state):
    code = state.issue_code("licensed", REDIRECT_URI, "abc" * 15, "S256")
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    assert token_request(http, live, data).json()["error"] == "invalid_grant"


def test_code_is_single_use(live, http, state):
    code = state.issue_code("licensed", REDIRECT_URI)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    assert token_request(http, live, data).status_code == 200
    again = token_request(http, live, data)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_code_expires_after_five_minutes(live, http, state, clock):
    code = state.issue_code("licensed", REDIRECT_URI)
    clock.advance(seconds=301)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    reply = token_request(http, live, data)
    assert reply.status_code == 400
    assert reply.json() == {"reason": "Code is expired", "error": "invalid_grant"}


def test_redirect_uri_must_equal_the_authorize_one(live, http, state):
    code = state.issue_code("licensed", REDIRECT_URI)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI + "/"}
    reply = token_request(http, live, data)
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "auth",
    [None, (CLIENT_ID, "wrong"), ("someone-else", CLIENT_SECRET)],
    ids=["missing", "bad-secret", "bad-id"],
)
def test_bad_client_auth_is_invalid_client(live, http, state, auth):
    code = state.issue_code("licensed", REDIRECT_URI)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    reply = token_request(http, live, data, auth=auth)
    assert reply.status_code == 400
    assert reply.json() == {
        "reason": "Invalid client_id or client_secret",
        "error": "invalid_client",
    }


def test_missing_and_unknown_grant_type(live, http):
    assert token_request(http, live, {}).json()["error"] == "invalid_request"
    reply = token_request(http, live, {"grant_type": "password"})
    assert reply.status_code == 400 and reply.json()["error"] == "unsupported_grant_type"


def test_oauthlib_raises_typed_errors(live, http, state, insecure_transport):
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI)
    with pytest.raises(InvalidClientError):
        oauth.fetch_token(f"{live}/oauth/token", code="x", client_secret="nope", timeout=TIMEOUT)
    with pytest.raises(InvalidGrantError):
        oauth.fetch_token(
            f"{live}/oauth/token", code="x", client_secret=CLIENT_SECRET, timeout=TIMEOUT
        )
    oauth.close()


@pytest.mark.parametrize(
    "params, text",
    [
        ({"client_id": "unknown"}, "Invalid client_id"),
        ({"redirect_uri": "https://evil.test/zoom/callback"}, "allow list"),
        ({"response_type": "token"}, "response_type"),
        ({"code_challenge": "abc", "code_challenge_method": "S512"}, "code_challenge_method"),
    ],
)
def test_authorize_errors_show_a_page_not_a_redirect(live, http, params, text):
    response = _authorize_page(http, live, **params)
    assert response.status_code == 400
    assert text in response.text and "Location" not in response.headers


def test_cancel_redirects_with_access_denied(live, http):
    page = _authorize_page(http, live, state="s-123")
    response, _ = _approve(http, live, page.text, action="cancel")
    assert response.status_code == 302
    assert _query(response.headers["Location"]) == {"error": "access_denied", "state": "s-123"}


def test_approving_without_choosing_a_user_shows_the_page_again(live, http):
    page = _authorize_page(http, live)
    response, _ = _approve(http, live, page.text, user_id="")
    assert response.status_code == 400 and "Choose the Zoom user" in response.text


def test_authorize_page_allows_the_redirect_origin_as_form_action(live, http):
    page = _authorize_page(http, live)
    assert "form-action 'self' http://portal.test" in page.headers["Content-Security-Policy"]


def test_refresh_rotates_and_old_refresh_token_is_dead(live, http, sign_in, api):
    first = sign_in()
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = token_request(http, live, data)
    assert second.status_code == 200
    fresh = second.json()
    assert fresh["refresh_token"] != first["refresh_token"]
    assert fresh["access_token"] != first["access_token"]
    assert fresh["expires_in"] == 3599
    reuse = token_request(http, live, data)
    assert reuse.status_code == 400
    assert reuse.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    assert api("GET", "/users/me", fresh["access_token"]).status_code == 200
    newer = {"grant_type": "refresh_token", "refresh_token": fresh["refresh_token"]}
    assert token_request(http, live, newer).status_code == 200


def test_requests_oauthlib_refresh_with_basic_auth(live, sign_in, insecure_transport):
    token = sign_in()
    oauth = OAuth2Session(CLIENT_ID, token=token)
    fresh = oauth.refresh_token(
        f"{live}/oauth/token",
        refresh_token=token["refresh_token"],
        auth=HTTPBasicAuth(CLIENT_ID, CLIENT_SECRET),
        timeout=TIMEOUT,
    )
    assert fresh["refresh_token"] != token["refresh_token"] and fresh["expires_in"] == 3599
    with pytest.raises(InvalidGrantError):
        oauth.refresh_token(
            f"{live}/oauth/token",
            refresh_token=token["refresh_token"],
            auth=HTTPBasicAuth(CLIENT_ID, CLIENT_SECRET),
            timeout=TIMEOUT,
        )
    oauth.close()


def test_refresh_token_expires(live, http, sign_in, clock):
    token = sign_in()
    clock.advance(days=91)
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert token_request(http, live, data).json()["error"] == "invalid_grant"


def test_reauthorization_revokes_the_earlier_pair(live, http, sign_in, api):
    earlier = sign_in("licensed")
    later = sign_in("licensed")
    assert api("GET", "/users/me", earlier["access_token"]).json()["code"] == 124
    data = {"grant_type": "refresh_token", "refresh_token": earlier["refresh_token"]}
    assert token_request(http, live, data).json()["error"] == "invalid_grant"
    assert api("GET", "/users/me", later["access_token"]).status_code == 200


def test_other_users_authorization_leaves_mine_alone(live, sign_in, api):
    mine = sign_in("licensed")
    sign_in("google")
    assert api("GET", "/users/me", mine["access_token"]).status_code == 200


@pytest.mark.parametrize("where", ["form", "query"])
def test_revoke_kills_the_pair(live, http, sign_in, api, where):
    token = sign_in()
    kwargs = {"data" if where == "form" else "params": {"token": token["access_token"]}}
    reply = http.post(
        f"{live}/oauth/revoke", auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT, **kwargs
    )
    assert reply.status_code == 200 and reply.json() == {"status": "success"}
    assert api("GET", "/users/me", token["access_token"]).status_code == 401
    data = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    assert token_request(http, live, data).json()["error"] == "invalid_grant"


def test_revoke_needs_client_auth_and_a_token(live, http, sign_in):
    token = sign_in()
    bad = http.post(f"{live}/oauth/revoke", data={"token": token["access_token"]}, timeout=TIMEOUT)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
    empty = http.post(f"{live}/oauth/revoke", auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT)
    assert empty.status_code == 400 and empty.json()["error"] == "invalid_request"
