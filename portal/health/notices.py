"""The "please reconnect" notice an administrator sends, shown on the tutor's panel.

A notice shows until the tutor connects Zoom again (a connection made after the
notice was sent), so nobody has to clear it by hand.
"""

from peewee import fn

from ..db import retry_locked
from ..models import TutorNotice, ZoomConnection, utcnow

REASONS = {
    "connection_broken": "the portal can no longer reach your Zoom account",
    "free_account": "your Zoom account is a free (Basic) account, which can't host the "
    "all-day Daily Session; connect a licensed account",
    "social_login": "your Zoom account signs in with Google or Facebook, which doesn't stay "
    "in sync; sign in to Zoom with your e-mail and password first",
    "session_mismatch": "today's Daily Session in the portal doesn't match your Zoom; sign "
    "out of Zoom and back in with the right account first",
    "duplicate_authorization": "your Zoom account is also connected to another tutor's "
    "portal account; connect your own Zoom account",
    "not_connected": "students have online appointments with you but no Zoom account is connected",
    "missing_scope": "the portal's Zoom app lacks a permission it needs; once your Zoom "
    "administrator has added it, reconnect so the new authorization carries it",
}


def message_for(check, tutor_name):
    """The notice's words for the finding's check."""
    why = REASONS.get(check, "your Zoom setup needs attention")
    verb = "connect" if check == "not_connected" else "reconnect"
    steps = (
        "In Select meeting choose “Connect to Zoom Account” and press Authorize."
        if verb == "connect"
        else "In Select meeting choose “Disconnect Zoom Account”, then “Connect to Zoom "
        "Account” and press Authorize."
    )
    return f"{tutor_name}, your center administrator asks you to {verb} Zoom: {why}. {steps}"


def send(tutor, check, finding=None, actor=None):
    """Create the notice (the caller audits it); returns the row."""
    return retry_locked(
        lambda: TutorNotice.create(
            tutor=tutor,
            kind="reconnect",
            message=message_for(check, tutor.name),
            finding=finding,
            sent_by=actor,
            created_at=utcnow(),
        )
    )


def current(tutor):
    """The tutor's notices still to show, newest first."""
    connected = (
        ZoomConnection.select(fn.MAX(ZoomConnection.connected_at))
        .where(ZoomConnection.tutor == tutor.id)
        .scalar()
    )
    query = TutorNotice.select().where(
        TutorNotice.tutor == tutor.id, TutorNotice.cleared_at.is_null()
    )
    if connected is not None:
        query = query.where(TutorNotice.created_at > connected)
    return list(query.order_by(TutorNotice.created_at.desc()).limit(3))


def last_sent(finding):
    """When a notice was last sent for this finding, or None."""
    return (
        TutorNotice.select(fn.MAX(TutorNotice.created_at))
        .where(TutorNotice.finding == finding.id)
        .scalar()
    )
