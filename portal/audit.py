"""The audit trail: who changed what, when, from what to what."""

from peewee import JOIN

from .models import AuditEntry, User

ACTION_LABELS = {
    "center.create": "created the center",
    "center.settings": "changed settings",
    "user.create": "added a user",
    "user.connect_link": "changed a Connect Link",
    "user.update": "changed a user's details",
    "user.add_center": "added an existing user to a center",
    "user.deactivate": "deactivated a user",
    "user.reactivate": "reactivated a user",
    "user.import": "imported users from a CSV file",
    "user.password": "changed a password",
    "walk_in.assign": "assigned a walk-in student to a tutor",
    "mail.retry": "retried an e-mail",
    "calendar_feed.new": "made a new calendar feed link",
    "appointment.book": "booked an appointment",
    "zoom.connect": "connected a Zoom account",
    "zoom.disconnect": "disconnected a Zoom account",
    "zoom.connect_refused": "was refused a Zoom connection",
    "zoom.grant_kept": (
        "authorized a Zoom account another tutor has; the owner's connection kept the new "
        "authorization"
    ),
    "zoom.deauthorized": "removed the portal app in Zoom",
    "appointment.cancel": "cancelled an appointment",
    "appointment.reschedule": "moved an appointment to another time",
    "availability.set": "changed a tutor's weekly availability",
    "availability.day_off": "added a tutor's day off",
    "availability.day_off_removed": "removed a tutor's day off",
    "health.clear_connect_link": "cleared a stale Connect Link",
    "health.undo_clear_connect_link": "undid clearing a Connect Link",
    "health.disconnect_duplicate": "disconnected a duplicate Zoom authorization",
    "health.notify_reconnect": "asked a tutor to reconnect Zoom",
    "health.recreate_session": "recreated today's Daily Session",
    "health.reverify": "re-verified a tutor",
}


def action_label(action):
    """Plain words for an audit action."""
    return ACTION_LABELS.get(action, action.replace(".", " ").replace("_", " "))


def record(actor, action, *, center=None, target=None, before=None, after=None):
    """Write one audit entry; target is a model instance or None."""
    return AuditEntry.create(
        actor=actor,
        center=center,
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=target.id if target is not None else None,
        before=before,
        after=after,
    )


def history(center, limit=50):
    """Recent audit entries for a center, newest first."""
    return (
        AuditEntry.select(AuditEntry, User)
        .join(User, JOIN.LEFT_OUTER, on=(AuditEntry.actor == User.id))
        .where(AuditEntry.center == center)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
