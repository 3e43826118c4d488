"""The readiness checklist ("Check my setup", DESIGN §6a): one row per thing that can break.

Each row is green (ok=True), red (ok=False) or grey (ok=None: could not check,
with the reason — a network error is never reported as a problem with the
tutor's setup). Rows that need Zoom make at most two calls: the profile and
today's meeting.
"""

import datetime
import re
import zoneinfo
from dataclasses import dataclass
from urllib.parse import urlsplit

from . import daily
from .connections import LOGIN_NAMES, SOCIAL_LOGINS
from .models import ZoomConnection
from .zoom.errors import ZoomError, ZoomNotFound, ZoomReauthRequired

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
                "In Select meeting choose “Connect to Zoom Account” and press Authorize.",
            )
        )
        rows.append(_connect_link_row(tutor, connected=False))
        return rows
    if connection.status != "active":
        rows.append(
            Row(
                "connected",
                "Zoom account connected",
                False,
                f"The connection to {connection.email} stopped working ({connection.status}).",
                "Choose “Disconnect Zoom Account”, then connect again.",
            )
        )
        rows.append(_connect_link_row(tutor, connected=True))
        return rows
    rows.append(
        Row("connected", "Zoom account connected", True, f"Connected to {connection.email}.")
    )
    client = client_factory(tutor)
    try:
        rows.extend(_profile_rows(client, connection))
        rows.extend(_session_rows(client, tutor))
    finally:
        client.close()
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
            "Ask your center administrator to resolve the duplicate connection." if shared else "",
        )
    )
    return rows


def _unknown(key, label, exc):
    return Row(key, label, None, f"Could not check: Zoom did not answer ({exc}).", "Try again.")


def _profile_rows(client, connection):
    try:
        profile = client.me()
    except ZoomReauthRequired:
        return [
            Row(
                "token",
                "Zoom still accepts the portal",
                False,
                "Zoom no longer accepts the portal's authorization for your account.",
                "Choose “Disconnect Zoom Account”, then connect again.",
            )
        ]
    except ZoomError as exc:
        return [_unknown("token", "Zoom still accepts the portal", exc)]
    rows = [Row("token", "Zoom still accepts the portal", True, "The authorization works.")]
    licensed = profile.get("type") == 2
    rows.append(
        Row(
            "licensed",
            "Licensed Zoom account",
            licensed,
            "Your Zoom account is licensed."
            if licensed
            else "Your Zoom account is a free (Basic) account; it can't host the Daily Session.",
            "" if licensed else "Ask your center for a licensed Zoom account, then reconnect.",
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
            f"{' or '.join(social)}, then reconnect."
            if social
            else "",
        )
    )
    return rows


def _session_rows(client, tutor):
    session = daily.today_session(tutor)
    label = "Today's Daily Session matches Zoom"
    if session is None or session.zoom_meeting_id is None:
        return [
            Row(
                "session",
                label,
                False,
                "Today's Daily Session has not been created yet.",
                "Open Virtual Meetings: the portal prepares it; if that fails, reconnect.",
            )
        ]
    number = daily.format_meeting_number(session.zoom_meeting_id)
    try:
        meeting = client.get_meeting(session.zoom_meeting_id)
    except ZoomNotFound:
        return [
            Row(
                "session",
                label,
                False,
                f"Meeting {number} no longer exists in Zoom.",
                "Disconnect and reconnect, or ask your administrator to recreate today's session.",
            )
        ]
    except ZoomError as exc:
        return [_unknown("session", label, exc)]
    problems = []
    if str(meeting.get("host_id") or "") != str(session.host_id or ""):
        problems.append("it is hosted by another Zoom user")
    if not _same_local_day(meeting, session):
        problems.append(f"Zoom has it on another date ({str(meeting.get('start_time'))[:10]})")
    ok = not problems
    rows = [
        Row(
            "session",
            label,
            ok,
            f"Daily Session {session.date.isoformat()}, meeting {number}"
            + ("." if ok else ", but " + " and ".join(problems) + "."),
            "" if ok else "Sign out of Zoom and back in with the right account, then reconnect.",
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
    raw = str(meeting.get("start_time") or "")
    tz = meeting.get("timezone") or (session.center.timezone if session.center_id else "UTC")
    try:
        moment = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        local = moment.astimezone(zoneinfo.ZoneInfo(tz)).date()
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return False
    return local == session.date


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
        "Ask your center administrator to empty the Connect Link field."
        if is_zoom_link(link)
        else "",
    )
