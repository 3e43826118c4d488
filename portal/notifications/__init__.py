"""E-mail notifications: confirmations, reminders, cancellations, alerts, the calendar feed.

Every message is first a row of the outbox table (``outbox``), queued in the transaction
that made it due and delivered by a background run (``deliver_due``): the huey task
``deliver_mail`` right after a booking, and ``send-reminders`` every minute, which also
queues the reminders that fell due and retries what failed. See ``outbox`` for the
once-only protocol, ``portal.mail`` for the transport and ``messages`` for the words.
"""

from ..zoom.wiring import gateway
from .outbox import deliver_due
from .reminders import queue_due
from .settings import mail_settings
from .shift import run as check_before_shifts


def register(app):
    """Check the mail settings; return them (the outbox page is mounted in development only)."""

    settings = mail_settings(app)  # a malformed MAIL_URL stops the start here, in one line
    app.jinja_env.globals["dev_outbox_enabled"] = settings.development
    return settings


def send_reminders(app, now=None):
    """What `portal send-reminders` and the minutely job do: queue due reminders, deliver."""
    settings = mail_settings(app)
    due = queue_due(settings.reminder_minutes, now=now)
    counts = deliver_due(app, now=now)
    return {"due": due, **counts, "can_send": settings.can_send}


def before_shift_check(app, now=None):
    """What `portal before-shift-check` and its minutely job do."""
    minutes = mail_settings(app).shift_minutes
    return check_before_shifts(gateway(app), minutes, now=now)
