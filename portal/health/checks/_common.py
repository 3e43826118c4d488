"""What the check modules share: the scope filter and wording."""

import datetime
from dataclasses import dataclass

from ...models import Center, User, ZoomConnection


@dataclass
class Context:
    """What a database check needs: the time, the scope and the "recent" window."""

    now: datetime.datetime
    tutors: object = None  # a query of tutor ids in scope; None = every tutor
    recent: datetime.timedelta = datetime.timedelta(hours=24)

    def scoped(self, query, field):
        """Restrict ``query`` to tutors in scope (``field`` holds a tutor id)."""
        if self.tutors is None:
            return query
        return query.where(field.in_(self.tutors))

    def within(self, tutor_ids):
        """The subset of ``tutor_ids`` in scope (one query; all of them without a scope)."""
        ids = {i for i in tutor_ids if i is not None}
        if self.tutors is None or not ids:
            return ids
        query = User.select(User.id).where(User.id.in_(list(ids)), User.id.in_(self.tutors))
        return {row[0] for row in query.tuples()}


def connections(*columns, where):
    """Current connections matching ``where``, with their tutor.

    Rows: (tutor id, tutor name, Zoom e-mail, *columns, the tutor's home center id).
    """
    return (
        ZoomConnection.select(
            ZoomConnection.tutor,
            User.name,
            ZoomConnection.email,
            *columns,
            Center.home_of(User.id).alias("center_id"),
        )
        .join(User, on=(ZoomConnection.tutor == User.id))
        .where(*where)
    )


def plural(count, one, many=None):
    """'1 student' / '3 students'."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
