"""The live board: today's Daily Sessions as the webhooks left them (no Zoom calls).

For each session: live or not and since when, who waits in the waiting room and
for how long, who joined (with the student they were matched to and minutes
attended while the tutor hosted). Admins see their centers' sessions, a tutor
their own. The pages read it (``read``, ``for_tutor``) and never write; the
webhook sweep's ``recheck`` re-checks the waiting rooms where someone waits, so a
stuck waiting room is noticed between events (writing only when the finding changes).
"""

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from peewee import JOIN, OperationalError

from .. import clock, daily, timefmt
from ..db import retry_locked
from ..health.checks import waiting_room_stuck
from ..models import (
    Center,
    DailySession,
    MeetingParticipant,
    PresenceEvent,
    User,
    ZoomConnection,
    utcnow,
)
from . import presence

log = logging.getLogger("portal.webhooks.board")


@dataclass
class Person:
    name: str
    student: str | None
    state: str
    since: str  # local HH:MM: arrived in the waiting room, or first joined
    minutes: int  # waiting so far, or attended while the tutor hosted
    seconds: int = 0  # the same, exactly
    waited: int | None = None  # minutes the last wait in the waiting room took


@dataclass
class LiveSession:
    session: DailySession
    tutor: User
    center: Center | None
    number: str
    status: str
    started: str | None
    ended: str | None
    limit: int
    connection_ok: bool = True
    waiting: list = field(default_factory=list)
    joined: list = field(default_factory=list)
    left: list = field(default_factory=list)

    @property
    def live(self):
        return self.status == DailySession.LIVE

    @property
    def longest_wait(self):
        return max((p.minutes for p in self.waiting), default=None)

    @property
    def stuck(self):
        """Someone has waited longer than the center's limit."""
        return any(
            waiting_room_stuck.is_stuck(datetime.timedelta(seconds=p.seconds), self.limit)
            for p in self.waiting
        )


def _local(when, timezone):
    """'10:42 AM EST' in the time zone (and the viewer's, where it differs), or None."""
    return None if when is None else timefmt.when(when, timezone, "time")


def _seconds(delta):
    return max(int(delta.total_seconds()), 0)


def todays_sessions(centers, now):
    """Today's Daily Sessions (each center's own today) in these centers."""
    today = {c.id: c.today(now) for c in centers}
    if not today:
        return []
    rows = (
        DailySession.select(DailySession, User)
        .join(User, on=(DailySession.tutor == User.id))
        .where(DailySession.center.in_(list(today)), DailySession.date.in_(set(today.values())))
        .order_by(User.name)
    )
    centers_by_id = {c.id: c for c in centers}
    found = []
    for session in rows:
        if session.date == today[session.center_id]:
            session.center = centers_by_id[session.center_id]
            found.append(session)
    return found


def build(sessions, now):
    """LiveSession rows for these sessions: three queries whatever their number."""
    if not sessions:
        return []
    ids = [s.id for s in sessions]
    people = defaultdict(list)
    for row in (
        MeetingParticipant.select(MeetingParticipant, User)
        .join(User, JOIN.LEFT_OUTER, on=(MeetingParticipant.student == User.id))
        .where(MeetingParticipant.session.in_(ids))
        .order_by(MeetingParticipant.id)
    ):
        people[row.session_id].append(row)
    logs = defaultdict(list)
    for participant_id, kind, at in (
        PresenceEvent.select(PresenceEvent.participant, PresenceEvent.kind, PresenceEvent.at)
        .join(MeetingParticipant)
        .where(MeetingParticipant.session.in_(ids))
        .tuples()
    ):
        logs[participant_id].append((kind, at))
    tutor_ids = {s.tutor_id for s in sessions}
    broken = {
        tutor_id
        for (tutor_id,) in ZoomConnection.select(ZoomConnection.tutor)
        .where(ZoomConnection.tutor.in_(list(tutor_ids)), ZoomConnection.is_broken())
        .tuples()
    }
    rows = [_row(s, people[s.id], logs, now, s.tutor_id not in broken) for s in sessions]
    rows.sort(key=lambda r: (not r.live, -len(r.waiting), r.tutor.name))
    return rows


def _row(session, participants, logs, now, connection_ok):
    center = session.center if session.center_id else None
    timezone = center.timezone if center else clock.UTC
    limit = presence.waiting_room_limit(center)
    live = LiveSession(
        session=session,
        tutor=session.tutor,
        center=center,
        number=daily.format_meeting_number(session.zoom_meeting_id),
        status=session.status,
        started=_local(session.started_at, timezone),
        ended=_local(presence.session_end(session), timezone),
        limit=limit,
        connection_ok=connection_ok,
    )
    host_from, host_until = session.started_at, presence.session_end(session) or now
    for p in participants:
        student = p.student.name if p.student_id else None
        name = p.name or "Unnamed participant"
        if p.state == MeetingParticipant.WAITING:
            since = p.waiting_since or now
            waited = _seconds(now - since)
            live.waiting.append(
                Person(name, student, p.state, _local(since, timezone), waited // 60, waited)
            )
        else:
            derived = presence.derive(logs.get(p.id, []), presence.session_end(session))
            attended = _seconds(presence.overlap(derived.intervals, host_from, host_until))
            since = _local(p.joined_at, timezone) or ""
            waited = _seconds(derived.waited) // 60 if derived.waited is not None else None
            person = Person(name, student, p.state, since, attended // 60, attended, waited)
            (live.joined if p.state == MeetingParticipant.JOINED else live.left).append(person)
    live.waiting.sort(key=lambda p: -p.seconds)
    return live


def check_waiting_rooms(rows, now):
    """Re-check the waiting-room finding of every session where someone waits."""
    for row in rows:
        if not row.waiting:
            continue
        waiting = presence.waiting_times(row.session)

        def check(session=row.session, waiting=waiting):
            # No transaction: it reads first and writes (one statement) only on a change.
            presence.check_waiting_room(session, waiting, now)

        try:
            retry_locked(check)
        except OperationalError:  # the board still shows; the next poll tries again
            log.warning("waiting-room check for session %s skipped: database busy", row.session.id)


def read(centers, now=None):
    """The admin's board: [(center, [LiveSession])] for centers with a session today; reads."""
    now = now or utcnow()
    return _grouped(centers, build(todays_sessions(list(centers), now), now))


def board(centers, now=None):
    """The board after re-checking the waiting rooms where someone waits (writes on a change)."""
    now = now or utcnow()
    rows = build(todays_sessions(list(centers), now), now)
    check_waiting_rooms(rows, now)
    return _grouped(centers, rows)


def recheck(now=None):
    """Re-check every center's waiting rooms today, so a wait that grew too long is noticed
    between events; the webhook sweep runs it (every minute, and after each delivery)."""
    waiting = MeetingParticipant.select(MeetingParticipant.session).where(
        MeetingParticipant.state == MeetingParticipant.WAITING
    )
    centers = Center.select().where(
        Center.id.in_(DailySession.select(DailySession.center).where(DailySession.id.in_(waiting)))
    )
    return board(list(centers), now)


def _grouped(centers, rows):
    grouped = defaultdict(list)
    for row in rows:
        grouped[row.center.id].append(row)
    return [(c, grouped[c.id]) for c in centers if grouped.get(c.id)]


def for_tutor(tutor, now=None):
    """The tutor's own LiveSession for today, or None (reads only)."""
    now = now or utcnow()
    session = daily.today_session(tutor, now=now)
    if session is None or session.zoom_meeting_id is None:
        return None
    return build([session], now)[0]
