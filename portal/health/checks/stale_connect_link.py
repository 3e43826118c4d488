"""stale_connect_link: a connected tutor whose Connect Link still points at Zoom.

A PMI, a personal link or any ``zoom.us/j/…`` left in the legacy Connect Link field
is where students land if the connection ever stops working. One SQL query picks
connected tutors whose link mentions zoom; URL parsing decides, and says whether
it is the tutor's own Personal Meeting ID.
"""

import re
from urllib.parse import urlsplit

from ...daily import format_meeting_number
from ...models import Center, User, ZoomConnection
from ...readiness import is_zoom_link
from ..observations import Observation, tutor_key

NAME = "stale_connect_link"
TITLE = "Zoom link left in Connect Link"
SEVERITY = "warning"
MEANS = (
    "The tutor is connected to Zoom, but their profile still has an old Connect Link "
    "pointing at Zoom (usually their personal meeting room). Whenever the connection "
    "breaks, students are sent to that room instead of the Daily Session, where the "
    "tutor is not waiting."
)
STEPS = (
    "Clear the Connect Link field: the integration sends students to the Daily Session.",
    "If the tutor relies on the link for something else, use Undo right after clearing.",
)
FIXES = ("clear_connect_link", "reverify")
RESOLVED = "The Connect Link no longer points at Zoom"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


MEETING_PATH = re.compile(r"/(?:j|wc/join|s)/(\d{9,11})")


def run(ctx):
    """Connected tutors in scope whose Connect Link is a Zoom URL."""
    query = (
        User.select(
            User.id,
            User.name,
            User.connect_link,
            ZoomConnection.pmi,
            ZoomConnection.personal_meeting_url,
            Center.home_of(User.id).alias("center_id"),
        )
        .join(
            ZoomConnection,
            on=((ZoomConnection.tutor == User.id) & ZoomConnection.is_usable()),
        )
        .where(User.role == User.TUTOR, User.connect_link.contains("zoom"))
    )
    found = []
    for tutor_id, name, link, pmi, personal_url, center_id in ctx.scoped(query, User.id).tuples():
        own, number = describe(link, pmi, personal_url)
        if not (own or is_zoom_link(link)):
            continue
        if own:
            what = f"their own Personal Meeting ID ({format_meeting_number(pmi)})"
        elif number:
            what = f"Zoom meeting {format_meeting_number(number)}, not their personal room"
        else:
            what = "a Zoom page that is not a Daily Session"
        detail = (
            f"{name} is connected to Zoom, but their Connect Link still points at {what}: "
            f"{link}. Students are sent there whenever the connection stops working."
        )
        evidence = {
            "connect_link": link,
            "own_pmi": own,
            "meeting_number": number,
            "pmi": pmi,
            "personal_meeting_url": personal_url,
        }
        found.append(
            Observation(NAME, key(tutor_id), SEVERITY, center_id, tutor_id, detail, evidence)
        )
    return found


def describe(link, pmi, personal_url):
    """(is it the tutor's own PMI / personal link?, the meeting number in the URL or None)."""
    parts = urlsplit(link)
    match = MEETING_PATH.search(parts.path or "")
    number = int(match.group(1)) if match else None
    own = bool(pmi) and number == int(pmi)
    if not own and personal_url:
        mine = urlsplit(personal_url)
        own = (parts.hostname or "").lower() == (mine.hostname or "").lower() and (
            parts.path.rstrip("/") == mine.path.rstrip("/")
        )
    return own, number
