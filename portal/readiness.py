"""The readiness checklist ("Check my setup", DESIGN §6a): one row per thing that can break.

Each row is green (ok=True), red (ok=False) or grey (ok=None: could not check,
with the reason — a network error is never reported as a problem with the
tutor's setup). Rows that need Zoom make at most two calls: the profile and
today's meeting. The rows never contradict each other: when Zoom refuses the
token (or the stored status says it did) "connected" is red too and the rows
Zoom could not be asked about are grey; statuses are shown in plain words
(``status_words``), and each fix names the one button that fixes it.
"Zoom permissions" reads the stored scopes (``portal.zoom.scopes``) and any
4711 the two calls just got.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import clock, daily, timefmt
from .connections import LOGIN_NAMES, SOCIAL_LOGINS
from .models import ZoomConnection
from .zoom import scopes
from .zoom.errors import (
    ZoomAuthError,
    ZoomError,
    ZoomNotFound,
    ZoomReauthRequired,
    ZoomScopeError,
)

ZOOM_LINK = re.compile(r"(^|\.)zoom\.(us|com)$")


@dataclass
class Row:
    key: str
    label: str
    ok: bool | None
    detail: str
    fix: str = ""


def is_zoom_link(url):
    """True if url points at Zoom (a PMI, personal link, any zoom.us/j/… meeting)."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    return bool(ZOOM_LINK.search(host))


def _shared(connection):
    return (
        ZoomConnection.current()
        .where(
            ZoomConnection.tutor != connection.tutor_id,
            (ZoomConnection.zoom_user_id == connection.zoom_user_id)
            | (ZoomConnection.email == connection.email),
        )
        .exists()
    )


STATUS_WORDS = {
    "needs_reauth": "Zoom stopped accepting the portal's authorization",
    "deauthorized": "the portal app was removed from your Zoom account",
    "revoked": "the authorization was revoked",
    "error": "the connection failed",
    "ended": "the connection was ended",
}
RECONNECT = "Press “Connect again” in Preferences → Virtual Meetings."
CHECK_AGAIN = "Press “Check again” in a few minutes."
TOKEN = "Zoom still accepts the portal"
PERMISSIONS = "Zoom permissions"
SESSION = "Today's Daily Session matches Zoom"
REFUSED = "Zoom refuses the portal's authorization, so it can't be asked until you connect again"
PROFILE_ROWS = (
    ("licensed", "Licensed Zoom account"),
    ("login", "Signs in with e-mail and password"),
)


def status_words(status):
    """A connection status in plain words (never the raw status string)."""
    return STATUS_WORDS.get(status, "the connection stopped working")


def _grey(key, label, reason, fix=""):
    return Row(key, label, None, f"Not checked: {reason}.", fix)


def _not_checked(why):
    """The token row (red: the stored status says why) and the Zoom rows that can't be asked."""
    reason = f"{why}; Zoom can't be asked until you connect again"
    keys = (*PROFILE_ROWS, ("permissions", PERMISSIONS), ("session", SESSION))
    return [
        Row("token", TOKEN, False, why[0].upper() + why[1:] + ".", RECONNECT),
        *(_grey(key, label, reason) for key, label in keys),
    ]


def check_tutor(tutor, client_factory):
    """Run every readiness check for a tutor; returns a list of Row."""
    connection = ZoomConnection.for_tutor(tutor)
    rows = []
    if connection is None:
        rows.append(
            Row(
                "connected",
                "Zoom account connected",
                False,
                "No Zoom account is connected.",
                "In Select meeting choose “Connect to Zoom Account”, then press “Authorize”.",
            )
        )
        rows.append(_connect_link_row(tutor, connected=False))
        return rows
    if connection.status != ZoomConnection.ACTIVE:
        why = status_words(connection.status)
        rows.append(
            _refused_row(
                connection, f"The connection to {connection.email} stopped working: {why}."
            )
        )
        rows.extend(_not_checked(why))
        rows.append(_connect_link_row(tutor, connected=True))
        return rows
    client = client_factory(tutor)
    try:
        profile = _ask(client.me)
        meeting = _ask_session(client, tutor, refused=profile.refused)
    finally:
        client.close()
    if profile.refused or meeting.refused:
        rows.append(
            _refused_row(
                connection,
                f"You connected {connection.email}, but Zoom no longer accepts the portal's "
                "authorization for it.",
            )
        )
    else:
        rows.append(
            Row("connected", "Zoom account connected", True, f"Connected to {connection.email}.")
        )
    rows.extend(_profile_rows(profile, meeting))
    rows.append(_permissions_row(connection, profile, meeting))
    rows.extend(_session_rows(meeting, profile.refused or meeting.refused))
    rows.append(_connect_link_row(tutor, connected=True))
    shared = _shared(connection)
    rows.append(
        Row(
            "not_shared",
            "Zoom account used by you only",
            not shared,
            "This Zoom account is also connected to another tutor's portal account."
            if shared
            else "No other tutor uses this Zoom account.",
            "Ask your center administrator to choose which tutor keeps this Zoom account "
            "(“Keep the Zoom account for the chosen tutor”)."
            if shared
            else "",
        )
    )
    return rows


def _refused_row(connection, detail):
    return Row("connected", "Zoom account connected", False, detail, RECONNECT)


@dataclass
class _Answer:
    """What one Zoom call gave: the data, or why not (refused, a missing scope, no answer)."""

    data: dict | None = None
    refused: bool = False
    scope_error: ZoomScopeError | None = None
    error: ZoomError | None = None
    session: object = None
    skipped: str = ""


def _ask(call, *args):
    try:
        return _Answer(data=call(*args))
    except (ZoomReauthRequired, ZoomAuthError):
        return _Answer(refused=True)
    except ZoomScopeError as exc:
        return _Answer(scope_error=exc)
    except ZoomError as exc:
        return _Answer(error=exc)


def _ask_session(client, tutor, refused):
    session = daily.today_session(tutor)
    if session is None or session.zoom_meeting_id is None:
        return _Answer(session=session, skipped="not created")
    if refused:
        return _Answer(session=session, skipped="refused")
    answer = _ask(client.get_meeting, session.zoom_meeting_id)
    answer.session = session
    return answer


def _unknown(key, label, exc):
    return Row(key, label, None, f"Could not check: Zoom did not answer ({exc}).", CHECK_AGAIN)


def _profile_rows(answer, meeting):
    """The token, licence and sign-in rows from GET /users/me."""
    if answer.refused or meeting.refused:
        return [
            Row(
                "token",
                TOKEN,
                False,
                "Zoom no longer accepts the portal's authorization for your account.",
                RECONNECT,
            ),
            *(_grey(key, label, REFUSED) for key, label in PROFILE_ROWS),
        ]
    if answer.error is not None:
        return [
            _unknown("token", TOKEN, answer.error),
            *(_unknown(key, label, answer.error) for key, label in PROFILE_ROWS),
        ]
    rows = [Row("token", TOKEN, True, "The authorization works.")]
    if answer.scope_error is not None:
        reason = "the portal isn't allowed to read your Zoom profile (see Zoom permissions)"
        return rows + [_grey(key, label, reason) for key, label in PROFILE_ROWS]
    profile = answer.data or {}
    licensed = profile.get("type") == 2
    rows.append(
        Row(
            "licensed",
            "Licensed Zoom account",
            licensed,
            "Your Zoom account is licensed."
            if licensed
            else "Your Zoom account is a free (Basic) account; it can't host the Daily Session.",
            ""
            if licensed
            else "Sign in to Zoom with a licensed account (ask your center for one), then "
            "press “Connect again”.",
        )
    )
    types = profile.get("login_types") or []
    social = [SOCIAL_LOGINS[t] for t in types if t in SOCIAL_LOGINS]
    names = ", ".join(LOGIN_NAMES.get(t, str(t)) for t in types) or "unknown"
    rows.append(
        Row(
            "login",
            "Signs in with e-mail and password",
            not social,
            f"Zoom sign-in method: {names}.",
            "Sign in to Zoom with your e-mail and password instead of "
            f"{' or '.join(social)}, then press “Connect again”."
            if social
            else "",
        )
    )
    return rows


def _permissions_row(connection, profile, meeting):
    """Zoom permissions: the stored scopes, and what a 4711 from Zoom named just now."""
    if profile.refused or meeting.refused:
        return _grey("permissions", PERMISSIONS, REFUSED)
    stored = scopes.missing(connection.scopes)
    refusals = [a.scope_error for a in (profile, meeting) if a.scope_error is not None]
    named = [name for exc in refusals for name in exc.scopes]
    parts, items = [], list(stored or [])
    if stored:
        parts.append(f"The portal's Zoom app isn't allowed to {scopes.phrase(stored)}.")
    if refusals:
        said = ", ".join(dict.fromkeys(named)) or "a permission (code 4711)"
        parts.append(f"Zoom just answered that the authorization lacks {said}.")
        items += [m for m in scopes.named(named) if m not in items]
    if items or refusals:
        if items:
            parts.append(scopes.consequence(items))
        fix = f"{scopes.who_adds(items)}; then press “Connect again”."
        return Row("permissions", PERMISSIONS, False, " ".join(parts), fix)
    if stored is None:
        return _grey(
            "permissions",
            PERMISSIONS,
            "Zoom did not say which permissions it granted when you connected",
            RECONNECT,
        )
    return Row(
        "permissions",
        PERMISSIONS,
        True,
        "The portal's Zoom app may read your profile and create, read, list, update and "
        "delete meetings.",
    )


def _session_rows(answer, refused):
    session = answer.session
    if refused:
        return [_grey("session", SESSION, REFUSED)]
    if answer.skipped == "not created":
        return [
            Row(
                "session",
                SESSION,
                False,
                "Today's Daily Session has not been created yet.",
                "Press “Create today's session” in Preferences → Virtual Meetings.",
            )
        ]
    number = daily.format_meeting_number(session.zoom_meeting_id)
    if answer.scope_error is not None:
        reason = f"the portal isn't allowed to read meeting {number} (see Zoom permissions)"
        return [_grey("session", SESSION, reason)]
    if isinstance(answer.error, ZoomNotFound):
        return [
            Row(
                "session",
                SESSION,
                False,
                f"Meeting {number} no longer exists in Zoom.",
                "Ask your center administrator to press “Recreate today's Daily Session”.",
            )
        ]
    if answer.error is not None:
        return [_unknown("session", SESSION, answer.error)]
    meeting = answer.data or {}
    problems = []
    if str(meeting.get("host_id") or "") != str(session.host_id or ""):
        problems.append("it is hosted by another Zoom user")
    if not _same_local_day(meeting, session):
        problems.append(f"Zoom has it on another date ({str(meeting.get('start_time'))[:10]})")
    ok = not problems
    rows = [
        Row(
            "session",
            SESSION,
            ok,
            f"Daily Session {timefmt.day(session.date)}, meeting {number}"
            + ("." if ok else ", but " + " and ".join(problems) + "."),
            ""
            if ok
            else "Sign out of Zoom and back in with the account you teach with, then press "
            "“Connect again”.",
        )
    ]
    waiting = (meeting.get("settings") or {}).get("waiting_room")
    rows.append(
        Row(
            "waiting_room",
            "Waiting room",
            True,
            "The waiting room is on: admit students from Zoom when they arrive."
            if waiting
            else "The waiting room is off: students join as soon as you start.",
        )
    )
    return rows


def _same_local_day(meeting, session):
    """Compare Zoom's UTC start_time with the session date in the center's time zone."""
    tz = meeting.get("timezone") or (session.center.timezone if session.center_id else "UTC")
    return clock.iso_local_date(meeting.get("start_time"), tz) == session.date


def _connect_link_row(tutor, connected):
    link = tutor.connect_link
    stale = connected and is_zoom_link(link)
    if not link:
        detail = "Your profile has no Connect Link."
    elif stale:
        detail = f"Your profile's Connect Link points at Zoom ({link})."
    else:
        detail = f"Your profile's Connect Link is {link}."
    return Row(
        "connect_link",
        "No Zoom link left in the Connect Link field",
        not stale if connected else (not is_zoom_link(link)),
        detail,
        "Ask your center administrator to press “Clear Connect Link”."
        if is_zoom_link(link)
        else "",
    )


# --- ready for online appointments ------------------------------------------------------

NOT_ONLINE = "not available online"


def reaches(active, connection_status, connect_link, allow_connect_links):
    """Join's rule: would a student's Join reach this tutor now (without calling Zoom)?

    Yes for an active tutor whose current Zoom connection is usable (Join sends students
    to today's Daily Session), or who has no current connection but a usable Connect
    Link the center allows. A broken connection, or no connection and no allowed Connect
    Link, is no: Join would send the student nowhere.
    """
    from .join import usable_connect_link  # join imports the health checks, which import us

    if not active:
        return False
    if connection_status is not None:
        return connection_status == ZoomConnection.ACTIVE
    return bool(allow_connect_links and usable_connect_link(connect_link))


def online_ready(tutors, center):
    """The ids of ``tutors`` a student's Join would reach right now (``reaches``)."""
    tutors = list(tutors)
    ids = [t.id for t in tutors]
    if not ids:
        return set()
    current = dict(
        ZoomConnection.select(ZoomConnection.tutor, ZoomConnection.status)
        .where(ZoomConnection.is_current(), ZoomConnection.tutor.in_(ids))
        .tuples()
    )
    return {
        t.id
        for t in tutors
        if reaches(t.active, current.get(t.id), t.connect_link, center.allow_connect_links)
    }


def target_ready(target):
    """``reaches`` for a Join target (``portal.join.targets``), from the row already loaded."""
    return target.tutor_id is not None and reaches(
        target.tutor_active,
        target.connection_status,
        target.connect_link,
        target.allow_connect_links,
    )


def online_problem(tutor, center):
    """Why Join would not reach ``tutor`` now (a plain sentence), or None when it would."""
    if tutor.id in online_ready([tutor], center):
        return None
    connection = ZoomConnection.for_tutor(tutor)
    if connection is not None:
        why = status_words(connection.status)
        return f"{tutor.name}'s Zoom connection stopped working: {why}."
    if tutor.connect_link and not center.allow_connect_links:
        return (
            f"{tutor.name} has no Zoom connection, and {center.name} does not allow Connect Links."
        )
    return f"{tutor.name} has not connected a Zoom account."
