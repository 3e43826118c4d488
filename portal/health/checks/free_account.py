"""free_account: the connected Zoom user is Basic (free) or has no licence that can host.

Reads the user type the last scan refreshed from ``GET /users/me`` (one SQL query).
"""

from ...models import ZoomConnection
from ..observations import Observation, tutor_key
from ._common import connections

NAME = "free_account"
TITLE = "Free Zoom account"
SEVERITY = "critical"
MEANS = (
    "The tutor's Zoom account is a free (Basic) account, or has no licence that can host "
    "meetings. Free meetings end after 40 minutes, so the all-day Daily Session drops "
    "students mid-appointment; an unlicensed account cannot host at all."
)
STEPS = (
    "Ask the tutor to use a licensed Zoom account (from the center, or upgrade theirs).",
    "The tutor signs in to Zoom with the licensed account, then disconnects and connects "
    "again in Preferences → Virtual Meetings.",
)
FIXES = ("notify_reconnect", "reverify")
RESOLVED = "The Zoom account is licensed"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


TYPES = {
    1: "a free (Basic) Zoom account",
    4: "a Zoom account with no licence to host",
    99: "a Zoom account with no licence to host",
}


def run(ctx):
    """Tutors in scope with a current, working connection to an unlicensed Zoom user."""
    query = connections(
        ZoomConnection.user_type,
        where=(ZoomConnection.is_usable(), ZoomConnection.user_type.in_(list(TYPES))),
    )
    found = []
    for tutor_id, name, email, user_type, center_id in ctx.scoped(
        query, ZoomConnection.tutor
    ).tuples():
        detail = f"{name} is connected with {TYPES[user_type]} ({email}): " + (
            "Zoom ends its meetings after 40 minutes, so students are dropped from the "
            "Daily Session."
            if user_type == 1
            else "Zoom refuses to create or start the Daily Session."
        )
        evidence = {"zoom_email": email, "user_type": user_type}
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, center_id, tutor_id, detail, evidence)
        )
    return found
