"""connection_broken: the tutor's Zoom connection stopped working.

A refresh failed (invalid_grant), the token was revoked, the app was deauthorized in
Zoom, or the stored token failed its integrity check: the connection's status is no
longer ``active``. One SQL query over current connections (the scan's Zoom calls
mark a connection ``needs_reauth`` first when Zoom refuses it).
"""

from ...models import User, ZoomConnection
from ..observations import Observation, tutor_key
from ._common import connections

NAME = "connection_broken"
TITLE = "Zoom connection broken"
SEVERITY = "critical"
MEANS = (
    "The portal can no longer act on the tutor's Zoom account: the authorization was "
    "revoked, expired, or the app was removed in Zoom. Today's Daily Session can't be "
    "created or checked, and students are sent nowhere."
)
STEPS = (
    "The tutor signs out of Zoom and back in (browser and desktop app) to be sure it is "
    "the right account.",
    "In Preferences → Virtual Meetings: Select meeting → “Disconnect Zoom Account”, then "
    "“Connect to Zoom Account” → Authorize.",
    "If no Authorize button appears, sign in to Zoom in the browser first.",
)
FIXES = ("notify_reconnect", "reverify")
RESOLVED = "The Zoom connection works again (or was replaced)"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


WHY = {
    "needs_reauth": "Zoom stopped accepting the portal's authorization",
    "revoked": "the authorization was revoked",
    "deauthorized": "the portal app was removed in Zoom",
    "error": "the connection failed",
}


def deauthorized_detail(tutor, when):
    """The finding's words when Zoom reports the app removed (webhook ``app_deauthorized``)."""
    return (
        f"{tutor.name} removed the portal app in Zoom at {when}. Their Zoom tokens were "
        f"deleted and students can't be sent to their Daily Session until they connect "
        f"Zoom again in Preferences → Virtual Meetings."
    )


def run(ctx):
    """Active tutors in scope whose current connection is not usable."""
    query = connections(
        ZoomConnection.status,
        ZoomConnection.last_error,
        ZoomConnection.updated_at,
        where=(ZoomConnection.is_broken(), User.is_enabled()),
    )
    found = []
    for tutor_id, name, email, status, error, since, center_id in ctx.scoped(
        query, ZoomConnection.tutor
    ).tuples():
        why = WHY.get(status, f"its status is {status}")
        detail = (
            f"{name}'s Zoom connection ({email}) stopped working: {why}. Students can't be "
            "sent to their Daily Session until they connect Zoom again."
        )
        evidence = {"zoom_email": email, "status": status, "last_error": error, "since": since}
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, center_id, tutor_id, detail, evidence)
        )
    return found
