"""The Zoom part of a scan, one tutor at a time: refresh the profile, compare today's session.

For each tutor with a working connection (a ``Target``, read for all tutors at
once in three queries) a worker makes at most four API calls: ``GET /users/me``
(the profile that ``free_account`` and ``social_login`` then read from the
database), and for today's Daily Session the list and the meeting (plus one
re-check when Zoom says it is gone). Workers only read and call Zoom; every write
(profile fields, findings) happens afterwards in the scan's own thread.
"""

import datetime
from dataclasses import dataclass

from .. import clock
from ..models import Center, DailySession, Membership, User, ZoomConnection
from ..zoom.client import ZoomClient
from ..zoom.errors import ZoomError, ZoomReauthRequired
from .checks import session_mismatch
from .checks.session_mismatch import NotChecked

PROFILE_FIELDS = ("email", "user_type", "login_types", "pmi", "personal_meeting_url", "account_id")


@dataclass
class Target:
    """A tutor the scan asks Zoom about, with what the portal has stored."""

    tutor_id: int
    name: str
    connection_id: int
    account: str
    stored: dict
    center_id: int | None = None
    timezone: str = "UTC"
    date: datetime.date | None = None
    session_id: int | None = None
    meeting_id: int | None = None
    host_id: str | None = None


@dataclass
class Outcome:
    """What one tutor's Zoom calls found."""

    target: Target
    profile: dict | None = None
    broken: bool = False
    verdict: object = None
    reasons: tuple = ()
    calls: int = 0


def targets(tutors=None, now=None):
    """Tutors (in the ``tutors`` query, or all) with a current, working Zoom connection."""
    query = (
        ZoomConnection.select(
            ZoomConnection.id,
            ZoomConnection.tutor,
            User.name,
            ZoomConnection.account_id,
            ZoomConnection.zoom_user_id,
            *[getattr(ZoomConnection, f) for f in PROFILE_FIELDS if f != "account_id"],
        )
        .join(User, on=(ZoomConnection.tutor == User.id))
        .where(
            ZoomConnection.is_usable(),
            User.is_active_tutor(),
        )
        .order_by(ZoomConnection.tutor)
    )
    if tutors is not None:
        query = query.where(ZoomConnection.tutor.in_(tutors))
    found = {}
    for row in query.tuples():
        conn_id, tutor_id, name, account, zoom_user_id, *profile = row
        stored = dict(zip([f for f in PROFILE_FIELDS if f != "account_id"], profile, strict=True))
        stored["account_id"] = account
        found[tutor_id] = Target(tutor_id, name, conn_id, account or zoom_user_id, stored)
    _add_sessions(found, tutors, now)
    return list(found.values())


def _add_sessions(found, tutors, now):
    """Each tutor's home center (first Virtual Meetings center by name) and today's session."""
    if not found:
        return
    homes = (
        Membership.select(Membership.user, Center.id, Center.name, Center.timezone)
        .join(Center)
        .where(Center.is_virtual())
        .order_by(Membership.user, Center.name)
    )
    if tutors is not None:
        homes = homes.where(Membership.user.in_(tutors))
    days = {}
    for tutor_id, center_id, _name, zone in homes.tuples():
        target = found.get(tutor_id)
        if target is None or target.center_id is not None:
            continue
        target.center_id, target.timezone = center_id, zone
        if zone not in days:
            days[zone] = clock.today(zone, now)
        target.date = days[zone]
    if not days:
        return
    sessions = DailySession.select(
        DailySession.id,
        DailySession.tutor,
        DailySession.date,
        DailySession.zoom_meeting_id,
        DailySession.host_id,
    ).where(DailySession.date.in_(list(set(days.values()))))
    if tutors is not None:
        sessions = sessions.where(DailySession.tutor.in_(tutors))
    for session_id, tutor_id, day, meeting_id, host_id in sessions.tuples():
        target = found.get(tutor_id)
        if target is not None and target.date == day and meeting_id:
            target.session_id, target.meeting_id, target.host_id = session_id, meeting_id, host_id


def check(target, settings, http, recheck, sleep):
    """Ask Zoom about one tutor; never raises for Zoom's sake (reasons say what failed)."""
    client = ZoomClient(ZoomConnection(id=target.connection_id), settings, http=http, sleep=sleep)
    outcome = Outcome(target)
    reasons = []
    try:
        try:
            outcome.profile = client.me()
        except ZoomReauthRequired:
            outcome.broken = True  # the connection is now needs_reauth: connection_broken
            return outcome
        except ZoomError as exc:
            reasons.append(f"the profile: {exc}")
        if target.meeting_id:
            try:
                outcome.verdict = session_mismatch.inspect(client, target, recheck, sleep)
            except NotChecked as exc:
                reasons.append(f"today's Daily Session: {exc}")
    finally:
        client.close()
        outcome.calls = getattr(http, "calls", 0)
        outcome.reasons = tuple(reasons)
    return outcome


def profile_changes(target, profile):
    """The stored profile fields that differ from Zoom's answer (for one UPDATE)."""
    types = profile.get("login_types")
    if types is not None and not isinstance(types, list):
        types = [types]
    fresh = {
        "email": (profile.get("email") or "").lower() or None,
        "user_type": profile.get("type"),
        "login_types": types,
        "pmi": _int(profile.get("pmi")),
        "personal_meeting_url": profile.get("personal_meeting_url"),
        "account_id": profile.get("account_id"),
    }
    return {k: v for k, v in fresh.items() if v is not None and v != target.stored.get(k)}


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
