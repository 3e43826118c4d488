"""Fixtures for the Zoom simulator's own tests: a standalone simulator on a live server thread,
a frozen clock, an HTTP session, a webhook receiver that checks signatures, and helpers that do
the OAuth dance over real HTTP."""

import pytest
import requests
from zoom_sim_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    START,
    TIMEOUT,
    WEBHOOK_SECRET,
    Receiver,
    build_receiver_app,
    token_request,
)

from portal.zoom.simulator import ManualClock, create_sim_app, run_live


@pytest.fixture
def clock():
    return ManualClock(START)


@pytest.fixture
def sim_options():
    """Override per test module/test with extra `SimConfig` fields."""
    return {}


@pytest.fixture
def sim_app(clock, sim_options):
    options = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT_URI],
        "webhook_secret": WEBHOOK_SECRET,
        **sim_options,
    }
    app = create_sim_app(clock=clock, **options)
    yield app
    app.extensions["zoom_sim"].close()


@pytest.fixture
def state(sim_app):
    return sim_app.extensions["zoom_sim"]


@pytest.fixture
def live(sim_app):
    with run_live(sim_app) as base_url:
        yield base_url


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def insecure_transport(monkeypatch):
    """requests-oauthlib refuses http:// token URLs without this (ZOOM_API.md §1.9)."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def sign_in(live, http, state):
    """Return `sign_in(user_key) -> token dict` doing authorize (Python hook) + HTTP exchange."""

    def sign_in(user="licensed"):
        code = state.issue_code(user, REDIRECT_URI)
        response = token_request(
            http,
            live,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        )
        assert response.status_code == 200, response.text
        return response.json()

    return sign_in


@pytest.fixture
def api(live, http):
    """Return `api(method, path, token, **kwargs) -> Response` against `/v2`."""

    def call(method, path, token, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return http.request(method, f"{live}/v2{path}", headers=headers, timeout=TIMEOUT, **kwargs)

    return call


@pytest.fixture
def receiver(state):
    """A live webhook endpoint that verifies signatures; wired into the simulator's config."""
    hooks = Receiver(WEBHOOK_SECRET)
    with run_live(build_receiver_app(hooks)) as base_url:
        state.config.webhook_url = f"{base_url}/webhooks/zoom"
        yield hooks
