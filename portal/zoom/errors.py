"""Typed errors for everything the Zoom client can run into.

Callers branch on the exception class (or the numeric Zoom ``code`` it carries),
never on ``message``: Zoom localizes its messages (ZOOM_API §0.4). Messages are
Zoom's own text, truncated; they never contain a token, a code, a verifier, the
client secret or a start URL, because the client never puts one there.

Hierarchy::

    ZoomError(code, message, status, retry_after=None)
      ZoomAuthError            401 / code 124 that a refresh could not fix
      ZoomReauthRequired       the tutor must reconnect; raised without any HTTP
        ZoomNotConnected       the tutor has no current connection at all
      ZoomNotFound             404, 3001 / 1001 / 1120
      ZoomRateLimited          429 (``daily``, ``reset_at``)
      ZoomUnavailable          5xx, connection errors, timeouts
        ZoomAmbiguous          a write was sent but its outcome is unknown
      ZoomScopeError           4711 (4700 on HTTP 400): token lacks a scope
      ZoomValidationError      300 (``errors`` lists field problems)
      ZoomPermissionError      3003, 200 (paid only), 3161 (may not host)
      ZoomConfigError          invalid_client or unusable settings/keys
      OAuthError               the authorization-code flow (``error``, ``reason``)
        OAuthStateError        missing, mismatched or reused ``state``
        OAuthDenied            the user refused (``error=access_denied``)
        OAuthTokenError        the token endpoint said no
          OAuthInvalidGrant    ``invalid_grant`` (used/expired code or refresh token)
"""

from .scopes import parse_4711

MAX_MESSAGE = 300


def _clip(text, limit=MAX_MESSAGE):
    text = "" if text is None else str(text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ZoomError(Exception):
    """Something went wrong talking to Zoom; ``code`` is Zoom's numeric code when known."""

    def __init__(self, code=None, message="", status=None, retry_after=None, *, tracking_id=None):
        self.code = code
        self.message = _clip(message)
        self.status = status
        self.retry_after = retry_after
        self.tracking_id = tracking_id
        super().__init__(self.message)

    def __str__(self):
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        head = " ".join(parts)
        if head and self.message:
            return f"{head}: {self.message}"
        return head or self.message or type(self).__name__

    def __repr__(self):
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r})"


class ZoomAuthError(ZoomError):
    """Zoom refused the access token (401, code 124)."""


class ZoomReauthRequired(ZoomError):
    """The connection is unusable until the tutor authorizes again; no Zoom call was made."""

    def __init__(
        self,
        message="Zoom connection needs to be authorized again.",
        *,
        connection_id=None,
        connection_status="needs_reauth",
        code=None,
        status=None,
    ):
        super().__init__(code, message, status)
        self.connection_id = connection_id
        self.connection_status = connection_status


class ZoomNotConnected(ZoomReauthRequired):
    """The tutor has no current Zoom connection."""

    def __init__(self, message="Tutor has not connected a Zoom account."):
        super().__init__(message, connection_status="missing")


class ZoomNotFound(ZoomError):
    """The meeting or user does not exist (any more) on Zoom."""


class ZoomRateLimited(ZoomError):
    """Zoom answered 429; ``daily`` limits stop all attempts until ``reset_at`` (UTC, naive)."""

    def __init__(
        self,
        code=429,
        message="",
        status=429,
        retry_after=None,
        *,
        reset_at=None,
        daily=False,
        tracking_id=None,
    ):
        super().__init__(code, message, status, retry_after, tracking_id=tracking_id)
        self.reset_at = reset_at
        self.daily = daily


class ZoomUnavailable(ZoomError):
    """Zoom could not be reached or answered 5xx; ``sent`` says whether the request left us."""

    def __init__(
        self,
        code=None,
        message="Zoom is unavailable.",
        status=None,
        retry_after=None,
        *,
        sent=True,
        tracking_id=None,
    ):
        super().__init__(code, message, status, retry_after, tracking_id=tracking_id)
        self.sent = sent


class ZoomAmbiguous(ZoomUnavailable):
    """A non-idempotent write may or may not have happened: reconcile before retrying."""


class ZoomScopeError(ZoomError):
    """The token lacks a scope the call needs (code 4711); only re-authorization helps."""

    @property
    def scopes(self):
        """The scope names Zoom said were missing (``scopes:[a, b]``); may be empty."""
        return parse_4711(self.message)


class ZoomValidationError(ZoomError):
    """Zoom rejected the request body (code 300); ``errors`` lists ``{field, message}``."""

    def __init__(
        self, code=300, message="", status=400, retry_after=None, *, errors=None, tracking_id=None
    ):
        super().__init__(code, message, status, retry_after, tracking_id=tracking_id)
        self.errors = [
            {"field": _clip(e.get("field"), 100), "message": _clip(e.get("message"), 200)}
            for e in (errors or [])
            if isinstance(e, dict)
        ]


class ZoomPermissionError(ZoomError):
    """The host may not do this (3003 not the host, 200 paid only, 3161 may not host)."""


class ZoomConfigError(ZoomError):
    """The app itself is misconfigured (invalid_client, missing settings, bad keys)."""

    def __init__(
        self, message="Zoom app configuration error.", *, error=None, reason=None, status=None
    ):
        super().__init__(None, message, status)
        self.error = error
        self.reason = _clip(reason) if reason is not None else None


class OAuthError(ZoomError):
    """The OAuth authorization-code flow failed."""

    def __init__(self, message="", *, error=None, reason=None, status=None):
        super().__init__(None, message or error or "OAuth error", status)
        self.error = error
        self.reason = _clip(reason) if reason is not None else None


class OAuthStateError(OAuthError):
    """The callback's state is missing, does not match, or was already used."""


class OAuthDenied(OAuthError):
    """The user (or an admin policy) refused the authorization."""


class OAuthTokenError(OAuthError):
    """The token endpoint answered with an OAuth error; ``reason`` is Zoom's raw text."""


class OAuthInvalidGrant(OAuthTokenError):
    """invalid_grant: the code or refresh token is used, expired or revoked."""
