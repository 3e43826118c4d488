"""The messages an online appointment owes its student and tutor.

``queue_for`` runs inside the booking's, the move's or the cancellation's own
transaction, so the confirmation exists exactly when the appointment does; keys are
``appointment:<id>:<kind>:user:<recipient>``, and ``appointment:<id>:<kind>:<sequence>:
user:<recipient>`` once the appointment has moved (``Appointment.sequence``), so a moved
appointment is confirmed (and reminded) again at its new time. Reminders are queued by
``portal.notifications.reminders`` when they fall due.
"""

from ..models import Appointment
from . import outbox

KINDS = ("confirmation", "reminder", "cancellation")


def recipients(appointment):
    """The student and the tutor (when one is assigned)."""
    return [u for u in (appointment.student_id, appointment.tutor_id) if u is not None]


def key_for(appointment, kind, user_id):
    """The outbox key of this message for the appointment as it is now (its sequence)."""
    sequence = getattr(appointment, "sequence", 0) or 0
    moved = f":{sequence}" if sequence and kind != "cancellation" else ""
    return f"appointment:{appointment.id}:{kind}{moved}:user:{user_id}"


def rows_for(appointment, kind, actor=None):
    if appointment.kind != Appointment.ONLINE:
        return []
    return [
        {
            "key": key_for(appointment, kind, user_id),
            "kind": kind,
            "recipient": user_id,
            "center": appointment.center_id,
            "appointment": appointment.id,
            "tutor": appointment.tutor_id,
            "actor": getattr(actor, "id", actor),
        }
        for user_id in recipients(appointment)
    ]


def queue_for(appointment, kind, actor=None):
    """Queue the confirmation or cancellation of an online appointment (no-op otherwise)."""
    if kind not in KINDS:
        raise ValueError(kind)
    outbox.queue(rows_for(appointment, kind, actor))
