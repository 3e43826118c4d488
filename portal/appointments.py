"""Booking appointments: the one service the CLI and the student pages share.

No double booking is enforced by the database, not by an ``if``: every booked
appointment with a tutor holds one ``appointment_slot`` row per 5-minute slot it
covers, UNIQUE (tutor, slot_start), so an overlapping second booking fails its
INSERT (and the older partial UNIQUE index on (tutor, start_at) WHERE
status='booked' still backs the exact same slot). Cancelling frees the slots.
"""

import datetime
import re

from peewee import JOIN, DateTimeField, ForeignKeyField, IntegrityError

from . import audit
from .clock import to_utc
from .db import write_tx
from .models import (
    APPOINTMENT_KINDS,
    Appointment,
    BaseModel,
    Center,
    Membership,
    User,
    utcnow,
)
from .notifications import bookings, outbox
from .validation import DAY_MAX, DAY_MIN, ValidationError

MAX_MINUTES = 240
MIN_MINUTES = 5
SLOT_MINUTES = 5
MAX_INPUT = 64


class AppointmentSlot(BaseModel):
    """One 5-minute slot of a tutor's time held by a booked appointment (migration 0002)."""

    appointment = ForeignKeyField(Appointment, backref="slots", on_delete="CASCADE")
    tutor = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    slot_start = DateTimeField()

    class Meta:
        indexes = ((("tutor", "slot_start"), True),)


def parse_start(value, timezone):
    """Parse an ISO date-time; naive values are in the center's time zone. Returns naive UTC."""
    text = (value or "").strip() if isinstance(value, str) else ""
    try:
        if len(text) > MAX_INPUT:
            raise ValueError(text)
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        shown = text if len(text) <= MAX_INPUT else text[:MAX_INPUT] + "…"
        raise ValidationError(
            f"{shown!r} is not a date and time; use ISO format like 2026-12-01T14:00.", "at"
        ) from None
    if not DAY_MIN <= moment.date() <= DAY_MAX:  # e.g. 9999-12-31T23:59 overflows in UTC
        raise ValidationError(f"Choose a date between {DAY_MIN} and {DAY_MAX}.", "at")
    return to_utc(moment, timezone).replace(second=0, microsecond=0)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}$")


def compose_start(date, time):
    """Join a form's date (YYYY-MM-DD) and start time (HH:MM) into an ISO string."""
    date = (date or "").strip()[:MAX_INPUT] if isinstance(date, str) else ""
    time = (time or "").strip()[:MAX_INPUT] if isinstance(time, str) else ""
    if not _DATE.match(date):
        raise ValidationError("Choose a date, like 2026-12-01.", "date")
    if not _TIME.match(time):
        raise ValidationError("Choose a start time, like 14:00.", "time")
    return f"{date}T{time}"


def parse_minutes(value):
    """A whole number of minutes between MIN_MINUTES and MAX_MINUTES, or ValidationError."""
    try:
        minutes = int(str(value).strip()[:MAX_INPUT])
    except (TypeError, ValueError):
        minutes = None
    if minutes is None or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise ValidationError(
            f"Length must be between {MIN_MINUTES} and {MAX_MINUTES} minutes.", "minutes"
        )
    return minutes


def shared_center(student, tutor, center_name=None):
    """The center both belong to (the named one if given)."""
    query = (
        Center.select()
        .join(Membership)
        .where(Membership.user == tutor)
        .where(
            Center.id.in_(Membership.select(Membership.center).where(Membership.user == student))
        )
        .order_by(Center.name)
    )
    if center_name:
        query = query.where(Center.name == center_name)
    center = query.first()
    if center is None:
        raise ValidationError("The student and the tutor do not share a center.", "center")
    return center


def slot_starts(start, end):
    """The 5-minute slots [start, end) touches, as naive UTC datetimes."""
    first = start.replace(minute=start.minute - start.minute % SLOT_MINUTES)
    step = datetime.timedelta(minutes=SLOT_MINUTES)
    slots, moment = [], first
    while moment < end:
        slots.append(moment)
        moment += step
    return slots


def book(student, tutor, kind, at, minutes=30, center_name=None, actor=None, now=None):
    """Book an appointment; the database refuses any overlap with the tutor's booked slots."""
    if kind not in APPOINTMENT_KINDS:
        raise ValidationError(f"Kind must be one of: {', '.join(APPOINTMENT_KINDS)}.", "kind")
    if student.role != User.STUDENT:
        raise ValidationError(f"{student.email} is not a student.", "student")
    if tutor.role != User.TUTOR:
        raise ValidationError(f"{tutor.email} is not a tutor.", "tutor")
    if not tutor.active:
        raise ValidationError(f"{tutor.name} no longer takes appointments.", "tutor")
    minutes = parse_minutes(minutes)
    center = shared_center(student, tutor, center_name)
    if kind == "online" and not center.virtual_meetings_enabled:
        raise ValidationError(
            f"Virtual Meetings is not enabled for {center.name}; online appointments "
            "need it switched on.",
            "kind",
        )
    start = parse_start(at, center.timezone)
    now = now or utcnow()
    if start < now.replace(second=0, microsecond=0):
        raise ValidationError("That time has already passed; choose a later time.", "at")
    end = start + datetime.timedelta(minutes=minutes)
    try:
        with write_tx():
            appointment = Appointment.create(
                student=student, tutor=tutor, center=center, kind=kind, start_at=start, end_at=end
            )
            AppointmentSlot.insert_many(
                [
                    {"appointment": appointment.id, "tutor": tutor.id, "slot_start": slot}
                    for slot in slot_starts(start, end)
                ]
            ).execute()
            audit.record(
                actor,
                "appointment.book",
                center=center,
                target=appointment,
                after={
                    "student": student.email,
                    "tutor": tutor.email,
                    "kind": kind,
                    "start_utc": start.isoformat(),
                },
            )
            bookings.queue_for(appointment, "confirmation")
    except IntegrityError:
        raise ValidationError(
            f"{tutor.name} is already booked at that time; choose another slot.", "at"
        ) from None
    outbox.wake()  # the job queue sends it, never this request
    return appointment


def cancel(appointment, actor=None, now=None):
    """Cancel a booked appointment that has not ended yet and free its slots; True if done."""
    now = now or utcnow()
    with write_tx():
        changed = (
            Appointment.update(status=Appointment.CANCELLED, updated_at=now)
            .where(
                Appointment.id == appointment.id,
                Appointment.status == Appointment.BOOKED,
                Appointment.end_at > now,
            )
            .execute()
        )
        if changed:
            AppointmentSlot.delete().where(AppointmentSlot.appointment == appointment.id).execute()
            audit.record(
                actor,
                "appointment.cancel",
                center=appointment.center_id,
                target=appointment,
                before={"status": Appointment.BOOKED},
                after={"status": Appointment.CANCELLED},
            )
            bookings.queue_for(appointment, "cancellation", actor)
    if changed:
        outbox.wake()
    return bool(changed)


def bookable_tutors(student):
    """(center, tutor) pairs a student may book online: tutors of their Virtual Meetings centers."""
    centers = Center.of(student).where(Center.is_virtual())
    return [(center, tutor) for center in centers for tutor in center.tutors()]


def upcoming_for_student(student, now=None, limit=50):
    """The student's booked appointments and live walk-ins that have not ended, soonest first."""
    now = now or utcnow()
    return (
        Appointment.select(Appointment, Center, User)
        .join(Center)
        .switch(Appointment)
        .join(User, JOIN.LEFT_OUTER, on=(Appointment.tutor == User.id))
        .where(
            Appointment.student == student.id,
            Appointment.status.in_((Appointment.BOOKED, Appointment.ASSIGNED)),
            Appointment.end_at > now,
        )
        .order_by(Appointment.start_at)
        .limit(limit)
    )


def for_day(center, day, tutor=None):
    """A center's (or one tutor's) appointments and taken walk-ins on a center-local date."""
    start, end = center.day_bounds(day)
    Student = User.alias("student")
    Tutor = User.alias("tutor")
    query = (
        Appointment.select(Appointment, Student, Tutor)
        .join(Student, on=(Appointment.student == Student.id))
        .switch(Appointment)
        .join(Tutor, JOIN.LEFT_OUTER, on=(Appointment.tutor == Tutor.id))
        .where(
            Appointment.center == center.id,
            Appointment.start_at >= start,
            Appointment.start_at < end,
            Appointment.status.in_(
                (Appointment.BOOKED, Appointment.ASSIGNED, Appointment.COMPLETED)
            ),
        )
        .order_by(Appointment.start_at, Appointment.id)
    )
    if tutor is not None:
        query = query.where(Appointment.tutor == tutor.id)
    return query


def user_or_error(email, label):
    """The user with this e-mail, or ValidationError naming the argument."""
    user = User.by_email(email)
    if user is None:
        raise ValidationError(f"No user has the e-mail {email!r} ({label}).", label)
    return user


def online_still_ahead(center, now=None, tutor=None):
    """What switching Virtual Meetings off (or replacing a tutor's Daily Session) affects.

    ``(today, ahead, walk_ins)``: booked online appointments not yet over today, booked
    online appointments not yet over from now on, and walk-ins waiting or taken today;
    all of one tutor when ``tutor`` is given.
    """
    now = now or utcnow()
    _start, end_of_today = center.day_bounds(center.today(now))
    online = Appointment.select().where(
        Appointment.center == center.id,
        Appointment.kind == Appointment.ONLINE,
        Appointment.status == Appointment.BOOKED,
        Appointment.end_at > now,
    )
    walk_ins = Appointment.select().where(
        Appointment.center == center.id,
        Appointment.kind == Appointment.WALK_IN,
        Appointment.status.in_([Appointment.WAITING, Appointment.ASSIGNED]),
        Appointment.end_at > now,
    )
    if tutor is not None:
        online = online.where(Appointment.tutor == tutor.id)
        walk_ins = walk_ins.where(Appointment.tutor == tutor.id)
    today = online.where(Appointment.start_at < end_of_today).count()
    return today, online.count(), walk_ins.count()
