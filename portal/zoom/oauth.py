"""Zoom OAuth 2.0 (authorization code + PKCE S256) for a confidential, user-managed app.

External contract (ZOOM_API §1, RELIABILITY §1):

- ``GET {oauth_base}/oauth/authorize?response_type=code&client_id&redirect_uri&state
  &code_challenge&code_challenge_method=S256`` (browser redirect, built here).
- ``POST {oauth_base}/oauth/token`` with ``Authorization: Basic base64(id:secret)`` and a
  form body: ``grant_type=authorization_code&code&redirect_uri&code_verifier`` or
  ``grant_type=refresh_token&refresh_token``. No ``client_id`` in the body.
  200 → ``{access_token, token_type, refresh_token, expires_in, scope}``; errors are
  ``{"error": ..., "reason": ...}`` (400, sometimes 401).
- ``POST {oauth_base}/oauth/revoke`` with Basic auth and form field ``token``.

Rules kept here: ``state`` is 256 bits from ``secrets``, stored with the PKCE verifier
in the caller's server-side session and popped (one-time) by ``finish_authorization``
itself before anything else happens; the redirect URI is always the configured
constant; every call has a timeout and never follows redirects; requests-oauthlib's
auto-refresh is never used (refresh is serialized by ``portal.zoom.tokens``).
Token endpoint errors become typed exceptions carrying Zoom's raw ``reason``.
Nothing secret reaches a log line or an exception message.
"""

import base64
import hashlib
import hmac
import logging
import secrets
import time

import requests
from oauthlib.oauth2 import OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session
from urllib3.exceptions import NameResolutionError, NewConnectionError

from ._safety import http_session, oauth_transport, protect_library_loggers
from .errors import (
    OAuthDenied,
    OAuthError,
    OAuthInvalidGrant,
    OAuthStateError,
    OAuthTokenError,
    ZoomConfigError,
    ZoomError,
    ZoomRateLimited,
    ZoomUnavailable,
)

log = logging.getLogger("portal.zoom.oauth")

STORE_KEY = "zoom_oauth_pending"
STATE_MAX_AGE = 30 * 60  # seconds a started authorization stays valid


class _OAuthSession(OAuth2Session):
    """OAuth2Session that sends through the caller's session adapters and never redirects."""

    def __init__(self, settings, transport):
        super().__init__(settings.client_id, redirect_uri=settings.redirect_uri, scope=None)
        self._transport = transport
        self.trust_env = transport.trust_env
        self.verify = transport.verify

    def get_adapter(self, url):
        return self._transport.get_adapter(url)

    def request(self, method, url, *args, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def _pkce_pair():
    verifier = secrets.token_urlsafe(64)  # 86 chars of [A-Za-z0-9_-], RFC 7636 §4.1
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def start_authorization(store, settings):
    """Begin the flow: remember a fresh state + PKCE verifier in store, return the authorize URL."""
    settings.require_client()
    protect_library_loggers()
    state = secrets.token_urlsafe(32)
    verifier, challenge = _pkce_pair()
    with http_session(None) as transport, _OAuthSession(settings, transport) as oauth:
        with oauth_transport(settings):
            url, _ = oauth.authorization_url(
                settings.authorize_url,
                state=state,
                code_challenge=challenge,
                code_challenge_method="S256",
            )
    store[STORE_KEY] = {"state": state, "verifier": verifier, "issued": int(time.time())}
    return url


def _take_pending(store, args):
    """Pop the stored state (always, so it is one-time) and check the callback's against it."""
    pending = store.pop(STORE_KEY, None)
    if not isinstance(pending, dict) or not pending.get("state") or not pending.get("verifier"):
        raise OAuthStateError("No Zoom authorization is in progress (missing or used state).")
    got = args.get("state")
    if not isinstance(got, str) or not got:
        raise OAuthStateError("The Zoom callback carried no state.")
    if not hmac.compare_digest(got.encode(), str(pending["state"]).encode()):
        raise OAuthStateError("The Zoom callback's state does not match this session.")
    issued = pending.get("issued")
    if isinstance(issued, int | float) and time.time() - issued > STATE_MAX_AGE:
        raise OAuthStateError("The Zoom authorization took too long; start again.")
    return pending["verifier"]


def finish_authorization(args, store, settings, http=None):
    """Check the callback (state first), exchange the code, return Zoom's token dict."""
    verifier = _take_pending(store, args)
    error = args.get("error")
    if error:
        if error == "access_denied":
            raise OAuthDenied("The Zoom authorization was declined.", error=error)
        raise OAuthError(
            "Zoom refused the authorization.",
            error=str(error)[:64],
            reason=args.get("error_description"),
        )
    code = args.get("code")
    if not code:
        raise OAuthError(
            "The Zoom callback carried no authorization code.", error="invalid_request"
        )
    settings.require_client()
    protect_library_loggers()
    with http_session(http) as transport, _OAuthSession(settings, transport) as oauth:
        oauth.register_compliance_hook("access_token_response", _check_token_response)
        with oauth_transport(settings):
            token = _guarded(
                lambda: oauth.fetch_token(
                    settings.token_url,
                    code=code,
                    code_verifier=verifier,
                    include_client_id=False,
                    client_secret=settings.client_secret,
                    timeout=settings.timeout,
                )
            )
    log.info("zoom POST /oauth/token (authorization_code) -> 200")
    return _clean_token(token)


def refresh_access_token(refresh_token, settings, http=None):
    """Trade a refresh token for a new pair (single call, no retries). See tokens.py for locking."""
    settings.require_client()
    protect_library_loggers()
    with http_session(http) as transport, _OAuthSession(settings, transport) as oauth:
        oauth.register_compliance_hook("refresh_token_response", _check_token_response)
        with oauth_transport(settings):
            token = _guarded(
                lambda: oauth.refresh_token(
                    settings.token_url,
                    refresh_token=refresh_token,
                    auth=HTTPBasicAuth(settings.client_id, settings.client_secret),
                    timeout=settings.timeout,
                )
            )
    log.info("zoom POST /oauth/token (refresh_token) -> 200")
    return _clean_token(token)


def revoke_token(token, settings, http=None):
    """POST /oauth/revoke for one token; True when Zoom confirms."""
    settings.require_client()
    with http_session(http) as transport:
        try:
            response = transport.post(
                settings.revoke_url,
                data={"token": token},
                auth=HTTPBasicAuth(settings.client_id, settings.client_secret),
                headers={"Accept": "application/json"},
                timeout=settings.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise transport_error(exc) from None
    log.info("zoom POST /oauth/revoke -> %s", response.status_code)
    if 200 <= response.status_code < 300:
        return True
    _check_token_response(response)
    return True


def _guarded(call):
    """Run a requests-oauthlib call, turning library and network errors into ours."""
    try:
        return call()
    except ZoomError:
        raise
    except requests.RequestException as exc:
        raise transport_error(exc) from None
    except OAuth2Error as exc:
        # Only reached for a 200 body oauthlib dislikes (e.g. no access_token).
        raise OAuthTokenError(
            "Zoom's token response was not usable.", error=getattr(exc, "error", None)
        ) from None
    except (ValueError, Warning):
        raise OAuthTokenError("Zoom's token response was not usable.") from None


def transport_error(exc):
    """A requests exception as ZoomUnavailable; ``sent`` is False only if nothing left us."""
    sent = not _never_sent(exc)
    kind = type(exc).__name__
    return ZoomUnavailable(message=f"Zoom could not be reached ({kind}).", sent=sent)


def _never_sent(exc):
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        seen = set()
        cur = exc
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            if isinstance(cur, NewConnectionError | NameResolutionError):
                return True
            reason = getattr(cur, "reason", None)
            nxt = reason if isinstance(reason, BaseException) else None
            if nxt is None and cur.args and isinstance(cur.args[0], BaseException):
                nxt = cur.args[0]
            cur = nxt or cur.__cause__ or cur.__context__
    return False


def _json_or_none(response):
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _check_token_response(response):
    """Compliance hook: raise our typed error for anything but a clean 200 token answer."""
    body = _json_or_none(response)
    status = response.status_code
    if status == 200 and body is not None and "error" not in body:
        return response
    error = str(body.get("error")) if body and body.get("error") else None
    reason = (body.get("reason") or body.get("error_description")) if body else None
    if reason is None and body is None:
        reason = (response.text or "")[:200]
    if error:
        log.warning("zoom token endpoint -> %s %s", status, error)
    else:
        log.warning("zoom token endpoint -> %s", status)
    if error == "invalid_client":
        raise ZoomConfigError(
            "Zoom rejected the app's client id or secret (invalid_client).",
            error=error,
            reason=reason,
            status=status,
        )
    if error == "invalid_grant":
        raise OAuthInvalidGrant(
            "Zoom rejected the grant (invalid_grant).", error=error, reason=reason, status=status
        )
    if status == 429:
        raise ZoomRateLimited(message="Zoom's token endpoint is rate limited.", retry_after=None)
    if status >= 500:
        raise ZoomUnavailable(
            status=status, message=f"Zoom's token endpoint failed (HTTP {status})."
        )
    if error:
        raise OAuthTokenError(
            f"Zoom's token endpoint refused ({error}).", error=error, reason=reason, status=status
        )
    if status == 401:
        raise ZoomConfigError("Zoom rejected the app's credentials.", reason=reason, status=status)
    raise OAuthTokenError(
        f"Zoom's token endpoint answered HTTP {status}.", reason=reason, status=status
    )


def _clean_token(token):
    """A plain dict with the fields Zoom promises, validated (rivet's assertResponseAccessToken)."""
    token = dict(token)
    access, refresh = token.get("access_token"), token.get("refresh_token")
    expires_in = token.get("expires_in")
    if not isinstance(access, str) or not access:
        raise OAuthTokenError("Zoom's token response had no access token.")
    if not isinstance(refresh, str) or not refresh:
        raise OAuthTokenError("Zoom's token response had no refresh token.")
    try:
        expires_in = int(expires_in)
    except (TypeError, ValueError):
        raise OAuthTokenError("Zoom's token response had no usable expires_in.") from None
    scope = token.get("scope")
    if isinstance(scope, list):
        scope = " ".join(scope)
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": token.get("token_type", "bearer"),
        "expires_in": expires_in,
        "scope": scope or "",
    }
