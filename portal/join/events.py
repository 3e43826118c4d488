"""The JoinEvent: one row per press of Join, committed before the answer is sent; and the listing.

A student who was sent somewhere must show up in "who was sent where", so the row is
written in the request, in its own short transaction, before the redirect leaves: a
worker killed right after answering has already committed it (BENCHMARKS.md measures
what this costs).
"""

from peewee import JOIN

from ..db import retry_locked, write_tx
from ..models import JoinEvent, User, utcnow


def record(target, decision, device_id, now=None):
    """Commit the JoinEvent of one Join; returns its id."""
    row = {
        "student": target.student_id,
        "appointment": target.appointment_id,
        "tutor": target.tutor_id,
        "center": target.center_id,
        "destination": decision.destination,
        "meeting_id": decision.meeting_id,
        "reason": decision.reason,
        "device_id": device_id,
        "created_at": now or utcnow(),
    }

    def write():
        with write_tx():
            return JoinEvent.insert(**row).execute()

    return retry_locked(write)


def events(center_id, start, end, tutor_id=None, limit=500):
    """JoinEvents of a center (or one tutor) in [start, end), newest first, with names."""
    Student = User.alias("student")
    Tutor = User.alias("tutor")
    query = (
        JoinEvent.select(JoinEvent, Student, Tutor)
        .join(Student, on=(JoinEvent.student == Student.id))
        .switch(JoinEvent)
        .join(Tutor, JOIN.LEFT_OUTER, on=(JoinEvent.tutor == Tutor.id))
        .where(JoinEvent.created_at >= start, JoinEvent.created_at < end)
        .order_by(JoinEvent.created_at.desc(), JoinEvent.id.desc())
        .limit(limit)
    )
    if center_id is not None:
        query = query.where(JoinEvent.center == center_id)
    if tutor_id is not None:
        query = query.where(JoinEvent.tutor == tutor_id)
    return query
