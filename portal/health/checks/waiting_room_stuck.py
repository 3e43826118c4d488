"""waiting_room_stuck: students waiting in a Daily Session's waiting room for too long.

Needs the webhook presence tables (``meeting_participant``, migration 0003); without
them the check is skipped (``available()`` is False) and its findings are left alone.
One SQL query groups the participants still waiting by session; the center's
``waiting_room_limit_minutes`` decides. This module owns the rule and its words
(``limit_minutes``, ``is_stuck``, ``key``, ``describe``, ``evidence``); the webhook
effects (``portal.live.presence``) use them too, so both keep one finding per session.
"""

import datetime

from peewee import fn

from ...db import database
from ...models import Center, DailySession, MeetingParticipant, User
from ..observations import Observation, finding_key
from ._common import plural

NAME = "waiting_room_stuck"
TITLE = "Students stuck in the waiting room"
SEVERITY = "warning"
MEANS = (
    "Students have been in the Daily Session's waiting room longer than the center's "
    "limit and nobody admitted them: the tutor has not started the session, or has not "
    "noticed them."
)
STEPS = (
    "Ask the tutor to start the Daily Session (Preferences → Virtual Meetings → Start) "
    "and admit the students from Zoom's Participants list.",
    "If the tutor can't be reached, let the students know and offer another time.",
    "To let students in without admitting them, switch the waiting room off in the "
    "center's settings (it applies from the next Daily Session).",
)
FIXES = ("reverify",)
RESOLVED = "Nobody is waiting too long any more"
DEFAULT_LIMIT = 5
STALE = datetime.timedelta(hours=12)  # a "waiting" row older than this lost its left event


def limit_minutes(center_limit):
    """The center's waiting-room limit in minutes (the default when it sets none)."""
    return center_limit or DEFAULT_LIMIT


def is_stuck(waited, limit):
    """True when a wait of ``waited`` (a timedelta) is past a limit of ``limit`` minutes."""
    return waited > datetime.timedelta(minutes=limit)


def key(session):
    """The finding's key: one per Daily Session (a row or an id)."""
    return finding_key(NAME, "session", getattr(session, "id", session))


def describe(count, tutor_name, minutes, limit, host_present):
    """The finding's detail: who waits, for how long, and why nobody admits them."""
    host = (
        f"{tutor_name} is in the meeting but has not admitted them."
        if host_present
        else "The Daily Session has not been started, so nobody can admit them."
    )
    return (
        f"{plural(count, 'person has', 'people have')} been waiting in {tutor_name}'s waiting "
        f"room for up to {minutes} minutes (this center's limit is {limit}). {host}"
    )


def evidence(source, session_id, meeting_id, count, minutes, host_present):
    """The finding's evidence (``source`` is "scan" or "webhook")."""
    return {
        "source": source,
        "session": session_id,
        "meeting_id": meeting_id,
        "waiting": count,
        "longest_minutes": minutes,
        "host_present": host_present,
    }


def available():
    """True when the webhook presence table exists."""
    return database.table_exists("meeting_participant")


def run(ctx):
    """Sessions (of tutors in scope) with someone waiting past the center's limit."""
    query = (
        MeetingParticipant.select(
            DailySession.id,
            DailySession.tutor,
            DailySession.center,
            DailySession.status,
            DailySession.zoom_meeting_id,
            User.name,
            Center.waiting_room_limit_minutes,
            fn.COUNT(MeetingParticipant.id),
            fn.MIN(MeetingParticipant.waiting_since),
        )
        .join(DailySession, on=(MeetingParticipant.session == DailySession.id))
        .join(User, on=(DailySession.tutor == User.id))
        .switch(DailySession)
        .join(Center, on=(DailySession.center == Center.id))
        .where(
            MeetingParticipant.state == MeetingParticipant.WAITING,
            MeetingParticipant.waiting_since >= ctx.now - STALE,
            DailySession.status != DailySession.MISSING,
        )
        .group_by(
            DailySession.id,
            DailySession.tutor,
            DailySession.center,
            DailySession.status,
            DailySession.zoom_meeting_id,
            User.name,
            Center.waiting_room_limit_minutes,
        )
    )
    found = []
    for row in ctx.scoped(query, DailySession.tutor).tuples():
        session_id, tutor_id, center_id, status, meeting_id, name, limit, count, since = row
        limit = limit_minutes(limit)
        waited = ctx.now - since
        if not is_stuck(waited, limit):
            continue
        minutes = int(waited.total_seconds() // 60)
        live = status == DailySession.LIVE
        found.append(
            Observation(
                NAME,
                key(session_id),
                SEVERITY,
                center_id,
                tutor_id,
                describe(count, name, minutes, limit, live),
                evidence("scan", session_id, meeting_id, count, minutes, live),
                subject=("session", session_id),
            )
        )
    return found
