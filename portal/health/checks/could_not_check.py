"""could_not_check: Zoom could not be asked about a tutor (network error, 5xx, 429, paused).

Not a problem with the tutor's setup: while it is open, the tutor's earlier Zoom
findings are kept as they were (never resolved, never turned into "missing"). It is
resolved by the next check that gets an answer.
"""

from ..observations import Observation, tutor_key

NAME = "could_not_check"
TITLE = "Could not check with Zoom"
SEVERITY = "info"
MEANS = (
    "The health check could not get an answer from Zoom for this tutor (Zoom was slow or "
    "unavailable, or its rate limit was reached). Nothing is known to be wrong; earlier "
    "findings about this tutor are kept until Zoom answers."
)
STEPS = ("Re-verify in a few minutes; if it persists, check Zoom's status page.",)
FIXES = ("reverify",)
RESOLVED = "Zoom answered the next check"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


def observation(target, reason):
    """The finding for a tutor Zoom could not be asked about."""
    detail = (
        f"Could not check {target.name}'s Zoom account: {reason}. Earlier findings about "
        f"{target.name} are kept until Zoom answers."
    )
    return Observation(
        NAME,
        key(target.tutor_id),
        SEVERITY,
        target.center_id,
        target.tutor_id,
        detail,
        {"reason": reason},
    )
