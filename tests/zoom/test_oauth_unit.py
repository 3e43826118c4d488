"""The authorization request and the callback checks that happen before any HTTP call."""

import base64
import hashlib
import os
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.zoom import (
    OAuthDenied,
    OAuthError,
    OAuthStateError,
    ZoomConfigError,
    finish_authorization,
    start_authorization,
)
from portal.zoom.oauth import STORE_KEY

from .helpers import CLIENT_ID, REDIRECT_URI, make_settings


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_authorize_url_has_state_pkce_and_exact_redirect(settings):
    store = {}
    url = start_authorization(store, settings)
    q = query(url)
    assert url.startswith(settings.oauth_base_url + "/oauth/authorize?")
    assert q["response_type"] == "code"
    assert q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == REDIRECT_URI
    assert q["code_challenge_method"] == "S256"
    assert "scope" not in q
    pending = store[STORE_KEY]
    assert q["state"] == pending["state"]
    assert len(pending["state"]) >= 43  # 32 random bytes
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    assert q["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(pending["verifier"]) <= 128
    assert pending["verifier"] not in url


def test_each_start_gets_a_new_state(settings):
    first, second = {}, {}
    start_authorization(first, settings)
    start_authorization(second, settings)
    assert first[STORE_KEY]["state"] != second[STORE_KEY]["state"]
    assert first[STORE_KEY]["verifier"] != second[STORE_KEY]["verifier"]


def test_insecure_transport_is_only_set_during_the_call(settings, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    start_authorization({}, settings)
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_plain_http_to_a_non_loopback_host_is_refused():
    settings = make_settings("http://zoom.example.org")
    with pytest.raises(ZoomConfigError):
        start_authorization({}, settings)


def test_https_urls_never_need_the_insecure_flag(monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    settings = make_settings("https://zoom.us")
    url = start_authorization({}, settings)
    assert url.startswith("https://zoom.us/oauth/authorize?")


def test_missing_stored_state_is_refused_without_http(settings, no_network):
    with pytest.raises(OAuthStateError):
        finish_authorization({"code": "c", "state": "s"}, {}, settings, http=no_network)
    assert no_network.recorder.requests == []


def test_mismatched_state_is_refused_and_consumed(settings, no_network):
    store = {}
    start_authorization(store, settings)
    state = store[STORE_KEY]["state"]
    with pytest.raises(OAuthStateError):
        finish_authorization({"code": "c", "state": state + "x"}, store, settings, http=no_network)
    assert STORE_KEY not in store  # one-time even when it failed
    with pytest.raises(OAuthStateError):
        finish_authorization({"code": "c", "state": state}, store, settings, http=no_network)
    assert no_network.recorder.requests == []


def test_callback_without_state_is_refused(settings, no_network):
    store = {}
    start_authorization(store, settings)
    with pytest.raises(OAuthStateError):
        finish_authorization({"code": "c"}, store, settings, http=no_network)
    assert no_network.recorder.requests == []


def test_access_denied(settings, no_network):
    store = {}
    start_authorization(store, settings)
    args = {"error": "access_denied", "state": store[STORE_KEY]["state"]}
    with pytest.raises(OAuthDenied):
        finish_authorization(args, store, settings, http=no_network)
    assert no_network.recorder.requests == []


def test_callback_without_code(settings, no_network):
    store = {}
    start_authorization(store, settings)
    with pytest.raises(OAuthError):
        finish_authorization({"state": store[STORE_KEY]["state"]}, store, settings, http=no_network)
    assert no_network.recorder.requests == []


def test_settings_repr_hides_secrets(settings):
    text = repr(settings)
    assert "sim-client-secret" not in text
    for key in settings.encryption_keys:
        assert key not in text


def test_settings_from_config():
    from portal.zoom import ZoomSettings

    settings = ZoomSettings.from_config(
        {
            "ZOOM_CLIENT_ID": "id",
            "ZOOM_CLIENT_SECRET": "secret",
            "ZOOM_REDIRECT_URI": "https://portal.example.edu/zoom/callback",
            "ZOOM_OAUTH_BASE_URL": "https://zoom.us/",
            "ZOOM_API_BASE_URL": "https://api.zoom.us/v2/",
            "TOKEN_ENCRYPTION_KEYS": " k1 , k2 ,",
        }
    )
    assert settings.token_url == "https://zoom.us/oauth/token"
    assert settings.api_base_url == "https://api.zoom.us/v2"
    assert settings.encryption_keys == ("k1", "k2")
    assert settings.timeout == (3.05, 10)
    assert not settings.oauth_is_loopback_http
