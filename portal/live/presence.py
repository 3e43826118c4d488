"""Who waited, joined and left a Daily Session, from participant webhooks.

Every event is kept in ``PresenceEvent`` (unique per participant, kind and time,
so a duplicate changes nothing) and the ``MeetingParticipant`` summary is derived
from the whole log sorted by Zoom's event times: deliveries arriving out of order
converge on the same state. The meeting's end closes everyone's presence.

A participant is matched to a student only on exact evidence from the student's
own Join click (same e-mail, or the very same portal name when exactly one
student who joined this meeting that day has it); otherwise it stays unmatched.
"""

import datetime
from dataclasses import dataclass

from peewee import IntegrityError

from .. import clock
from ..db import database
from ..health.checks import waiting_room_stuck
from ..health.findings import open_finding, open_for
from ..health.findings import resolve as resolve_finding
from ..models import DailySession, JoinEvent, MeetingParticipant, PresenceEvent, User, utcnow

KIND_ORDER = {"waiting": 0, "admitted": 1, "joined": 2, "left": 3}


@dataclass
class Derived:
    state: str | None
    waiting_since: datetime.datetime | None
    admitted_at: datetime.datetime | None
    joined_at: datetime.datetime | None
    left_at: datetime.datetime | None
    last_event_at: datetime.datetime | None
    intervals: list  # [(start, end or None)] inside the meeting
    waited: datetime.timedelta | None  # the last finished wait in the waiting room


def session_end(session):
    """When the meeting ended, if its latest news is an end (not a later restart)."""
    if session.ended_at and (session.started_at is None or session.ended_at >= session.started_at):
        return session.ended_at
    return None


def derive(events, ended_at=None):
    """Fold (kind, at) events, in time order, into a participant's current state."""
    ordered = sorted(events, key=lambda e: (e[1], KIND_ORDER[e[0]]))
    state = waiting_since = admitted_at = joined_at = left_at = last = inside = None
    intervals, waited = [], None
    for kind, at in ordered:
        last = at
        if state == MeetingParticipant.WAITING and kind != "waiting" and waiting_since is not None:
            waited = at - waiting_since
        if kind == "waiting":
            state, waiting_since = MeetingParticipant.WAITING, at
            if inside is not None:
                intervals.append((inside, at))
                inside = None
        elif kind in ("admitted", "joined"):
            if kind == "admitted":
                admitted_at = at
            state, left_at = MeetingParticipant.JOINED, None
            joined_at = joined_at or at
            inside = inside or at
        else:
            state, left_at = MeetingParticipant.LEFT, at
            if inside is not None:
                intervals.append((inside, at))
                inside = None
    present = (MeetingParticipant.WAITING, MeetingParticipant.JOINED)
    if ended_at is not None and state in present and last <= ended_at:
        if state == MeetingParticipant.WAITING and waiting_since is not None:
            waited = ended_at - waiting_since
        state, left_at = MeetingParticipant.LEFT, ended_at
        if inside is not None:
            intervals.append((inside, ended_at))
            inside = None
    if inside is not None:
        intervals.append((inside, None))
    return Derived(state, waiting_since, admitted_at, joined_at, left_at, last, intervals, waited)


def events_of(participant_id):
    """The (kind, at) log of one participant."""
    return list(
        PresenceEvent.select(PresenceEvent.kind, PresenceEvent.at)
        .where(PresenceEvent.participant == participant_id)
        .tuples()
    )


def refresh(row, session, now=None):
    """Recompute a participant's summary from its log and the meeting's end."""
    derived = derive(events_of(row.id), session_end(session))
    MeetingParticipant.update(
        state=derived.state or MeetingParticipant.LEFT,
        waiting_since=derived.waiting_since,
        admitted_at=derived.admitted_at,
        joined_at=derived.joined_at,
        left_at=derived.left_at,
        last_event_at=derived.last_event_at,
        updated_at=now or utcnow(),
    ).where(MeetingParticipant.id == row.id).execute()


def refresh_session(session, now=None):
    """Recompute every participant of a session (after the meeting started or ended)."""
    for row in MeetingParticipant.select().where(MeetingParticipant.session == session):
        refresh(row, session, now)


def _participant_row(session, person, now):
    identity = {
        "zoom_user_id": person.zoom_user_id,
        "participant_uuid": person.participant_uuid,
        "updated_at": now,
    }
    if person.name:
        identity["name"] = person.name
    if person.email:
        identity["email"] = person.email
    query = MeetingParticipant.select().where(
        MeetingParticipant.session == session,
        MeetingParticipant.participant_key == person.key,
    )
    row = query.first()
    if row is None:
        try:
            with database.atomic():
                return MeetingParticipant.create(
                    session=session, participant_key=person.key, state=person.kind, **identity
                )
        except IntegrityError:
            row = query.get()
    MeetingParticipant.update(**identity).where(MeetingParticipant.id == row.id).execute()
    return MeetingParticipant.get_by_id(row.id)


def record(session, person, delivery_id=None, now=None):
    """Keep one participant event of a session; returns the refreshed participant row."""
    now = now or utcnow()
    row = _participant_row(session, person, now)
    try:
        with database.atomic():
            PresenceEvent.create(
                participant=row, kind=person.kind, at=person.at, delivery=delivery_id
            )
    except IntegrityError:
        pass  # the same event again (another delivery of it): nothing changes
    refresh(row, session, now)
    row = MeetingParticipant.get_by_id(row.id)
    if row.student_id is None:
        match_student(row, session)
    return MeetingParticipant.get_by_id(row.id)


# --- matching ----------------------------------------------------------------------------------


def _normal(name):
    return " ".join((name or "").split()).casefold()


def _day_window(session):
    """The session's date as a naive-UTC interval, in its center's time zone.

    24 hours from local midnight (not ``clock.day_bounds``, which differs on a DST day).
    """
    timezone = session.center.timezone if session.center_id else clock.UTC
    start = clock.to_utc(datetime.datetime.combine(session.date, datetime.time()), timezone)
    return start, start + datetime.timedelta(days=1)


def match_student(row, session):
    """Link the participant to the student who pressed Join, on exact evidence only."""
    if session.zoom_meeting_id is None or not (row.email or row.name):
        return None
    start, end = _day_window(session)
    joins = list(
        JoinEvent.select(JoinEvent, User)
        .join(User, on=(JoinEvent.student == User.id))
        .where(
            JoinEvent.meeting_id == session.zoom_meeting_id,
            JoinEvent.destination == JoinEvent.DAILY_SESSION,
            JoinEvent.created_at >= start,
            JoinEvent.created_at < end,
        )
        .order_by(JoinEvent.created_at.desc())
    )
    chosen = None
    if row.email:
        chosen = next((j for j in joins if j.student.email == row.email), None)
    if chosen is None and row.name:
        named = {j.student_id: j for j in joins if _normal(j.student.name) == _normal(row.name)}
        if len(named) == 1:  # two students of that name: never guess
            chosen = next(iter(named.values()))
    if chosen is None:
        return None
    MeetingParticipant.update(student=chosen.student_id, appointment=chosen.appointment_id).where(
        MeetingParticipant.id == row.id
    ).execute()
    return chosen.student


# --- attendance --------------------------------------------------------------------------------


def overlap(intervals, start, end):
    """Total time the intervals (open ends run to ``end``) spend inside [start, end]."""
    total = datetime.timedelta(0)
    if start is None:
        return total
    for a, b in intervals:
        b = b or end
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += hi - lo
    return total


def attendance(session, participant_id, now=None):
    """Time the participant was in the meeting while the tutor hosted it (live)."""
    now = now or utcnow()
    derived = derive(events_of(participant_id), session_end(session))
    return overlap(derived.intervals, session.started_at, session_end(session) or now)


def appointment_attendance(appointment_id, now=None):
    """Time the appointment's student spent with the tutor, over every matched participant.

    None when no participant was matched to the appointment (unknown, not zero).
    """
    rows = list(
        MeetingParticipant.select(MeetingParticipant, DailySession)
        .join(DailySession)
        .where(MeetingParticipant.appointment == appointment_id)
    )
    if not rows:
        return None
    return sum((attendance(row.session, row.id, now) for row in rows), datetime.timedelta(0))


# --- the waiting room ---------------------------------------------------------------------------


def waiting_room_key(session):
    """The key of the session's waiting_room_stuck finding (the check's)."""
    return waiting_room_stuck.key(session)


def waiting_room_limit(center):
    """The center's waiting-room limit in minutes (the check's rule)."""
    return waiting_room_stuck.limit_minutes(center.waiting_room_limit_minutes if center else None)


def check_waiting_room(session, waiting_since, now=None):
    """Open, refresh or resolve the session's waiting_room_stuck finding.

    ``waiting_since`` lists when each person still waiting arrived. Writes only
    when something changed; the rule and its words are the check's.
    """
    now = now or utcnow()
    center = session.center if session.center_id else None
    limit = waiting_room_limit(center)
    key = waiting_room_key(session)
    stuck = [
        since
        for since in waiting_since
        if since is not None and waiting_room_stuck.is_stuck(now - since, limit)
    ]
    current = open_for(key)
    if not stuck:
        if current is not None:
            resolve_finding(key, "everyone waiting was admitted or left", now=now)
        return None
    longest = int((now - min(stuck)).total_seconds() // 60)
    tutor = session.tutor
    live = session.status == DailySession.LIVE
    detail = waiting_room_stuck.describe(len(stuck), tutor.name, longest, limit, live)
    if current is not None and current.detail == detail:
        return current
    return open_finding(
        waiting_room_stuck.NAME,
        key,
        waiting_room_stuck.SEVERITY,
        center,
        tutor,
        detail,
        waiting_room_stuck.evidence(
            "webhook", session.id, session.zoom_meeting_id, len(stuck), longest, live
        ),
        subject=("session", session.id),
        now=now,
    )


def waiting_times(session):
    """When each participant still in the session's waiting room arrived."""
    return [
        since
        for (since,) in MeetingParticipant.select(MeetingParticipant.waiting_since)
        .where(
            MeetingParticipant.session == session,
            MeetingParticipant.state == MeetingParticipant.WAITING,
        )
        .tuples()
    ]
