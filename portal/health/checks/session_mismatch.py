"""session_mismatch: today's Daily Session in the portal differs from what Zoom holds.

Zoom calls (ZOOM_API §3): ``GET /meetings/{id}`` for the stored meeting and
``GET /users/me/meetings?type=scheduled`` for the tutor's meetings. Reported when

- the meeting is gone: 404 code 3001 (or 1001), confirmed by a second GET after a
  short pause and by its absence from the tutor's list: never on one answer;
- it is hosted by another Zoom user than the one the portal created it as;
- Zoom has it on another date than the portal (in the center's time zone);
- Zoom holds another "Daily Session" meeting for that date (the tutor's Zoom app
  shows a different number than the portal).

A network error, a timeout, a 5xx or a 429 is "could not check" with Zoom's answer,
never "missing"; the finding is then left exactly as it was.
"""

import time
from dataclasses import dataclass, field

from ... import clock, timefmt
from ...daily import format_meeting_number
from ...zoom.errors import ZoomError, ZoomNotFound, ZoomReauthRequired
from ..observations import Observation, tutor_key

NAME = "session_mismatch"
TITLE = "Daily Session differs in Zoom"
SEVERITY = "critical"
MEANS = (
    "The Daily Session the portal sends students to is not the one in the tutor's Zoom: it "
    "was deleted or recreated in Zoom, belongs to another Zoom account, is on another "
    "date, or Zoom shows the tutor a different “Daily Session” meeting for today. The "
    "tutor starts one meeting while students wait in another."
)
STEPS = (
    "The tutor signs out of Zoom and back in (browser and desktop app) to be sure it is "
    "the right account.",
    "Recreate today's Daily Session here: the old meeting is deleted in Zoom when it still "
    "exists and students are sent to the new one.",
    "Make sure the same Zoom account isn't connected to another tutor.",
    "The tutor then checks that the date and number in Preferences → Virtual Meetings "
    "match Zoom's “Daily Session” and presses Start.",
)
FIXES = ("recreate_session", "notify_reconnect", "reverify")
RESOLVED = "Zoom holds today's Daily Session as the portal shows it"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


def wrong_meeting_detail(tutor, started, today):
    """The finding's words when the tutor started another meeting (webhook ``meeting.started``).

    ``started`` is that meeting's number, ``today`` today's Daily Session (or None).
    """
    if today is not None and today.zoom_meeting_id:
        where = f"students are sent to {format_meeting_number(today.zoom_meeting_id)}"
    else:
        where = "the portal has no Daily Session for today, so students have nowhere to go"
    return (
        f"{tutor.name} started meeting {format_meeting_number(started)} in Zoom, but {where}. "
        f"Ask them to end it and start today's Daily Session from Preferences → Virtual "
        f"Meetings."
    )


def deleted_detail(tutor, session, by, when):
    """The finding's words when the Daily Session was deleted in Zoom (``meeting.deleted``).

    ``by`` is " by <operator>" or "", ``when`` the center-local time it happened.
    """
    number = format_meeting_number(session.zoom_meeting_id)
    return (
        f"{tutor.name}'s Daily Session for {timefmt.day(session.date, 'full')} "
        f"(meeting {number}) was "
        f"deleted in Zoom{by} at {when}. Students can't join it "
        f"until a new one is made: the portal makes one at its next hourly run, or when "
        f"{tutor.name} opens Preferences → Virtual Meetings."
    )


class NotChecked(Exception):
    """Zoom could not be asked (network, 5xx, 429, paused account): the reason, not a verdict."""


@dataclass
class Verdict:
    """What Zoom said about one tutor's session: ``problems`` empty means it matches."""

    problems: list = field(default_factory=list)
    evidence: dict = field(default_factory=dict)


def answer(exc):
    """Zoom's answer behind an error, for the evidence."""
    return {
        "error": type(exc).__name__,
        "status": getattr(exc, "status", None),
        "code": getattr(exc, "code", None),
        "message": getattr(exc, "message", str(exc)),
    }


def _local_date(meeting, zone):
    raw = meeting.get("start_time") or meeting.get("created_at")
    return clock.iso_local_date(raw, meeting.get("timezone") or zone)


def inspect(client, target, recheck=2.0, sleep=time.sleep):
    """Compare the tutor's session with Zoom; Verdict, or NotChecked(reason)."""
    stored = target.meeting_id
    number = format_meeting_number(stored)
    evidence = {"meeting_id": stored, "date": target.date, "host_id": target.host_id}
    try:
        listed = client.list_meetings("scheduled")
        try:
            meeting = client.get_meeting(stored)
        except ZoomNotFound as first:
            evidence["zoom_answer"] = answer(first)
            if any(str(m.get("id")) == str(stored) for m in listed):
                raise NotChecked(
                    f"Zoom answered {first} for meeting {number} but still lists it"
                ) from None
            sleep(recheck)  # confirm: a 3001 is re-checked before it is called missing
            try:
                meeting = client.get_meeting(stored)
            except ZoomNotFound as second:
                evidence["recheck_answer"] = answer(second)
                return Verdict(
                    [("missing", f"meeting {number} no longer exists in Zoom")], evidence
                )
    except ZoomReauthRequired as exc:
        raise NotChecked(f"the Zoom connection needs authorizing again ({exc})") from None
    except ZoomError as exc:
        raise NotChecked(str(exc)) from None
    problems = []
    host = str(meeting.get("host_id") or "")
    evidence["zoom_host_id"] = host
    if target.host_id and host != str(target.host_id):
        problems.append(("other_host", f"meeting {number} is hosted by another Zoom user"))
    zoom_day = _local_date(meeting, target.timezone)
    evidence["zoom_start_time"] = meeting.get("start_time")
    if zoom_day != target.date:
        problems.append(("other_date", f"Zoom has meeting {number} on {zoom_day or 'no date'}"))
    others = [
        m
        for m in listed
        if str(m.get("id")) != str(stored)
        and str(m.get("topic") or "").startswith("Daily Session")
        and _local_date(m, target.timezone) == target.date
    ]
    if others:
        shown = ", ".join(format_meeting_number(m.get("id")) for m in others)
        evidence["other_meetings"] = [m.get("id") for m in others]
        problems.append(
            ("other_meeting", f"Zoom also holds a “Daily Session” for that date: {shown}")
        )
    return Verdict(problems, evidence)


def observation(target, verdict):
    """The finding for a session that does not match (None when it matches)."""
    if not verdict.problems:
        return None
    kinds = [kind for kind, _ in verdict.problems]
    what = "; ".join(text for _, text in verdict.problems)
    detail = (
        f"{target.name}'s Daily Session for {timefmt.day(target.date, 'full')} "
        f"does not match Zoom: {what}. "
        "Students are sent to the portal's meeting, which is not the one the tutor starts."
    )
    evidence = dict(verdict.evidence, kind=kinds[0], kinds=kinds)
    return Observation(
        NAME, key(target.tutor_id), SEVERITY, target.center_id, target.tutor_id,
        detail, evidence,
    )  # fmt: skip


def keep(evidence):
    """A webhook's "started another meeting" finding is not the scan's to resolve."""
    return (evidence or {}).get("kind") == "wrong_meeting"
