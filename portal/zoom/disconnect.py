"""Disconnecting a tutor: ``POST /oauth/revoke`` and wiping the stored tokens (RELIABILITY §1.4).

``revoke()`` first stops every worker from using the connection (status ``revoked``,
row ended, lease cleared, version bumped), then calls Zoom's revoke endpoint (Basic
client auth, form field ``token``) outside any transaction, then wipes both tokens.
If Zoom cannot be reached the failure is recorded in ``last_error`` and the row keeps
``revoke_pending`` (and only its access token) for ``retry_pending_revocations()``.
"""

import time

from ..db import retry_locked, write_tx
from ..models import ZoomConnection, utcnow
from . import oauth
from .errors import (
    OAuthError,
    ZoomConfigError,
    ZoomError,
    ZoomRateLimited,
    ZoomReauthRequired,
    ZoomUnavailable,
)
from .tokens import TokenBindingError, TokenSource, unseal


def _update_row(conn_id, **fields):
    def write():
        with write_tx():
            return ZoomConnection.update(**fields).where(ZoomConnection.id == conn_id).execute()

    return retry_locked(write, attempts=5)


def revoke(connection, settings, http=None, *, clock=utcnow, sleep=time.sleep):
    """Disconnect: stop using the connection, POST /oauth/revoke, wipe the tokens.

    The row is ended and marked ``revoked`` before Zoom is called, so no worker
    uses it again. An expiring access token is refreshed (through the lease)
    first so the revoke kills the live grant. When Zoom accepts, or answers that
    the token is already invalid, both tokens are wiped and True is returned.
    When Zoom cannot be reached the failure is recorded in ``last_error``, the
    refresh token is wiped, and the access token is kept with
    ``revoke_pending=True`` for ``retry_pending_revocations``; False is returned.
    ``invalid_client`` raises ZoomConfigError (the tokens are kept for a retry).
    """
    conn_id = getattr(connection, "id", connection)
    row = ZoomConnection.get_or_none(ZoomConnection.id == conn_id)
    if row is None:
        return False
    token = None
    if row.status == ZoomConnection.ACTIVE and row.ended_at is None:
        try:
            token, _ = TokenSource(row, settings, http, clock=clock, sleep=sleep).get()
        except (ZoomReauthRequired, ZoomUnavailable, ZoomRateLimited):
            token = None
    row = ZoomConnection.get_or_none(ZoomConnection.id == conn_id)
    if row is None:
        return False
    now = clock()
    status = (
        row.status
        if row.status in (ZoomConnection.ENDED, ZoomConnection.DEAUTHORIZED)
        else ZoomConnection.REVOKED
    )
    _update_row(
        conn_id,
        status=status,
        ended_at=row.ended_at or now,
        revoke_pending=True,
        lease_owner=None,
        lease_until=None,
        version=ZoomConnection.version + 1,
        updated_at=now,
    )
    if token is None and row.access_token_enc:
        try:
            token = unseal(
                row.access_token_enc,
                tutor_id=row.tutor_id,
                zoom_user_id=row.zoom_user_id,
                settings=settings,
            )
        except TokenBindingError:
            token = None
    wiped = {"access_token_enc": None, "refresh_token_enc": None, "revoke_pending": False}
    if token is None:
        _update_row(conn_id, last_error="revoke skipped: no usable access token", **wiped)
        return False
    try:
        oauth.revoke_token(token, settings, http)
    except ZoomConfigError as exc:
        _update_row(conn_id, last_error=f"revoke failed: {exc.message}")
        raise
    except (ZoomUnavailable, ZoomRateLimited) as exc:
        _update_row(conn_id, last_error=f"revoke failed, will retry: {exc}", refresh_token_enc=None)
        return False
    except (OAuthError, ZoomError) as exc:
        # Zoom says the token is already invalid: nothing left to revoke.
        _update_row(conn_id, last_error=f"revoke: token already invalid ({exc})", **wiped)
        return True
    _update_row(conn_id, last_error=None, **wiped)
    return True


def retry_pending_revocations(settings, http=None, *, clock=utcnow):
    """Retry revoke for every row with revoke_pending; returns (revoked, still_pending)."""
    done = pending = 0
    pending_rows = ZoomConnection.revoke_pending == True  # noqa: E712 - peewee expression
    rows = list(ZoomConnection.select(ZoomConnection.id).where(pending_rows))
    for row in rows:
        if revoke(row.id, settings, http, clock=clock):
            done += 1
        elif ZoomConnection.get_by_id(row.id).revoke_pending:
            pending += 1
    return done, pending
