"""missing_scope: the tutor's Zoom authorization lacks a permission (scope) the portal needs.

No Zoom calls: reads the scopes Zoom granted, stored with the connection from the token
response (``portal.zoom.scopes`` says which are needed and what each allows). Every
connection of one Zoom app holds one of very few scope strings, so the check asks SQL
for the distinct strings, lets ``scopes.missing`` judge each, and only if one lacks
something selects the connections holding it (a second query). Zoom answers calls the
token has no scope for with HTTP 400 code 4711.
"""

from ...models import User, ZoomConnection
from ...zoom import scopes
from ..observations import Observation, tutor_key
from ._common import connections

NAME = "missing_scope"
TITLE = "Zoom permission missing"
SEVERITY = "warning"  # "critical" when the Daily Session can't be created or checked
CRITICAL = "critical"
MEANS = (
    "The portal's Zoom app was not granted a permission (an OAuth scope) the portal needs, "
    "so Zoom refuses those calls (error 4711). Without the update or delete permission the "
    "portal still creates the Daily Session and sends students to it, but can't change or "
    "delete meetings in Zoom (Recreate today's Daily Session can't remove the old meeting); "
    "without the create or read permissions it can't prepare, check or start the Daily "
    "Session at all."
)
STEPS = (
    "Whoever manages the portal's Zoom app in the Zoom App Marketplace (usually the Zoom "
    "account administrator) adds the scope named in the finding to the app and saves.",
    "The tutor then presses “Connect again” in Preferences → Virtual Meetings, so the new "
    "authorization carries the permission.",
    "Re-verify here.",
)
FIXES = ("notify_reconnect", "reverify")
RESOLVED = "The Zoom authorization has every permission the portal needs"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


CHUNK = 500  # scope strings per IN (...) list


def _current():
    return (
        ZoomConnection.is_usable(),
        ZoomConnection.scopes.is_null(False),
    )


def lacking():
    """The distinct stored scope strings that miss something (a connection has one of few)."""
    query = ZoomConnection.select(ZoomConnection.scopes).where(*_current()).distinct()
    return [granted for (granted,) in query.tuples() if scopes.missing(granted)]


def run(ctx):
    """Tutors in scope whose working connection lacks a scope the portal needs."""
    bad = lacking()
    found = []
    for start in range(0, len(bad), CHUNK):
        found.extend(_observe(ctx, bad[start : start + CHUNK]))
    return found


def _observe(ctx, bad):
    query = connections(
        ZoomConnection.scopes,
        where=(*_current(), ZoomConnection.scopes.in_(bad), User.is_enabled()),
    )
    found = []
    for tutor_id, name, email, granted, center_id in ctx.scoped(
        query, ZoomConnection.tutor
    ).tuples():
        missing = scopes.missing(granted)
        detail = (
            f"{name}'s Zoom authorization ({email}) doesn't allow the portal to "
            f"{scopes.phrase(missing)}. {scopes.consequence(missing)} "
            f"{scopes.who_adds(missing)}; then {name} presses “Connect again”."
        )
        evidence = {
            "zoom_email": email,
            "granted_scopes": granted,
            "missing_scopes": list(dict.fromkeys(m.scope for m in missing)),
            "operations": [m.need.key for m in missing],
        }
        severity = CRITICAL if scopes.essential(missing) else SEVERITY
        found.append(
            Observation(NAME, key(tutor_id), severity, center_id, tutor_id, detail, evidence)
        )
    return found
