"""A tutor's Zoom grant stored, replaced or marked unusable (the writes of ``tokens.py``).

Storage (``crypto.py``, RELIABILITY §1.2): Fernet ciphertexts bound to the tutor
and Zoom user. A ciphertext moved to another row, or one no key can open, marks
the connection ``needs_reauth`` and raises ``ZoomReauthRequired`` before any
Zoom call. Every write is one short ``write_tx()`` (SQLITE_BUSY retried) that
bumps ``version``, so a refresh in flight never overwrites it.
"""

import datetime
import logging

from peewee import IntegrityError

from ..db import retry_locked, write_tx
from ..models import ZoomConnection, utcnow
from .crypto import seal
from .errors import ZoomConfigError

log = logging.getLogger("portal.zoom.tokens")

USABLE_STATUS = ZoomConnection.ACTIVE


# --- connecting ------------------------------------------------------------------------------


def tutor_id_of(tutor):
    """The id of a tutor given as a row or as an id."""
    return getattr(tutor, "id", tutor)


def store_new_connection(tutor, profile, token, settings, *, clock=utcnow):
    """Save a freshly authorized Zoom user as the tutor's current connection.

    Ends any previous current row for the tutor in the same IMMEDIATE
    transaction. A previous row for a *different* Zoom user keeps its tokens
    with ``revoke_pending`` so they can still be revoked (``client.revoke``);
    for the same Zoom user Zoom already revoked them (error 4741), so they are
    wiped.
    """
    tutor_id = tutor_id_of(tutor)
    zoom_user_id = str(profile.get("id") or "")
    if not zoom_user_id:
        raise ZoomConfigError("Zoom's profile answer had no user id.")
    # Encrypt before opening the transaction: keep the write lock short.
    at_enc = seal(
        token["access_token"], tutor_id=tutor_id, zoom_user_id=zoom_user_id, settings=settings
    )
    rt_enc = seal(
        token["refresh_token"], tutor_id=tutor_id, zoom_user_id=zoom_user_id, settings=settings
    )
    now = clock()
    expires_at = now + datetime.timedelta(seconds=int(token["expires_in"]))
    scope = token.get("scope") or ""
    if isinstance(scope, list | tuple):
        scope = " ".join(scope)
    pmi = profile.get("pmi")
    try:
        pmi = int(pmi) if pmi not in (None, "") else None
    except (TypeError, ValueError):
        pmi = None
    login_types = profile.get("login_types")
    if login_types is not None and not isinstance(login_types, list):
        login_types = [login_types]

    def write():
        with write_tx():
            previous = list(ZoomConnection.current().where(ZoomConnection.tutor == tutor_id))
            for old in previous:
                same_user = old.zoom_user_id == zoom_user_id
                keep = not same_user and bool(old.access_token_enc)
                ZoomConnection.update(
                    ended_at=now,
                    status=ZoomConnection.ENDED,
                    lease_owner=None,
                    lease_until=None,
                    version=ZoomConnection.version + 1,
                    revoke_pending=keep,
                    access_token_enc=old.access_token_enc if keep else None,
                    refresh_token_enc=old.refresh_token_enc if keep else None,
                    updated_at=now,
                ).where(ZoomConnection.id == old.id).execute()
            return ZoomConnection.create(
                tutor=tutor_id,
                zoom_user_id=zoom_user_id,
                account_id=profile.get("account_id"),
                email=profile.get("email"),
                user_type=profile.get("type"),
                login_types=login_types,
                pmi=pmi,
                personal_meeting_url=profile.get("personal_meeting_url"),
                scopes=scope,
                access_token_enc=at_enc,
                refresh_token_enc=rt_enc,
                expires_at=expires_at,
                status=USABLE_STATUS,
                last_error=None,
                version=0,
                connected_at=now,
                updated_at=now,
            )

    for attempt in range(3):
        try:
            return retry_locked(write, attempts=5)
        except IntegrityError:
            # Two callbacks for one tutor at once (PostgreSQL READ COMMITTED): redo ours.
            if attempt == 2:
                raise
    return None  # pragma: no cover


def replace_grant(connection, token, *, settings, clock=utcnow):
    """Give a tutor's current connection a new grant of the same Zoom user; True if stored.

    A new authorization of a Zoom user revokes that user's earlier tokens for this app
    (Zoom 4741). When someone else authorizes the account a tutor already has, the new
    grant is the only live one: it replaces the dead pair, bound to the same tutor and
    Zoom user, under a version bump so a refresh in flight cannot overwrite it.
    """
    at_enc = seal(
        token["access_token"],
        tutor_id=connection.tutor_id,
        zoom_user_id=connection.zoom_user_id,
        settings=settings,
    )
    rt_enc = seal(
        token["refresh_token"],
        tutor_id=connection.tutor_id,
        zoom_user_id=connection.zoom_user_id,
        settings=settings,
    )
    now = clock()
    scope = token.get("scope") or connection.scopes
    if isinstance(scope, list | tuple):
        scope = " ".join(scope)

    def write():
        with write_tx():
            return (
                ZoomConnection.update(
                    access_token_enc=at_enc,
                    refresh_token_enc=rt_enc,
                    expires_at=now + datetime.timedelta(seconds=int(token["expires_in"])),
                    scopes=scope,
                    status=USABLE_STATUS,
                    last_error=None,
                    lease_owner=None,
                    lease_until=None,
                    version=ZoomConnection.version + 1,
                    updated_at=now,
                )
                .where((ZoomConnection.id == connection.id) & ZoomConnection.is_current())
                .execute()
            )

    stored = retry_locked(write, attempts=5) == 1
    if stored:
        log.info(
            "zoom connection %s: tokens replaced by a new grant of its Zoom user", connection.id
        )
    return stored


# --- marking ---------------------------------------------------------------------------------


def mark_needs_reauth(
    connection_id, reason, *, version=None, clock=utcnow, status=ZoomConnection.NEEDS_REAUTH
):
    """Stop using a connection until the tutor reconnects; True if this call changed it.

    With ``version`` the change only happens if nobody rotated the tokens meanwhile.
    """
    now = clock()

    def write():
        with write_tx():
            query = ZoomConnection.update(
                status=status,
                last_error=(reason or "")[:500],
                lease_owner=None,
                lease_until=None,
                version=ZoomConnection.version + 1,
                updated_at=now,
            ).where((ZoomConnection.id == connection_id) & (ZoomConnection.status == USABLE_STATUS))
            if version is not None:
                query = query.where(ZoomConnection.version == version)
            return query.execute()

    changed = retry_locked(write, attempts=5) == 1
    if changed:
        log.warning("zoom connection %s -> %s: %s", connection_id, status, reason)
    return changed
