"""Reminders: queued when an online appointment is REMINDER_MINUTES_BEFORE from its start.

``send-reminders`` (the CLI and the minutely huey task) calls ``queue_due`` and then
delivers. The outbox key ``appointment:<id>:reminder:user:<recipient>`` makes every
later or concurrent run insert nothing, so each person gets one reminder; an
appointment booked inside the window gets its reminder on the next run. People who
turned reminders off get none.
"""

import datetime

from ..db import retry_locked, write_tx
from ..models import Appointment, utcnow
from . import bookings, outbox
from .preferences import reminders_off_query


def due(now, minutes):
    """Booked online appointments that start within the next ``minutes``."""
    return Appointment.select().where(
        Appointment.kind == Appointment.ONLINE,
        Appointment.status == Appointment.BOOKED,
        Appointment.start_at > now,
        Appointment.start_at <= now + datetime.timedelta(minutes=minutes),
    )


def queue_due(minutes, now=None):
    """Queue every reminder due now; returns how many rows were offered (0 when none)."""
    now = now or utcnow()
    off = {row.user_id for row in reminders_off_query()}
    rows = [
        row
        for appointment in due(now, minutes)
        for row in bookings.rows_for(appointment, "reminder")
        if row["recipient"] not in off
    ]
    if not rows:
        return 0

    def write():
        with write_tx():
            for start in range(0, len(rows), 200):
                outbox.queue([dict(r) for r in rows[start : start + 200]])

    retry_locked(write)
    return len(rows)
