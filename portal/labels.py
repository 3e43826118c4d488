"""The words a page shows for a stored value: appointment kinds and statuses, connection
statuses, mail kinds, roles.

Defined once here; ``install`` makes them template filters (``a.kind|kind_label``) and
globals, so no template spells a label out again.
"""

from .audit import action_label
from .models import ROLE_LABELS
from .readiness import status_words

__all__ = [
    "APPOINTMENT_STATUS_LABELS",
    "KIND_LABELS",
    "KIND_TITLES",
    "ROLE_LABELS",
    "appointment_status_label",
    "connection_status_label",
    "install",
    "kind_label",
    "kind_title",
    "mail_kind_label",
]

KIND_LABELS = {"online": "Online", "walk_in": "Virtual walk-in", "in_person": "In person"}
KIND_TITLES = {
    "online": "Online appointment",
    "walk_in": "Virtual walk-in",
    "in_person": "In-person appointment",
}
APPOINTMENT_STATUS_LABELS = {
    "booked": "Booked",
    "assigned": "Taken from the queue",
    "completed": "Completed",
}


def kind_label(kind):
    """An appointment kind as a table cell shows it: "Online", "Virtual walk-in"."""
    return KIND_LABELS[kind]


def kind_title(kind):
    """An appointment kind as a page title shows it: "Online appointment"."""
    return KIND_TITLES[kind]


def appointment_status_label(status):
    """An appointment's status in words (an unknown one as stored)."""
    return APPOINTMENT_STATUS_LABELS.get(status, status)


def connection_status_label(status):
    """A Zoom connection's status in words (readiness owns the words for a broken one)."""
    return "connected" if status == "active" else status_words(status)


def mail_kind_label(kind):
    """An outbox message's kind in words: ``shift_alert`` → "shift alert"."""
    return kind.replace("_", " ")


def install(app):
    """Make the labels template filters and globals."""
    app.jinja_env.globals["ROLE_LABELS"] = ROLE_LABELS
    app.jinja_env.filters.update(
        kind_label=kind_label,
        kind_title=kind_title,
        appointment_status_label=appointment_status_label,
        connection_status_label=connection_status_label,
        mail_kind_label=mail_kind_label,
        action_label=action_label,
    )
