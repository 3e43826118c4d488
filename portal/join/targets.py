"""Loading what a Join needs: one SELECT for an appointment, its tutor and their state.

``appointment_target`` is the hot path: appointment, center, tutor, the tutor's
current Zoom connection and Daily Sessions dated around today, in one ordinary
peewee query. Today's session (in its center's time zone) is picked in Python.
"""

import datetime
from dataclasses import dataclass

from peewee import JOIN

from .. import clock, daily
from ..models import Appointment, Center, DailySession, Membership, User, ZoomConnection, utcnow

OPENS_BEFORE = datetime.timedelta(minutes=30)


@dataclass(slots=True)
class SessionInfo:
    id: int
    date: datetime.date
    status: str
    meeting_id: int | None
    join_url: str | None

    @property
    def ready(self):
        return self.status in daily.READY and bool(self.meeting_id) and bool(self.join_url)


@dataclass(slots=True)
class Target:
    """Everything resolve() needs, loaded in one query."""

    student_id: int
    appointment_id: int | None
    kind: str | None
    status: str | None
    start_at: datetime.datetime | None
    end_at: datetime.datetime | None
    center_id: int
    center_name: str
    timezone: str
    vm_enabled: bool
    allow_connect_links: bool
    waiting_room: bool
    tutor_id: int | None
    tutor_name: str | None
    tutor_active: bool
    connect_link: str | None
    connection_status: str | None
    session: SessionInfo | None


SessionCenter = Center.alias("session_center")
_COLUMNS = (
    Center.id,
    Center.name,
    Center.timezone,
    Center.virtual_meetings_enabled,
    Center.allow_connect_links,
    Center.waiting_room_default,
    User.id,
    User.name,
    User.active,
    User.connect_link,
    ZoomConnection.status,
    DailySession.id,
    DailySession.date,
    DailySession.status,
    DailySession.zoom_meeting_id,
    DailySession.join_url,
    SessionCenter.timezone,
)


def _local_date(timezone, now):
    return clock.local_date(now, timezone)


def _day_window(now):
    """Center-local today is within a day of UTC today, wherever the center is."""
    utc_day = now.date()
    return utc_day - datetime.timedelta(days=1), utc_day + datetime.timedelta(days=1)


def _with_tutor_state(query, tutor_column, day_from, day_to):
    """LEFT JOIN the tutor's current connection and Daily Sessions dated day_from..day_to."""
    return (
        query.join(
            ZoomConnection,
            JOIN.LEFT_OUTER,
            on=(ZoomConnection.tutor == tutor_column) & ZoomConnection.is_current(),
        )
        .switch()
        .join(
            DailySession,
            JOIN.LEFT_OUTER,
            on=(DailySession.tutor == tutor_column) & DailySession.date.between(day_from, day_to),
        )
        .join(SessionCenter, JOIN.LEFT_OUTER, on=(DailySession.center == SessionCenter.id))
    )


def _todays_session(rows, offset, timezone, now):
    """Pick, among the candidate rows, the session dated today in its center's time zone."""
    for row in rows:
        session_id, day, status, meeting_id, join_url, session_tz = row[offset : offset + 6]
        if session_id is None:
            continue
        if isinstance(day, str):
            day = datetime.date.fromisoformat(day)
        if day == _local_date(session_tz or timezone, now):
            return SessionInfo(session_id, day, status, meeting_id, join_url)
    return None


def _target(student_id, head, rows, offset, now):
    (
        center_id,
        center_name,
        timezone,
        vm_enabled,
        allow_links,
        waiting_room,
        tutor_id,
        tutor_name,
        tutor_active,
        connect_link,
        connection_status,
    ) = rows[0][offset : offset + 11]
    return Target(
        student_id,
        *head,
        center_id,
        center_name,
        timezone,
        bool(vm_enabled),
        bool(allow_links),
        bool(waiting_room),
        tutor_id,
        tutor_name,
        bool(tutor_active),
        connect_link,
        connection_status,
        _todays_session(rows, offset + 11, timezone, now),
    )


_TARGET_FIELDS = (
    Appointment.id,
    Appointment.kind,
    Appointment.status,
    Appointment.start_at,
    Appointment.end_at,
    *_COLUMNS,
)


def appointment_target(student_id, appointment_id, now=None):
    """The student's own appointment (or walk-in) with its tutor's state; None if not theirs.

    One SELECT: appointment, center, tutor, current Zoom connection and the
    tutor's Daily Sessions dated yesterday to tomorrow (UTC; today's, in its
    center's zone, is picked in Python).
    """
    now = now or utcnow()
    query = (
        Appointment.select(*_TARGET_FIELDS)
        .join(Center, on=(Appointment.center == Center.id))
        .switch(Appointment)
        .join(User, JOIN.LEFT_OUTER, on=(Appointment.tutor == User.id))
        .switch(Appointment)
    )
    query = _with_tutor_state(query, Appointment.tutor, *_day_window(now)).where(
        Appointment.id == appointment_id, Appointment.student == student_id
    )
    rows = list(query.tuples())
    if not rows:
        return None
    return _target(student_id, rows[0][:5], rows, 5, now)


def tutor_target(student_id, tutor_id, now=None):
    """A tutor who shares a center with the student, for the stable link; None otherwise.

    The center is the first shared one with Virtual Meetings on (then by name);
    the JoinEvent is tied to the student's appointment with that tutor open now.
    """
    now = now or utcnow()
    student_centers = Membership.select(Membership.center).where(Membership.user == student_id)
    query = (
        User.select(*_COLUMNS)
        .join(Membership, on=(Membership.user == User.id))
        .join(Center, on=(Membership.center == Center.id))
        .switch(User)
    )
    query = (
        _with_tutor_state(query, User.id, *_day_window(now))
        .where(
            User.id == tutor_id,
            User.role == User.TUTOR,
            Center.id.in_(student_centers),
        )
        .order_by(Center.virtual_meetings_enabled.desc(), Center.name)
    )
    rows = list(query.tuples())
    if not rows:
        return None
    center_id = rows[0][0]
    rows = [row for row in rows if row[0] == center_id]
    appointment = open_appointment(student_id, tutor_id, now)
    head = (
        (appointment.id, appointment.kind, appointment.status)
        + (appointment.start_at, appointment.end_at)
        if appointment
        else (None, None, None, None, None)
    )
    return _target(student_id, head, rows, 0, now)


def open_appointment(student_id, tutor_id, now):
    """The student's appointment with this tutor that can be joined now, or None."""
    return (
        Appointment.select()
        .where(
            Appointment.student == student_id,
            Appointment.tutor == tutor_id,
            Appointment.end_at > now,
            ((Appointment.kind == Appointment.ONLINE) & (Appointment.status == Appointment.BOOKED))
            & (Appointment.start_at <= now + OPENS_BEFORE)
            | ((Appointment.kind == "walk_in") & (Appointment.status == Appointment.ASSIGNED)),
        )
        .order_by(Appointment.start_at)
        .first()
    )
