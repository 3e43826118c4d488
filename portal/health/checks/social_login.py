"""social_login: the Zoom account signs in through Google or Facebook.

Such accounts don't stay in sync with the portal. Reads the login types the last scan
refreshed, in one SQL query: ``login_types`` is stored as JSON text (``[1]``,
``[0, 100]``), matched as a comma-separated list so SQLite and PostgreSQL agree.
"""

from peewee import SQL, fn

from ...connections import LOGIN_NAMES, SOCIAL_LOGINS
from ...models import ZoomConnection
from ..observations import Observation, tutor_key
from ._common import connections

NAME = "social_login"
TITLE = "Google or Facebook sign-in"
SEVERITY = "warning"
MEANS = (
    "The tutor signs in to Zoom with Google or Facebook. Accounts signed in that way don't "
    "stay in sync with the portal: the Zoom app may show another account's meetings, and "
    "the Daily Session number there stops matching."
)
STEPS = (
    "The tutor sets a password in their Zoom profile and signs in to Zoom (browser and "
    "desktop app) with e-mail and password.",
    "Then disconnects and connects again in Preferences → Virtual Meetings.",
)
FIXES = ("notify_reconnect", "reverify")
RESOLVED = "The Zoom account signs in with e-mail and password"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


def _listed(code):
    """SQL: the JSON list in login_types contains ``code``."""
    bare = fn.REPLACE(fn.REPLACE(fn.REPLACE(ZoomConnection.login_types, "[", ""), "]", ""), " ", "")
    return SQL("','").concat(bare).concat(SQL("','")).contains(f",{code},")


def run(ctx):
    """Tutors in scope whose working connection signs in through Google or Facebook."""
    social = None
    for code in SOCIAL_LOGINS:
        social = _listed(code) if social is None else (social | _listed(code))
    query = connections(
        ZoomConnection.login_types,
        where=(ZoomConnection.is_usable(), ZoomConnection.login_types.is_null(False), social),
    )
    found = []
    for tutor_id, name, email, types, center_id in ctx.scoped(query, ZoomConnection.tutor).tuples():
        via = sorted({SOCIAL_LOGINS[t] for t in types or [] if t in SOCIAL_LOGINS})
        if not via:
            continue
        names = ", ".join(LOGIN_NAMES.get(t, str(t)) for t in types)
        detail = (
            f"{name}'s Zoom account ({email}) signs in with {' and '.join(via)}, which doesn't "
            f"stay in sync with the portal (sign-in methods: {names})."
        )
        evidence = {"zoom_email": email, "login_types": types}
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, center_id, tutor_id, detail, evidence)
        )
    return found
