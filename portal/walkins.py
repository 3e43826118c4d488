"""Virtual walk-ins: one queue per center per (center-local) day.

A queue entry is an Appointment of kind ``walk_in``: ``waiting`` (no tutor yet),
then ``assigned`` (a tutor took it; the student's Join opens for
WALK_IN_MINUTES), or ``left``. A student waits at most once per center (partial
UNIQUE index, migration 0002), and taking an entry is one conditional UPDATE
(``WHERE status = 'waiting'``), so two tutors pressing "Take" at once never
both get the same student.
"""

import datetime

from peewee import JOIN, IntegrityError

from . import audit
from .db import retry_locked, write_tx
from .models import Appointment, Center, Membership, User, utcnow
from .validation import ValidationError

WALK_IN_MINUTES = 60
TAKE_ATTEMPTS = 5


class WalkInError(ValidationError):
    """A queue action that cannot be done; the message says why."""


def walk_in_centers(user):
    """The user's centers that run virtual walk-ins (Virtual Meetings on)."""
    return user.centers().where(Center.is_virtual())


def _today(center, now):
    return center.day_bounds(center.today(now))


def queue(center, now=None):
    """Today's waiting entries of a center's queue, first come first served."""
    now = now or utcnow()
    start, end = _today(center, now)
    return (
        Appointment.select(Appointment, User)
        .join(User, on=(Appointment.student == User.id))
        .where(
            Appointment.center == center.id,
            Appointment.kind == "walk_in",
            Appointment.status == Appointment.WAITING,
            Appointment.start_at >= start,
            Appointment.start_at < end,
        )
        .order_by(Appointment.start_at, Appointment.id)
    )


def current_entry(student, center, now=None):
    """The student's live entry in today's queue (waiting, or assigned and still open), or None."""
    now = now or utcnow()
    start, end = _today(center, now)
    return (
        Appointment.select(Appointment, User)
        .join(User, JOIN.LEFT_OUTER, on=(Appointment.tutor == User.id))
        .where(
            Appointment.student == student.id,
            Appointment.center == center.id,
            Appointment.kind == "walk_in",
            Appointment.start_at >= start,
            Appointment.start_at < end,
            (Appointment.status == Appointment.WAITING)
            | ((Appointment.status == Appointment.ASSIGNED) & (Appointment.end_at > now)),
        )
        .order_by(Appointment.id.desc())
        .first()
    )


def position(entry, center, now=None):
    """1-based place of a waiting entry in today's queue (None once it is not waiting)."""
    if entry.status != Appointment.WAITING:
        return None
    start, end = _today(center, now or utcnow())
    ahead = (
        Appointment.select()
        .where(
            Appointment.center == entry.center_id,
            Appointment.kind == "walk_in",
            Appointment.status == Appointment.WAITING,
            Appointment.start_at >= start,
            Appointment.start_at < end,
            (Appointment.start_at < entry.start_at)
            | ((Appointment.start_at == entry.start_at) & (Appointment.id < entry.id)),
        )
        .count()
    )
    return ahead + 1


def join_queue(student, center, now=None):
    """Put the student in today's queue of center (once); returns their entry."""
    now = now or utcnow()
    if student.role != User.STUDENT:
        raise WalkInError("Only students can join a virtual walk-in queue.")
    if not center.virtual_meetings_enabled:
        raise WalkInError(f"{center.name} does not run virtual walk-ins.")
    existing = current_entry(student, center, now)
    if existing is not None:
        return existing
    start, _end = _today(center, now)

    def write():
        with write_tx():
            # An entry left waiting on an earlier day no longer holds the student's place.
            Appointment.update(status=Appointment.LEFT, updated_at=now).where(
                Appointment.student == student.id,
                Appointment.center == center.id,
                Appointment.kind == "walk_in",
                Appointment.status == Appointment.WAITING,
                Appointment.start_at < start,
            ).execute()
            return Appointment.create(
                student=student,
                center=center,
                tutor=None,
                kind="walk_in",
                status=Appointment.WAITING,
                start_at=now,
                end_at=now + datetime.timedelta(hours=12),
                created_at=now,
                updated_at=now,
            )

    try:
        return retry_locked(write)
    except IntegrityError:  # a double click: the other request queued the student
        return current_entry(student, center, now)


def leave_queue(student, entry_id, now=None):
    """Take the student's own waiting entry out of the queue; False if it was not waiting."""
    now = now or utcnow()
    with write_tx():
        changed = (
            Appointment.update(status=Appointment.LEFT, updated_at=now)
            .where(
                Appointment.id == entry_id,
                Appointment.student == student.id,
                Appointment.kind == "walk_in",
                Appointment.status == Appointment.WAITING,
            )
            .execute()
        )
    return bool(changed)


def _check_tutor(center, tutor):
    is_member = (
        Membership.select()
        .where(Membership.user == tutor.id, Membership.center == center.id)
        .exists()
    )
    if tutor.role != User.TUTOR or not tutor.active or not is_member:
        raise WalkInError(f"{tutor.name} is not a tutor of {center.name}.")


def _assign(center, entry_id, tutor, now):
    start, end = _today(center, now)
    with write_tx():
        return (
            Appointment.update(
                tutor=tutor.id,
                status=Appointment.ASSIGNED,
                end_at=now + datetime.timedelta(minutes=WALK_IN_MINUTES),
                updated_at=now,
            )
            .where(
                Appointment.id == entry_id,
                Appointment.center == center.id,
                Appointment.kind == "walk_in",
                Appointment.status == Appointment.WAITING,
                Appointment.start_at >= start,
                Appointment.start_at < end,
            )
            .execute()
        )


def take(center, tutor, entry_id=None, actor=None, now=None):
    """Give tutor the chosen waiting entry, or the next one; returns the assigned entry.

    Raises WalkInError when the queue is empty or the chosen student was taken
    by someone else (or left) a moment ago.
    """
    now = now or utcnow()
    _check_tutor(center, tutor)
    if entry_id is not None:
        if not retry_locked(lambda: _assign(center, entry_id, tutor, now)):
            raise WalkInError(
                "That student is no longer waiting: another tutor took them, or they left."
            )
        taken = entry_id
    else:
        taken = None
        for _ in range(TAKE_ATTEMPTS):
            first = queue(center, now).first()
            if first is None:
                raise WalkInError("Nobody is waiting in the queue.")
            if retry_locked(lambda first=first: _assign(center, first.id, tutor, now)):
                taken = first.id
                break
        if taken is None:
            raise WalkInError("The queue changed while you pressed; try again.")
    entry = Appointment.get_by_id(taken)
    if actor is not None and actor.id != tutor.id:
        audit.record(
            actor,
            "walk_in.assign",
            center=center,
            target=entry,
            after={"tutor": tutor.email, "student_id": entry.student_id},
        )
    return entry
