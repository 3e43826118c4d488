"""Appointments and the Join presses they lead to."""

from peewee import (
    SQL,
    BigIntegerField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from .base import BaseModel, utcnow
from .people import Center, User


class Appointment(BaseModel):
    # kind values (APPOINTMENT_KINDS)
    ONLINE = "online"
    WALK_IN = "walk_in"
    IN_PERSON = "in_person"
    # status values (walk-ins queue as WAITING, then ASSIGNED or LEFT)
    BOOKED = "booked"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    WAITING = "waiting"
    ASSIGNED = "assigned"
    LEFT = "left"

    student = ForeignKeyField(User, backref="appointments", on_delete="CASCADE")
    tutor = ForeignKeyField(User, null=True, backref="tutor_appointments", on_delete="SET NULL")
    center = ForeignKeyField(Center, backref="appointments", on_delete="CASCADE")
    kind = CharField(
        max_length=20, constraints=[SQL("CHECK (kind IN ('online','walk_in','in_person'))")]
    )
    start_at = DateTimeField()  # naive UTC
    end_at = DateTimeField()
    # booked | cancelled | completed | waiting (walk-in queue) | assigned | left
    status = CharField(max_length=20, default="booked")
    note = CharField(max_length=500, null=True)
    # bumped each time the appointment moves: the calendar invitation's SEQUENCE (0006)
    sequence = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


# No double booking of a tutor's slot: enforced by the database.
Appointment.add_index(
    Appointment.index(Appointment.tutor, Appointment.start_at, unique=True).where(
        Appointment.status == Appointment.BOOKED
    )
)


class Availability(BaseModel):
    """One weekly range a tutor takes appointments at a center (center-local HH:MM).

    A tutor without any range at a center is available during its opening hours.
    """

    tutor = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    center = ForeignKeyField(Center, backref="+", on_delete="CASCADE")
    weekday = IntegerField(constraints=[SQL("CHECK (weekday BETWEEN 0 AND 6)")])  # 0 = Monday
    starts = CharField(max_length=5)
    ends = CharField(max_length=5)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "tutor_availability"
        indexes = ((("tutor", "center", "weekday"), False),)


class DayOff(BaseModel):
    """A whole center-local date a tutor takes no appointments at a center."""

    tutor = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    center = ForeignKeyField(Center, backref="+", on_delete="CASCADE")
    day = DateField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "tutor_day_off"
        indexes = ((("tutor", "center", "day"), True),)


class JoinEvent(BaseModel):
    """One press of Join: where it sent the student, and why."""

    # destination values
    DAILY_SESSION = "daily_session"
    CONNECT_LINK = "connect_link"
    NOWHERE = "nowhere"
    # the words for the stored destination and reason (admin and tutor pages, health checks)
    REASONS = {
        "session_known": "Today's Daily Session",
        "session_created": "Today's Daily Session (prepared when the student pressed Join)",
        "connect_link": "Connect Link: the tutor has no Zoom connection",
        "connection_broken": "Nowhere: the tutor's Zoom connection stopped working",
        "session_pending": "Nowhere: today's Daily Session was still being prepared",
        "session_failed": "Nowhere: today's Daily Session could not be created",
        "join_url_refused": "Nowhere: the Daily Session link did not point at Zoom",
        "connect_link_not_allowed": "Nowhere: no Zoom connection; Connect Links are off",
        "not_connected": "Nowhere: no Zoom connection and no Connect Link",
        "no_tutor": "Nowhere: the appointment has no active tutor",
    }
    DESTINATIONS = {
        DAILY_SESSION: "Daily Session",
        CONNECT_LINK: "Connect Link",
        NOWHERE: "Nowhere",
    }

    student = ForeignKeyField(User, backref="join_events", on_delete="CASCADE")
    appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")
    tutor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    center = ForeignKeyField(Center, null=True, on_delete="SET NULL")
    destination = CharField(max_length=20)  # daily_session | connect_link | nowhere
    meeting_id = BigIntegerField(null=True)
    reason = CharField(max_length=200, null=True)
    device_id = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow, index=True)
