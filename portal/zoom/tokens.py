"""Zoom tokens at rest (MultiFernet, bound to the tutor) and refresh under concurrency.

Storage (``crypto.py``, RELIABILITY §1.2): Fernet ciphertexts bound to the tutor
and Zoom user. A ciphertext moved to another row, or one no key can open, marks
the connection ``needs_reauth`` and raises ``ZoomReauthRequired`` before any
Zoom call. Storing, replacing and marking a grant live in ``grants.py`` and are
re-exported here.

Refresh (RELIABILITY §1.3; Zoom refresh tokens are single-use and rotate):

1. The access token is used while ``expires_at > now + 120 s``.
2. Otherwise one atomic ``UPDATE zoom_connection SET lease_owner=:me,
   lease_until=now+30s WHERE id=:id AND version=:v AND (lease_until IS NULL OR
   lease_until < now)``; row count 1 wins.
3. The winner calls ``POST /oauth/token`` (timeout ≤ 10 s) with no transaction
   open, then writes the new pair at once in a short ``write_tx()``
   (``version+1``, lease cleared; SQLITE_BUSY retried).
4. Losers never call Zoom: they re-read the row with backoff until the version
   changes or the lease expires, then use the stored token.
5. ``invalid_grant``: re-read; if the version is unchanged the connection becomes
   ``needs_reauth`` and every later call raises without HTTP. A lost token
   response (timeout/5xx after sending) is treated the same: never guess.
   ``invalid_client`` is the app's problem: the lease is released, the tutor is
   not marked, and ``ZoomConfigError`` is raised.

The same code runs on SQLite and PostgreSQL (timestamps are naive UTC passed as
parameters). Tokens never appear in ``repr``, logs or exception messages.
"""

import datetime
import logging
import os
import random
import secrets
import socket
import threading
import time

from ..db import retry_locked, write_tx
from ..models import ZoomConnection, utcnow
from . import oauth
from .crypto import TokenBindingError, cipher, rotate_keys, seal, unseal
from .errors import (
    OAuthInvalidGrant,
    OAuthTokenError,
    ZoomConfigError,
    ZoomNotConnected,
    ZoomRateLimited,
    ZoomReauthRequired,
    ZoomUnavailable,
)
from .grants import (
    USABLE_STATUS,
    mark_needs_reauth,
    replace_grant,
    store_new_connection,
    tutor_id_of,
)

__all__ = [
    "TokenBindingError",
    "TokenSource",
    "cipher",
    "mark_needs_reauth",
    "replace_grant",
    "rotate_keys",
    "seal",
    "store_new_connection",
    "unseal",
]

log = logging.getLogger("portal.zoom.tokens")

REFRESH_MARGIN = datetime.timedelta(seconds=120)
LEASE = datetime.timedelta(seconds=30)

# --- the token source ------------------------------------------------------------------------


def _owner_id():
    host = socket.gethostname()[:20]
    return f"{host}:{os.getpid()}:{threading.get_ident() % 10**9}:{secrets.token_hex(4)}"


class TokenSource:
    """Hands out a valid access token for one connection, refreshing through the lease.

    ``ref`` is a ZoomConnection (that row only) or a tutor (their current row).
    Nothing is cached in memory: every call reads the row, so a token rotated by
    another worker or process is picked up at once.
    """

    def __init__(
        self,
        ref,
        settings,
        http=None,
        *,
        clock=utcnow,
        sleep=time.sleep,
        lease_wait=LEASE.total_seconds() + 5,
    ):
        if isinstance(ref, ZoomConnection):
            self._connection_id, self._tutor_id = ref.id, None
        else:
            self._connection_id, self._tutor_id = None, tutor_id_of(ref)
        self.settings = settings
        self.http = http
        self.clock = clock
        self.sleep = sleep
        self.lease_wait = lease_wait

    def __repr__(self):
        return f"<TokenSource connection={self._connection_id} tutor={self._tutor_id}>"

    @property
    def connection_id(self):
        return self._connection_id

    def load(self):
        """The current row, or raise ZoomNotConnected / ZoomReauthRequired."""
        if self._connection_id is not None:
            row = ZoomConnection.get_or_none(ZoomConnection.id == self._connection_id)
        else:
            row = ZoomConnection.for_tutor(self._tutor_id)
        if row is None:
            raise ZoomNotConnected()
        if row.ended_at is not None or row.status != USABLE_STATUS:
            raise ZoomReauthRequired(
                f"Zoom connection is {row.status}; the tutor must connect again.",
                connection_id=row.id,
                connection_status=row.status,
            )
        return row

    def _open(self, row, field):
        try:
            return unseal(
                getattr(row, field),
                tutor_id=row.tutor_id,
                zoom_user_id=row.zoom_user_id,
                settings=self.settings,
            )
        except TokenBindingError as exc:
            mark_needs_reauth(row.id, f"stored token rejected: {exc}", clock=self.clock)
            raise ZoomReauthRequired(
                "Stored Zoom token failed its integrity check; the tutor must connect again.",
                connection_id=row.id,
            ) from None

    def get(self, stale_version=None):
        """Return ``(access_token, version)``; with stale_version, never that version's token."""
        access, version, _ = self.acquire(stale_version)
        return access, version

    def acquire(self, stale_version=None, stale_id=None):
        """Like get(), plus the id of the connection row the token belongs to."""
        waited_for = None
        for _round in range(6):
            row = self.load()
            access = self._open(row, "access_token_enc")
            now = self.clock()
            if stale_version is not None:
                if row.version != stale_version or (stale_id is not None and row.id != stale_id):
                    return access, row.version, row.id  # rotated since Zoom refused ours
            elif row.expires_at is not None and row.expires_at > now + REFRESH_MARGIN:
                return access, row.version, row.id
            elif waited_for is not None and row.version != waited_for:
                return access, row.version, row.id  # just refreshed by the owner: never twice
            refresh = self._open(row, "refresh_token_enc")
            me = _owner_id()
            if self._take_lease(row, me, now):
                result = self._refresh(row, refresh, me)
                if result is not None:
                    return result + (row.id,)
                continue
            waited_for = row.version
            self._wait(row)
        raise ZoomUnavailable(message="Could not obtain a Zoom access token.", sent=False)

    def _take_lease(self, row, me, now):
        def update():
            return (
                ZoomConnection.update(lease_owner=me, lease_until=now + LEASE)
                .where(
                    (ZoomConnection.id == row.id)
                    & (ZoomConnection.version == row.version)
                    & (ZoomConnection.status == USABLE_STATUS)
                    & (ZoomConnection.lease_until.is_null() | (ZoomConnection.lease_until < now))
                )
                .execute()
            )

        return retry_locked(update, attempts=5) == 1

    def _release_lease(self, row, me):
        def update():
            return (
                ZoomConnection.update(lease_owner=None, lease_until=None)
                .where((ZoomConnection.id == row.id) & (ZoomConnection.lease_owner == me))
                .execute()
            )

        retry_locked(update, attempts=5)

    def _wait(self, row):
        """Poll (backoff with jitter) until the version changes or the lease runs out."""
        delay, waited = 0.02, 0.0
        while waited < self.lease_wait:
            pause = delay * random.uniform(0.5, 1.0)
            self.sleep(pause)
            waited += pause
            fresh = ZoomConnection.get_or_none(ZoomConnection.id == row.id)
            if fresh is None or fresh.version != row.version or fresh.status != USABLE_STATUS:
                return
            if fresh.lease_until is None or fresh.lease_until < self.clock():
                return
            delay = min(delay * 2, 0.25)
        raise ZoomUnavailable(message="A Zoom token refresh elsewhere did not finish.", sent=False)

    def _refresh(self, row, refresh, me):
        """As lease owner: call the token endpoint, store the new pair. None = look again."""
        started = self.clock()
        try:
            token = oauth.refresh_access_token(refresh, self.settings, self.http)
        except OAuthInvalidGrant as exc:
            latest = ZoomConnection.get_or_none(ZoomConnection.id == row.id)
            if latest is not None and latest.version != row.version:
                self._release_lease(row, me)
                return None  # another worker rotated it after all; use theirs
            reason = f"refresh rejected by Zoom: invalid_grant ({exc.reason or 'no reason'})"
            if not mark_needs_reauth(row.id, reason, version=row.version, clock=self.clock):
                return None
            raise ZoomReauthRequired(
                "Zoom rejected the refresh token; the tutor must connect again.",
                connection_id=row.id,
            ) from None
        except (ZoomConfigError, ZoomRateLimited):
            self._release_lease(row, me)
            raise
        except ZoomUnavailable as exc:
            if not exc.sent:
                self._release_lease(row, me)
                raise
            # Zoom may have rotated and the answer is lost: the old token is probably dead.
            if not mark_needs_reauth(
                row.id,
                f"token refresh answer lost ({exc.message}); reconnect required",
                version=row.version,
                clock=self.clock,
            ):
                return None
            raise ZoomReauthRequired(
                "The Zoom token refresh answer was lost; the tutor must connect again.",
                connection_id=row.id,
            ) from None
        except OAuthTokenError as exc:
            if not mark_needs_reauth(
                row.id,
                f"refresh rejected by Zoom: {exc.error or exc.status} ({exc.reason or ''})",
                version=row.version,
                clock=self.clock,
            ):
                return None
            raise ZoomReauthRequired(
                "Zoom refused the token refresh; the tutor must connect again.",
                connection_id=row.id,
            ) from None
        except BaseException:
            self._release_lease(row, me)
            raise
        return self._store_refreshed(row, token, started)

    def _store_refreshed(self, row, token, started):
        at_enc = seal(
            token["access_token"],
            tutor_id=row.tutor_id,
            zoom_user_id=row.zoom_user_id,
            settings=self.settings,
        )
        rt_enc = seal(
            token["refresh_token"],
            tutor_id=row.tutor_id,
            zoom_user_id=row.zoom_user_id,
            settings=self.settings,
        )
        expires_at = started + datetime.timedelta(seconds=int(token["expires_in"]))
        now = self.clock()

        def write():
            with write_tx():
                return (
                    ZoomConnection.update(
                        access_token_enc=at_enc,
                        refresh_token_enc=rt_enc,
                        expires_at=expires_at,
                        scopes=token.get("scope") or row.scopes,
                        version=ZoomConnection.version + 1,
                        lease_owner=None,
                        lease_until=None,
                        last_error=None,
                        updated_at=now,
                    )
                    .where(
                        (ZoomConnection.id == row.id)
                        & (ZoomConnection.version == row.version)
                        & (ZoomConnection.status == USABLE_STATUS)
                    )
                    .execute()
                )

        if retry_locked(write, attempts=8) != 1:
            # Disconnected or marked while we refreshed: the new pair must not live on.
            try:
                oauth.revoke_token(token["access_token"], self.settings, self.http)
            except Exception:  # noqa: BLE001 - best effort, the row is already unusable
                log.warning("zoom connection %s: could not revoke an orphaned token", row.id)
            raise ZoomReauthRequired(
                "Zoom connection changed during refresh.", connection_id=row.id
            )
        log.info("zoom connection %s: tokens refreshed (version %s)", row.id, row.version + 1)
        return token["access_token"], row.version + 1
