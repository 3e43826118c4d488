"""The in-process transport (WSGIAdapter) and mounting the simulator inside a host app."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask_wtf.csrf import CSRFProtect
from requests_oauthlib import OAuth2Session
from zoom_sim_helpers import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, parse_form

from portal.zoom.simulator import ManualClock, register_simulator
from portal.zoom.transport import WSGIAdapter, mount_simulator

BASE = "http://zoom.sim.test"
BODY = {"topic": "Daily Session", "type": 2, "start_time": "2026-03-03T09:00:00Z"}


@pytest.fixture
def wsgi_session(sim_app):
    with requests.Session() as session:
        mount_simulator(session, BASE, sim_app)
        yield session


def test_oauth_and_api_through_the_adapter(sim_app, state, insecure_transport):
    oauth = OAuth2Session(CLIENT_ID, redirect_uri=REDIRECT_URI, pkce="S256")
    adapter = mount_simulator(oauth, BASE, sim_app)
    assert isinstance(adapter, WSGIAdapter)
    url, sent_state = oauth.authorization_url(f"{BASE}/oauth/authorize")
    page = oauth.get(url, timeout=5)
    assert page.status_code == 200 and page.reason == "OK"
    form = parse_form(page.text)
    approve = oauth.post(
        f"{BASE}/oauth/authorize",
        data={**form.hidden, "user_id": state.user("tutor1").id, "action": "approve"},
        allow_redirects=False,
        timeout=5,
    )
    assert approve.status_code == 302 and approve.reason == "FOUND"
    query = parse_qs(urlsplit(approve.headers["Location"]).query)
    assert query["state"] == [sent_state]
    token = oauth.fetch_token(
        f"{BASE}/oauth/token", code=query["code"][0], client_secret=CLIENT_SECRET, timeout=5
    )
    assert token["expires_in"] == 3599
    me = oauth.get(f"{BASE}/v2/users/me", timeout=5)
    assert me.json()["email"] == state.user("tutor1").email
    assert me.url == f"{BASE}/v2/users/me" and me.request.method == "GET"
    assert me.headers["x-zm-trackingid"] and me.elapsed.total_seconds() >= 0
    created = oauth.post(f"{BASE}/v2/users/me/meetings", json=BODY, timeout=5)
    assert created.status_code == 201 and created.reason == "CREATED"
    deleted = oauth.delete(f"{BASE}/v2/meetings/{created.json()['id']}", timeout=5)
    assert deleted.status_code == 204 and deleted.content == b""
    oauth.close()


def test_form_body_and_query_reach_the_app(wsgi_session, state):
    code = state.issue_code("licensed", REDIRECT_URI)
    response = wsgi_session.post(
        f"{BASE}/oauth/token?grant_type=authorization_code",
        data={"code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert response.status_code == 200 and response.json()["token_type"] == "bearer"


def test_dropped_connection_becomes_connection_error(wsgi_session, state):
    code = state.issue_code("licensed", REDIRECT_URI)
    token = wsgi_session.post(
        f"{BASE}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    ).json()
    state.drop_next_refresh("close")
    with pytest.raises(requests.exceptions.ConnectionError):
        wsgi_session.post(
            f"{BASE}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=5,
        )
    assert state.grants_of("licensed")[1].refresh_used  # rotated although nobody got the answer


def test_slow_app_beyond_read_timeout_raises(wsgi_session, state):
    state.set_latency(0.06)
    with pytest.raises(requests.exceptions.ReadTimeout):
        wsgi_session.get(f"{BASE}/v2/users/me", timeout=(1, 0.01))


def test_webhooks_after_response_are_delivered_before_send_returns(
    wsgi_session, state, receiver, sign_in
):
    access = sign_in()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    meeting = wsgi_session.post(
        f"{BASE}/v2/users/me/meetings", json=BODY, headers=headers, timeout=5
    ).json()
    wsgi_session.delete(f"{BASE}/v2/meetings/{meeting['id']}", headers=headers, timeout=5)
    assert [json.loads(r["body"])["event"] for r in receiver.requests] == ["meeting.deleted"]


def test_other_hosts_are_not_routed_to_the_app(wsgi_session):
    adapter = wsgi_session.get_adapter(f"{BASE}/v2/users/me")
    assert isinstance(adapter, WSGIAdapter)
    assert not isinstance(wsgi_session.get_adapter("http://elsewhere.test/"), WSGIAdapter)


# mounting inside a host app -------------------------------------------------------------------


def _host_app(**config):
    app = Flask("host_for_zoom_sim")
    defaults = {
        "SECRET_KEY": "x" * 32,
        "TESTING": True,
        "ZOOM_CLIENT_ID": "",
        "ZOOM_OAUTH_BASE_URL": "https://zoom.us",
        "ZOOM_API_BASE_URL": "https://api.zoom.us/v2",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "",
    }
    app.config.update({**defaults, **config})
    csrf = CSRFProtect(app)

    @app.post("/protected")
    def protected():
        return "ok"

    state = register_simulator(app, csrf)
    return app, state


def test_register_simulator_sets_config_and_mounts_at_zoom_sim():
    app, state = _host_app()
    assert app.extensions["zoom_sim"] is state
    cfg = app.config
    assert cfg["ZOOM_SIM_CLIENT_ID"] == "sim-client-id" == state.config.client_id
    assert cfg["ZOOM_SIM_CLIENT_SECRET"] == "sim-client-secret"
    assert cfg["ZOOM_SIM_BASE_URL"] == "http://127.0.0.1:5000/zoom-sim"
    assert cfg["ZOOM_OAUTH_BASE_URL"] == "http://127.0.0.1:5000/zoom-sim"
    assert cfg["ZOOM_API_BASE_URL"] == "http://127.0.0.1:5000/zoom-sim/v2"
    assert cfg["ZOOM_WEBHOOK_SECRET_TOKEN"] == state.config.webhook_secret
    assert state.config.webhook_url == "http://127.0.0.1:5000/webhooks/zoom"
    client = app.test_client()
    assert client.get("/zoom-sim/").status_code == 200
    assert client.post("/protected").status_code == 400  # CSRF still guards the host app
    code = state.issue_code("licensed", "http://localhost/zoom/callback")
    token = client.post(
        "/zoom-sim/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://localhost/zoom/callback",
        },
        auth=(state.config.client_id, state.config.client_secret),
    )
    assert token.status_code == 200  # exempt from CSRF
    me = client.get(
        "/zoom-sim/v2/users/me", headers={"Authorization": f"Bearer {token.json['access_token']}"}
    )
    assert me.json["email"] == state.user("licensed").email


def test_register_simulator_respects_explicit_settings():
    app, state = _host_app(
        ZOOM_CLIENT_SECRET="s3cret",
        ZOOM_SIM_CLIENT_ID="my-sim",
        ZOOM_REDIRECT_URI="https://portal.example/zoom/callback",
        ZOOM_API_BASE_URL="http://custom/v2",
        ZOOM_WEBHOOK_SECRET_TOKEN="portal-secret",
        ZOOM_SIM_BASE_URL="http://localhost:8000/zoom-sim/",
        ZOOM_SIM_OPTIONS={"plan": "free"},
        ZOOM_SIM_CLOCK=ManualClock(),
    )
    assert state.config.client_id == "my-sim" and state.config.client_secret == "s3cret"
    assert state.config.redirect_uris == ["https://portal.example/zoom/callback"]
    assert state.config.plan == "free" and state.config.webhook_secret == "portal-secret"
    assert app.config["ZOOM_API_BASE_URL"] == "http://custom/v2"
    assert app.config["ZOOM_OAUTH_BASE_URL"] == "http://localhost:8000/zoom-sim"
    assert state.config.webhook_url == "http://localhost:8000/webhooks/zoom"


def test_default_redirects_allow_request_host_and_loopback():
    _, state = _host_app()
    assert state.redirect_allowed("http://localhost:5000/zoom/callback")
    assert state.redirect_allowed("http://127.0.0.1:8123/zoom/callback")
    assert state.redirect_allowed("http://[::1]:5000/zoom/callback")
    assert state.redirect_allowed("https://portal.example/zoom/callback", "https://portal.example/")
    assert not state.redirect_allowed("https://evil.example/zoom/callback")
    assert not state.redirect_allowed("http://localhost:5000/zoom/callback/extra")


def test_the_bare_wsgi_app_serves_the_same_state_in_process():
    app, state = _host_app()
    with requests.Session() as session:
        mount_simulator(session, app.config["ZOOM_SIM_BASE_URL"], app.extensions["zoom_sim_wsgi"])
        code = state.issue_code("basic", "http://127.0.0.1:5000/zoom/callback")
        response = session.post(
            app.config["ZOOM_OAUTH_BASE_URL"] + "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": "http://127.0.0.1:5000/zoom/callback",
            },
            auth=(state.config.client_id, state.config.client_secret),
            timeout=5,
        )
        access = response.json()["access_token"]
        me = session.get(
            app.config["ZOOM_API_BASE_URL"] + "/users/me",
            headers={"Authorization": f"Bearer {access}"},
            timeout=5,
        )
        assert me.json()["type"] == 1


# meeting links of the mounted simulator ---------------------------------------------------------


def test_mounted_simulator_links_meetings_to_its_own_pages():
    app, state = _host_app()
    state.config.webhook_url = None  # record events, POST nothing to whatever runs on :5000
    base = "http://127.0.0.1:5000/zoom-sim"
    assert state.config.meeting_url_base == base
    meeting = state.create_daily_session("tutor1")
    data = state.meeting_json(meeting)
    assert data["join_url"] == f"{base}/j/{meeting.id}?pwd={meeting.encrypted_password}.1"
    assert data["start_url"].startswith(f"{base}/s/{meeting.id}?zak=")
    client = app.test_client()
    host = client.get(data["start_url"])
    assert host.status_code == 200 and "You are hosting Daily Session, meeting" in host.text
    assert client.get(data["join_url"]).status_code == 200
    zak = urlsplit(data["start_url"]).query.removeprefix("zak=")
    ended = client.post(f"/zoom-sim/s/{meeting.id}/end", data={"zak": zak})  # exempt from CSRF
    assert ended.status_code == 303 and meeting.status == "waiting"
    assert client.get("/zoom-sim/j/meeting").status_code == 404


@pytest.mark.parametrize(
    ("value", "real"), [(True, True), ("1", True), ("yes", True), ("0", False), ("", False)]
)
def test_zoom_sim_real_urls_keeps_zooms_shapes(value, real):
    _, state = _host_app(ZOOM_SIM_REAL_URLS=value)
    data = state.meeting_json(state.create_daily_session("basic"))
    expected = "https://us05web.zoom.us/" if real else "http://127.0.0.1:5000/zoom-sim/"
    assert data["join_url"].startswith(expected + "j/")
    assert data["start_url"].startswith(expected + "s/")


@pytest.fixture
def app_config(app_config):
    """The portal's test settings with the simulator mounted."""
    return {**app_config, "ZOOM_SIMULATOR": True, "ZOOM_CLIENT_ID": ""}


def test_meeting_pages_inside_the_portal(app):
    state = app.extensions["zoom_sim"]
    state.config.webhook_url = None
    meeting = state.create_meeting(
        state.user("tutor2"), {"topic": "Daily Session", "settings": {"waiting_room": True}}
    )
    data = state.meeting_json(meeting)
    client = app.test_client()
    host = client.get(data["start_url"])
    assert host.status_code == 200
    assert "script-src 'self'" in host.headers["Content-Security-Policy"]
    assert "<script" not in host.text and "style=" not in host.text
    wait = client.get(data["join_url"] + "&uname=Dee")
    assert "Please wait, the host will let you in soon" in wait.text
    assert client.get(f"/zoom-sim/s/{meeting.id}?zak=forged").status_code == 403
    zak = urlsplit(data["start_url"]).query.removeprefix("zak=")
    ended = client.post(f"/zoom-sim/s/{meeting.id}/end", data={"zak": zak})
    assert ended.status_code == 303
    assert [d.event for d in state.webhooks.deliveries] == [
        "meeting.started",
        "meeting.participant_joined_waiting_room",
        "meeting.ended",
    ]


def test_per_user_quota_429_carries_no_rate_limit_type_when_mounted():
    app, state = _host_app()
    client = app.test_client()
    code = state.issue_code("licensed", "http://localhost/zoom/callback")
    token = client.post(
        "/zoom-sim/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://localhost/zoom/callback",
        },
        auth=(state.config.client_id, state.config.client_secret),
    ).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    ok = client.get("/zoom-sim/v2/users/me", headers=headers)
    assert ok.headers["X-RateLimit-Type"] == "QPS"
    for _ in range(100):
        state.limiter.hit_user_quota(state.user("licensed").id, state.now(), 100, {})
    limited = client.post("/zoom-sim/v2/users/me/meetings", json=BODY, headers=headers)
    assert limited.status_code == 429 and limited.json["code"] == 429
    assert "X-RateLimit-Type" not in limited.headers
    assert "Retry-After" not in limited.headers
    assert limited.headers["X-RateLimit-Category"] == "Medium"


def test_per_user_quota_429_through_the_adapter(wsgi_session, state):
    code = state.issue_code("licensed", REDIRECT_URI)
    token = wsgi_session.post(
        f"{BASE}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    ).json()
    for _ in range(100):
        state.limiter.hit_user_quota(state.user("licensed").id, state.now(), 100, {})
    limited = wsgi_session.post(
        f"{BASE}/v2/users/me/meetings",
        json=BODY,
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert limited.status_code == 429
    assert "X-RateLimit-Type" not in limited.headers
