"""Who was sent where, as CSV: DESIGN §8's joins columns, for the CLI and the admin's page.

``time,student_email,tutor_email,center,destination,meeting_id,reason``: time in UTC
(ISO 8601 with ``Z``), destination and reason as the stable words Join records
(``daily_session``, ``session_known``, …), every cell formula-proofed.
"""

from peewee import JOIN

from ..health.export import stream_csv
from ..models import Center, JoinEvent, User

JOIN_COLUMNS = (
    "time",
    "student_email",
    "tutor_email",
    "center",
    "destination",
    "meeting_id",
    "reason",
)


def joins_csv(start=None, end=None, center_ids=None):
    """Stream the JoinEvents in [start, end) (naive UTC), of these centers, oldest first."""
    Student = User.alias("student")
    Tutor = User.alias("tutor")
    query = (
        JoinEvent.select(
            JoinEvent.created_at,
            Student.email,
            Tutor.email,
            Center.name,
            JoinEvent.destination,
            JoinEvent.meeting_id,
            JoinEvent.reason,
        )
        .join(Student, on=(JoinEvent.student == Student.id))
        .switch(JoinEvent)
        .join(Tutor, JOIN.LEFT_OUTER, on=(JoinEvent.tutor == Tutor.id))
        .switch(JoinEvent)
        .join(Center, JOIN.LEFT_OUTER, on=(JoinEvent.center == Center.id))
        .order_by(JoinEvent.created_at, JoinEvent.id)
    )
    if start is not None:
        query = query.where(JoinEvent.created_at >= start)
    if end is not None:
        query = query.where(JoinEvent.created_at < end)
    if center_ids is not None:
        query = query.where(JoinEvent.center.in_(list(center_ids)))
    return stream_csv(JOIN_COLUMNS, query.tuples().iterator())
