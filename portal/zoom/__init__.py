"""Zoom integration: OAuth connect, encrypted tokens with serialized refresh, the REST client.

Public surface (everything takes a ``ZoomSettings`` and an optional
``requests.Session`` ``http``; nothing reads ``current_app``):

- ``ZoomSettings.from_config(app.config)``
- ``start_authorization(store, settings)`` → authorize URL;
  ``finish_authorization(args, store, settings, http=None)`` → token dict
- ``fetch_profile(access_token, settings, http=None)`` → ``GET /users/me``
- ``store_new_connection(tutor, profile, token, settings)`` → ZoomConnection
- ``ZoomClient(connection_or_tutor, settings, http=None)`` → me / create_meeting /
  get_meeting / update_meeting / delete_meeting / list_meetings
- ``revoke(connection, settings, http=None)``, ``retry_pending_revocations(settings)``
- ``rotate_keys(settings)`` → rows re-encrypted under the first key
- ``meeting_body(...)`` / ``meeting_patch(...)``: create/update bodies within Zoom's limits
- the typed errors of ``portal.zoom.errors``

The simulator lives in ``portal.zoom.simulator`` and is imported only where used.
"""

from .bodies import meeting_body, meeting_patch
from .client import (
    ZoomClient,
    error_from_response,
    fetch_profile,
    retry_pending_revocations,
    revoke,
)
from .errors import (
    OAuthDenied,
    OAuthError,
    OAuthInvalidGrant,
    OAuthStateError,
    OAuthTokenError,
    ZoomAmbiguous,
    ZoomAuthError,
    ZoomConfigError,
    ZoomError,
    ZoomNotConnected,
    ZoomNotFound,
    ZoomPermissionError,
    ZoomRateLimited,
    ZoomReauthRequired,
    ZoomScopeError,
    ZoomUnavailable,
    ZoomValidationError,
)
from .oauth import finish_authorization, refresh_access_token, revoke_token, start_authorization
from .settings import ZoomSettings
from .tokens import TokenSource, mark_needs_reauth, rotate_keys, store_new_connection

__all__ = [
    "OAuthDenied",
    "OAuthError",
    "OAuthInvalidGrant",
    "OAuthStateError",
    "OAuthTokenError",
    "TokenSource",
    "ZoomAmbiguous",
    "ZoomAuthError",
    "ZoomClient",
    "ZoomConfigError",
    "ZoomError",
    "ZoomNotConnected",
    "ZoomNotFound",
    "ZoomPermissionError",
    "ZoomRateLimited",
    "ZoomReauthRequired",
    "ZoomScopeError",
    "ZoomSettings",
    "ZoomUnavailable",
    "ZoomValidationError",
    "error_from_response",
    "fetch_profile",
    "finish_authorization",
    "mark_needs_reauth",
    "meeting_body",
    "meeting_patch",
    "refresh_access_token",
    "retry_pending_revocations",
    "revoke",
    "revoke_token",
    "rotate_keys",
    "start_authorization",
    "store_new_connection",
]
