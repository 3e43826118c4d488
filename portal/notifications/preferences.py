"""A user's e-mail choices: reminders on (the default) or off.

Only reminders can be turned off. Confirmations and cancellations say what changed,
and alerts about a tutor's own broken setup always go out.
"""

from ..db import retry_locked, write_tx
from ..models import MailPreference, utcnow

CHOOSES = ("student", "tutor")


def reminders_on(user):
    """True unless the user turned reminders off."""
    row = MailPreference.get_or_none(MailPreference.user == user.id)
    return True if row is None else bool(row.reminders)


def reminders_off_query():
    """User ids who turned reminders off (a subquery)."""
    return MailPreference.select(MailPreference.user).where(MailPreference.reminders == False)  # noqa: E712


def set_reminders(user, on):
    """Store the user's choice; returns it."""
    on = bool(on)

    def write():
        with write_tx():
            MailPreference.insert(user=user.id, reminders=on, updated_at=utcnow()).on_conflict(
                conflict_target=[MailPreference.user],
                update={MailPreference.reminders: on, MailPreference.updated_at: utcnow()},
            ).execute()

    retry_locked(write)
    return on
