"""Booking appointments: the one service the CLI and (later) the student pages share."""

import datetime
import zoneinfo

from peewee import IntegrityError

from . import audit
from .db import write_tx
from .models import APPOINTMENT_KINDS, Appointment, Center, Membership, User
from .validation import ValidationError

MAX_MINUTES = 240


def parse_start(value, timezone):
    """Parse an ISO date-time; naive values are in the center's time zone. Returns naive UTC."""
    try:
        moment = datetime.datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a date and time; use ISO format like 2026-12-01T14:00.", "at"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


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


def book(student, tutor, kind, at, minutes=30, center_name=None, actor=None):
    """Book an appointment; the database refuses a second booking of the same tutor slot."""
    if kind not in APPOINTMENT_KINDS:
        raise ValidationError(f"Kind must be one of: {', '.join(APPOINTMENT_KINDS)}.", "kind")
    if student.role != "student":
        raise ValidationError(f"{student.email} is not a student.", "student")
    if tutor.role != "tutor":
        raise ValidationError(f"{tutor.email} is not a tutor.", "tutor")
    if not 5 <= int(minutes) <= MAX_MINUTES:
        raise ValidationError(f"Length must be between 5 and {MAX_MINUTES} minutes.", "minutes")
    center = shared_center(student, tutor, center_name)
    if kind == "online" and not center.virtual_meetings_enabled:
        raise ValidationError(
            f"Virtual Meetings is not enabled for {center.name}; online appointments "
            "need it switched on.",
            "kind",
        )
    start = parse_start(at, center.timezone)
    end = start + datetime.timedelta(minutes=int(minutes))
    try:
        with write_tx():
            appointment = Appointment.create(
                student=student, tutor=tutor, center=center, kind=kind, start_at=start, end_at=end
            )
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
    except IntegrityError:
        raise ValidationError(
            f"{tutor.name} is already booked at that time; choose another slot.", "at"
        ) from None
    return appointment


def user_or_error(email, label):
    """The user with this e-mail, or ValidationError naming the argument."""
    user = User.by_email(email)
    if user is None:
        raise ValidationError(f"No user has the e-mail {email!r} ({label}).", label)
    return user
