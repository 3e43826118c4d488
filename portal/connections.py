"""Connecting and disconnecting a tutor's Zoom account, with the checks made at connect time.

Right after authorization the portal reads the Zoom profile and decides before
storing anything (DESIGN §6a): a Basic (free) account is refused; an account
that signs in through Google or Facebook is connected with a warning; a Zoom
account already linked to another tutor is refused without naming that tutor.
"""

import logging
from dataclasses import dataclass

from . import audit, daily
from .models import User, ZoomConnection, utcnow
from .zoom import disconnect as zoom_disconnect
from .zoom.client import fetch_profile
from .zoom.errors import OAuthDenied, OAuthError, OAuthStateError, ZoomError
from .zoom.oauth import finish_authorization, revoke_token
from .zoom.tokens import replace_grant, store_new_connection

log = logging.getLogger("portal.connections")

# Zoom login_types (ZOOM_API §2): 0 Facebook, 1 Google, 24 Apple, 27 Microsoft,
# 99 API, 100 Zoom (work e-mail), 101 SSO.
SOCIAL_LOGINS = {0: "Facebook", 1: "Google"}
LOGIN_NAMES = {
    0: "Facebook",
    1: "Google",
    24: "Apple",
    27: "Microsoft",
    99: "API",
    100: "e-mail and password",
    101: "single sign-on",
}

FREE_ACCOUNT = (
    "Free Zoom accounts aren't supported: a Basic account can't host the all-day Daily "
    "Session. Ask your center for a licensed Zoom account (or upgrade yours), sign in to "
    "Zoom with it, then press Authorize again."
)
ALREADY_LINKED = (
    "This Zoom account is already connected to another tutor's portal account, and one "
    "Zoom account can only serve one tutor. Your center administrator has been shown both "
    "accounts and can resolve it; meanwhile, sign in to Zoom with your own account and "
    "press Authorize again."
)
NOT_A_LICENSE = (
    "This Zoom account has no license that can host meetings. Ask your Zoom administrator "
    "to assign you a license, then press Authorize again."
)


@dataclass
class ConnectOutcome:
    """How a return from Zoom's authorization ended.

    ``kind``: ``invalid_state`` (used, foreign or expired), ``denied`` (the tutor
    cancelled), ``failed`` (Zoom did not complete it; ``status`` 400 or 502),
    ``no_profile`` (Zoom did not say who signed in), ``refused`` (``message`` says
    why), or ``connected`` (with ``email``, a ``warning``, and when today's session
    was the previous account's, the ``retired`` and ``replacement`` sessions).
    """

    kind: str
    status: int = 200
    message: str = ""
    email: str | None = None
    warning: str | None = None
    retired: object = None
    replacement: object = None


class ConnectRefused(Exception):
    """The Zoom account cannot be connected; the message says what to do."""

    def __init__(self, message, reason, owner=None):
        super().__init__(message)
        self.reason = reason
        self.owner = owner  # the other tutor's connection, for "already linked"


def login_warning(login_types):
    """A warning for Google/Facebook sign-in, or None."""
    social = [SOCIAL_LOGINS[t] for t in (login_types or []) if t in SOCIAL_LOGINS]
    if not social:
        return None
    names = " and ".join(sorted(set(social)))
    return (
        f"Your Zoom account signs in with {names}. Such accounts don't stay in sync with "
        "the portal: sign in to Zoom with your e-mail address and password instead (set a "
        "password in your Zoom profile), then disconnect and connect again."
    )


def other_tutor_with(profile, tutor):
    """The current connection of another tutor with the same Zoom user id or e-mail."""
    zoom_id = str(profile.get("id") or "")
    email = (profile.get("email") or "").lower()
    query = ZoomConnection.current().where(ZoomConnection.tutor != tutor)
    match = (ZoomConnection.zoom_user_id == zoom_id) if zoom_id else None
    if email:
        by_email = ZoomConnection.email == email
        match = by_email if match is None else (match | by_email)
    return query.where(match).first() if match is not None else None


def check_profile(tutor, profile):
    """Raise ConnectRefused if this Zoom profile must not be linked; return a warning or None."""
    user_type = profile.get("type")
    if user_type == 1:
        raise ConnectRefused(FREE_ACCOUNT, "free_account")
    if user_type in (4, 99):
        raise ConnectRefused(NOT_A_LICENSE, "no_license")
    other = other_tutor_with(profile, tutor)
    if other is not None:
        raise ConnectRefused(ALREADY_LINKED, f"already_linked:{other.tutor_id}", owner=other)
    return login_warning(profile.get("login_types"))


def connect(tutor, profile, token, settings, center=None):
    """Store the connection (encrypted tokens) and audit it; returns the row.

    ``row.retired_session`` is today's Daily Session of the previous Zoom account, if this
    call retired it (None otherwise).
    """
    profile = dict(profile)
    if profile.get("email"):
        profile["email"] = profile["email"].lower()
    connection = store_new_connection(tutor, profile, token, settings)
    # Today's session of another Zoom account can't be started with this one: retire it,
    # so the claim protocol creates today's for this account.
    connection.retired_session = daily.retire_other_hosts(tutor, connection.zoom_user_id, center)
    audit.record(
        tutor,
        "zoom.connect",
        center=center,
        target=tutor,
        after={
            "zoom_email": profile.get("email"),
            "zoom_user_id": profile.get("id"),
            "type": profile.get("type"),
            "login_types": profile.get("login_types"),
        },
    )
    return connection


def record_refusal(tutor, profile, reason, center=None, kept_for_owner=False):
    """Audit a refused connect so the administrator can see both accounts."""
    after = {
        "reason": reason,
        "zoom_email": (profile.get("email") or "").lower(),
        "zoom_user_id": profile.get("id"),
    }
    if kept_for_owner:
        after["kept_for_owner"] = True
    audit.record(tutor, "zoom.connect_refused", center=center, target=tutor, after=after)


def hand_to_owner(tutor, refused, profile, token, settings):
    """After a refused "already linked" connect, keep the owner's connection alive.

    Zoom revoked the owner's tokens when this new grant of the same Zoom user was made
    (4741), so revoking the new grant too would leave the owner with nothing. Instead it
    replaces the owner's dead pair. Returns True if it did (then do not revoke it).
    """
    owner = refused.owner
    if owner is None or owner.zoom_user_id != str(profile.get("id") or ""):
        return False  # another Zoom user (a shared e-mail): Zoom revoked nothing of theirs
    if not replace_grant(owner, token, settings=settings):
        return False
    audit.record(
        tutor,
        "zoom.grant_kept",
        center=owner.tutor.home_center(),
        target=owner.tutor,
        after={"zoom_email": owner.email, "reason": "reauthorized_by_another_tutor"},
    )
    return True


def disconnect(tutor, settings, http=None, actor=None, center=None):
    """Revoke at Zoom, wipe tokens even if that fails, end the connection, audit.

    Returns (connection or None, revoked_at_zoom: bool).
    """
    connection = ZoomConnection.for_tutor(tutor)
    if connection is None:
        return None, False
    try:
        revoked = zoom_disconnect.revoke(connection, settings, http)
    except Exception as exc:  # noqa: BLE001 - the local disconnect must still happen
        log.warning("revoke for tutor %s failed: %r", tutor.id, exc)
        ZoomConnection.update(
            access_token_enc=None,
            refresh_token_enc=None,
            status=ZoomConnection.REVOKED,
            ended_at=connection.ended_at or utcnow(),
            revoke_pending=False,
            last_error=f"revoke failed: {type(exc).__name__}",
        ).where(ZoomConnection.id == connection.id).execute()
        revoked = False
    audit.record(
        actor or tutor,
        "zoom.disconnect",
        center=center,
        target=tutor,
        before={"zoom_email": connection.email},
        after={"revoked_at_zoom": revoked},
    )
    return ZoomConnection.get_by_id(connection.id), revoked


def tutor_names(user_ids):
    """Names of users by id (for admin views of refusals)."""
    return dict(User.select(User.id, User.name).where(User.id.in_(list(user_ids))).tuples())


def finish_connect(tutor, args, oauth_state, zoom, center=None):
    """The connect use case after Zoom's redirect: exchange, profile, checks, store, audit.

    ``args`` is the callback's query and ``oauth_state`` the mapping holding the one-time
    state (the Flask session); ``zoom`` is the app's gateway (portal.zoom.wiring). A grant
    the portal will not keep is given back to Zoom.
    """
    settings, http = zoom.settings, zoom.http()
    try:
        token = finish_authorization(args, oauth_state, settings, http)
    except OAuthStateError:
        return ConnectOutcome("invalid_state", 400)
    except OAuthDenied:
        return ConnectOutcome("denied")
    except (OAuthError, ZoomError) as exc:
        log.warning("zoom callback for tutor %s failed: %r", tutor.id, exc)
        return ConnectOutcome("failed", 502 if isinstance(exc, ZoomError) else 400)
    try:
        profile = fetch_profile(token["access_token"], settings, http)
    except ZoomError as exc:
        log.warning("zoom profile for tutor %s failed: %r", tutor.id, exc)
        _revoke_quietly(token, settings, http)
        return ConnectOutcome("no_profile", 502)
    try:
        warning = check_profile(tutor, profile)
    except ConnectRefused as refused:
        kept = hand_to_owner(tutor, refused, profile, token, settings)
        if not kept:
            _revoke_quietly(token, settings, http)
        record_refusal(tutor, profile, refused.reason, center, kept)
        return ConnectOutcome("refused", message=str(refused))
    connection = connect(tutor, profile, token, settings, center)
    outcome = ConnectOutcome("connected", email=profile.get("email"), warning=warning)
    outcome.retired = connection.retired_session
    if outcome.retired is not None:
        # Today's session was the other account's: create this account's now.
        result = daily.ensure_daily_session(tutor, zoom.for_request, center=center)
        if result.session is not None and result.session.zoom_meeting_id:
            outcome.replacement = result.session
    return outcome


def _revoke_quietly(token, settings, http):
    """Give back a grant we will not keep (refused account or failed profile read)."""
    try:
        revoke_token(token["access_token"], settings, http)
    except (OAuthError, ZoomError) as exc:
        log.warning("revoking a refused grant failed: %r", exc)
