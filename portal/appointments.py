"""Booking appointments: the one service the CLI and the student and admin pages share.

A booking (or a move) must fall inside the center's opening hours and the tutor's
availability (``portal.availability``), start on the center's slot grid (every
``slot_minutes`` from the opening time, in real time so a DST change keeps the grid),
last whole slots, and not be in the past; ``check_time`` says why not in plain words.

No double booking is enforced by the database, not by an ``if``: every booked
appointment with a tutor holds one ``appointment_slot`` row per 5-minute slot it
covers, UNIQUE (tutor, slot_start), so an overlapping second booking fails its
INSERT (and the older partial UNIQUE index on (tutor, start_at) WHERE
status='booked' still backs the exact same slot). Cancelling frees the slots.
"""

import datetime
import re

from peewee import JOIN, DateTimeField, ForeignKeyField, IntegrityError

from . import audit, availability, readiness, timefmt
from .clock import to_local, to_utc
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
    utc = to_utc(moment, timezone).replace(second=0, microsecond=0)
    if moment.tzinfo is None:
        wall = to_local(utc, timezone).replace(tzinfo=None)
        if wall != moment.replace(second=0, microsecond=0):
            raise ValidationError(
                f"{moment.hour:02d}:{moment.minute:02d} does not exist on "
                f"{timefmt.day(moment.date(), 'full')} in {timezone}: the "
                "clocks skip it. Choose another time.",
                "at",
            )
    return utc


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


def _times(start, end, center):
    return timefmt.span(start, end, center.timezone, "time", viewer=None)


def check_time(center, tutor, start, minutes, now=None):
    """Raise ValidationError (field "at") unless [start, start+minutes) may be booked.

    ``start`` is naive UTC. Checks the past, the opening hours, the tutor's day off and
    availability, and the slot grid; a taken slot is the database's to refuse.
    """
    now = (now or utcnow()).replace(second=0, microsecond=0)
    if start < now:
        raise ValidationError("That time has already passed; choose a later time.", "at")
    slot = center.slot_minutes
    if minutes % slot:
        raise ValidationError(
            f"At {center.name} appointments last whole {slot}-minute slots; "
            f"choose {slot}, {2 * slot} or {3 * slot} minutes.",
            "minutes",
        )
    end = start + datetime.timedelta(minutes=minutes)
    day = to_local(start, center.timezone).date()
    opens, closes = availability.hours(center, day)
    zone = center.timezone
    if start < opens or end > closes:
        raise ValidationError(
            f"{center.name} is open {center.opens_at}–{center.closes_at} ({zone}); "
            f"{_times(start, end, center)} is outside those hours; "
            "choose a time inside them.",
            "at",
        )
    if availability.is_day_off(tutor, center, day):
        raise ValidationError(
            f"{tutor.name} is not taking appointments on {timefmt.day(day, 'full')}; "
            "choose another day or another tutor.",
            "at",
        )
    if not any(a <= start and end <= b for a, b in availability.windows(tutor, center, day)):
        raise ValidationError(
            f"{tutor.name} takes appointments on {timefmt.day(day, 'weekday')}s "
            f"{availability.describe(tutor, center, day)} ({zone}); "
            f"{_times(start, end, center)} is outside that; "
            "choose a time inside those hours or another tutor.",
            "at",
        )
    if (start - opens) % datetime.timedelta(minutes=slot):
        raise ValidationError(
            f"Appointments at {center.name} start every {slot} minutes from "
            f"{center.opens_at}; choose one of those times.",
            "at",
        )
    return end


def _taken(tutor, start, end, ignore=None):
    """The tutor's held 5-minute slots in [start, end) (those of ``ignore`` left out)."""
    query = AppointmentSlot.select(AppointmentSlot.slot_start).where(
        AppointmentSlot.tutor == tutor.id,
        AppointmentSlot.slot_start >= start - datetime.timedelta(minutes=MAX_MINUTES),
        AppointmentSlot.slot_start < end,
    )
    if ignore is not None:
        query = query.where(AppointmentSlot.appointment != ignore.id)
    return {row[0] for row in query.tuples()}


def free_slots(center, tutor, day, minutes=None, now=None, ignore=None):
    """The naive-UTC starts on a local date where ``minutes`` (one slot by default) fit:
    on the grid, inside the hours and the tutor's availability, not taken, not past."""
    now = (now or utcnow()).replace(second=0, microsecond=0)
    minutes = minutes or center.slot_minutes
    if minutes % center.slot_minutes:
        return []
    length = datetime.timedelta(minutes=minutes)
    step = datetime.timedelta(minutes=center.slot_minutes)
    opens, closes = availability.hours(center, day)
    held = _taken(tutor, opens, closes, ignore)
    result = []
    for start, end in availability.windows(tutor, center, day):
        offset = (start - opens) % step
        moment = start if not offset else start + (step - offset)
        while moment + length <= end:
            if moment >= now and not held.intersection(slot_starts(moment, moment + length)):
                result.append(moment)
            moment += step
    return result


def book(
    student,
    tutor,
    kind,
    at,
    minutes=None,
    center_name=None,
    actor=None,
    now=None,
    require_ready=False,
):
    """Book an appointment inside the hours and the tutor's availability.

    ``minutes`` defaults to the center's slot length. ``require_ready`` (the student's
    page) refuses an online appointment with a tutor Join would not reach. The database
    refuses any overlap with the tutor's booked slots.
    """
    if kind not in APPOINTMENT_KINDS:
        raise ValidationError(f"Kind must be one of: {', '.join(APPOINTMENT_KINDS)}.", "kind")
    if student.role != User.STUDENT:
        raise ValidationError(f"{student.email} is not a student.", "student")
    if tutor.role != User.TUTOR:
        raise ValidationError(f"{tutor.email} is not a tutor.", "tutor")
    if not tutor.active:
        raise ValidationError(f"{tutor.name} no longer takes appointments.", "tutor")
    if minutes is not None:
        minutes = parse_minutes(minutes)
    center = shared_center(student, tutor, center_name)
    minutes = minutes or center.slot_minutes
    if kind == "online" and not center.virtual_meetings_enabled:
        raise ValidationError(
            f"Virtual Meetings is not enabled for {center.name}; online appointments "
            "need it switched on.",
            "kind",
        )
    if kind == "online" and require_ready:
        problem = readiness.online_problem(tutor, center)
        if problem:
            raise ValidationError(
                f"{tutor.name} is {readiness.NOT_ONLINE} right now: {problem} "
                "Choose another tutor.",
                "tutor",
            )
    start = parse_start(at, center.timezone)
    end = check_time(center, tutor, start, minutes, now)
    return _hold(student, tutor, center, kind, start, end, actor)


def _hold(student, tutor, center, kind, start, end, actor):
    """Insert the appointment and its slots (the database refuses an overlap), audited."""
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


def reschedule(appointment, at, actor=None, now=None):
    """Move a booked appointment to another free time of the same tutor, atomically.

    One transaction frees the old slots, moves the row (only if it is still booked and
    unchanged) and holds the new slots; if the new time is taken the database refuses
    the INSERT and the whole transaction is undone, so the old time stays held. The
    calendar invitation keeps its UID and gets a higher SEQUENCE; the confirmation goes
    out again with the new time. Returns the moved appointment.
    """
    now = now or utcnow()
    appointment = Appointment.get_by_id(appointment.id)
    if (
        appointment.status != Appointment.BOOKED
        or appointment.tutor_id is None
        or appointment.kind == Appointment.WALK_IN
        or appointment.end_at <= now
    ):
        raise ValidationError("That appointment can no longer be moved.", "at")
    center = appointment.center
    tutor = appointment.tutor
    if not tutor.active:
        raise ValidationError(
            f"{tutor.name} no longer takes appointments, so this one can't be moved; "
            "cancel it and book another tutor.",
            "at",
        )
    if appointment.kind == Appointment.ONLINE and not center.virtual_meetings_enabled:
        raise ValidationError(
            f"Virtual Meetings is switched off for {center.name}, so online appointments "
            "can't be moved there now; ask the center.",
            "at",
        )
    minutes = int((appointment.end_at - appointment.start_at).total_seconds() // 60)
    start = parse_start(at, center.timezone)
    if start == appointment.start_at:
        raise ValidationError("That is the appointment's current time; choose another.", "at")
    end = check_time(center, tutor, start, minutes, now)
    old = appointment.start_at
    try:
        with write_tx():
            AppointmentSlot.delete().where(AppointmentSlot.appointment == appointment.id).execute()
            moved = (
                Appointment.update(
                    start_at=start,
                    end_at=end,
                    sequence=Appointment.sequence + 1,
                    updated_at=now,
                )
                .where(
                    Appointment.id == appointment.id,
                    Appointment.status == Appointment.BOOKED,
                    Appointment.start_at == old,
                )
                .execute()
            )
            if not moved:
                raise _Changed
            AppointmentSlot.insert_many(
                [
                    {"appointment": appointment.id, "tutor": tutor.id, "slot_start": slot}
                    for slot in slot_starts(start, end)
                ]
            ).execute()
            appointment = Appointment.get_by_id(appointment.id)
            audit.record(
                actor,
                "appointment.reschedule",
                center=center,
                target=appointment,
                before={"start_utc": old.isoformat()},
                after={"start_utc": start.isoformat()},
            )
            bookings.queue_for(appointment, "confirmation", actor)
    except IntegrityError:
        raise ValidationError(
            f"{tutor.name} is already booked at that time; choose another slot.", "at"
        ) from None
    except _Changed:
        raise ValidationError(
            "That appointment changed a moment ago (cancelled or moved); reload the page.", "at"
        ) from None
    outbox.wake()
    return appointment


class _Changed(Exception):
    """The appointment was cancelled or moved by someone else meanwhile (undoes the move)."""


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


def online_choices(student):
    """(center, tutor, ready) for the booking page: per center, ready tutors first.

    ``ready`` is Join's own rule (``readiness.online_ready``); the others are shown as
    "not available online" and refused if chosen anyway.
    """
    result = []
    for center in Center.of(student).where(Center.is_virtual()):
        tutors = list(center.tutors())
        ready = readiness.online_ready(tutors, center)
        tutors.sort(key=lambda t: (t.id not in ready, t.name))
        result.extend((center, t, t.id in ready) for t in tutors)
    return result


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
