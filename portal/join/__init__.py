"""Join: where a student's Join button sends them. Views call one function, ``send``.

``send(student, appointment_id=… | tutor_id=…, …)`` loads the target, decides
(``resolve``), commits the JoinEvent and returns an ``Outcome`` the view turns into a
redirect or a page.

Resolution order (issue 5, DESIGN §6a):

1. The tutor has a Zoom connection (any current one):
   - ``active`` → today's Daily Session, read from the database; Zoom is not
     called when today's row is known. When it is missing it is created lazily
     through the claim protocol (``daily.ensure_daily_session``);
   - broken (needs_reauth, revoked, …), or the session can't be created → the
     student gets a plain "isn't ready" page and the center an open Finding.
   A connected tutor's Connect Link is never used, whatever it holds.
2. No connection → the tutor's Connect Link, only if the center allows them.
3. Otherwise nowhere (page + Finding).

A join URL is redirected to only if its host is Zoom's (``https``, ``zoom.us`` or
``*.zoom.us``) or the mounted simulator's base URL (RELIABILITY §3.6). Every
Join commits one JoinEvent before it answers. The hot path (today's session known)
costs one SELECT (``targets.appointment_target``: appointment, center, tutor,
connection and session) and one INSERT, besides the session lookup that loads the
signed-in student.
"""

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from .. import daily
from ..health.findings import open_finding
from ..health.findings import resolve as resolve_finding
from ..health.observations import tutor_key
from ..models import Appointment, JoinEvent, User, ZoomConnection, utcnow
from ..zoom.settings import is_zoom_host
from .events import events, record
from .targets import (
    OPENS_BEFORE,
    SessionInfo,
    Target,
    appointment_target,
    open_appointment,
    tutor_target,
)

__all__ = [
    "DESTINATIONS",
    "OPENS_BEFORE",
    "REASONS",
    "Decision",
    "Outcome",
    "SessionInfo",
    "Target",
    "appointment_target",
    "closed_reason",
    "events",
    "is_zoom_join_url",
    "open_appointment",
    "open_finding",
    "record",
    "resolve",
    "resolve_findings",
    "send",
    "tutor_target",
    "url_checker",
    "usable_connect_link",
    "with_display_name",
]

log = logging.getLogger("portal.join")

DAILY_SESSION = JoinEvent.DAILY_SESSION
CONNECT_LINK = JoinEvent.CONNECT_LINK
NOWHERE = JoinEvent.NOWHERE
REASONS = JoinEvent.REASONS
DESTINATIONS = JoinEvent.DESTINATIONS

_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(slots=True)
class Decision:
    """Where one Join goes: destination kind, URL (None = nowhere), reason, meeting id."""

    destination: str
    url: str | None
    reason: str
    meeting_id: int | None = None
    session: SessionInfo | None = None

    @property
    def label(self):
        return REASONS.get(self.reason, self.reason)


@dataclass(slots=True)
class Outcome:
    """What one press of Join comes to, for the view to render.

    ``kind``: ``redirect`` (to ``url``), ``not_ready`` (the page, with ``decision``),
    ``closed`` (the page, with ``closed``), ``queue`` (a walk-in still waiting) or
    ``not_found`` (no such appointment or tutor for this student).
    """

    kind: str
    target: Target | None = None
    decision: Decision | None = None
    closed: str | None = None
    url: str | None = None


def send(
    student,
    device_id,
    client_factory,
    url_allowed,
    *,
    appointment_id=None,
    tutor_id=None,
    now=None,
    prepare_later=None,
):
    """Load, decide and record one Join of ``student`` (an appointment or the stable link).

    ``prepare_later(tutor_id)`` hands today's Daily Session to a job when Zoom was too
    slow to create it within the request's time budget.
    """
    now = now or utcnow()
    if appointment_id is not None:
        target = appointment_target(student.id, appointment_id, now)
    else:
        target = tutor_target(student.id, tutor_id, now)
    if target is None:
        return Outcome("not_found")
    if appointment_id is not None:
        closed = closed_reason(target, now)
        if closed == "waiting":
            return Outcome("queue", target)
        if closed:
            return Outcome("closed", target, closed=closed)
    decision = resolve(target, client_factory, url_allowed, now)
    if decision.reason == "session_pending" and prepare_later is not None:
        prepare_later(target.tutor_id)
    record(target, decision, device_id, now)
    if decision.url is None:
        return Outcome("not_ready", target, decision)
    url = decision.url
    if decision.destination == DAILY_SESSION:
        url = with_display_name(url, student.name)
    return Outcome("redirect", target, decision, url=url)


def closed_reason(target, now=None):
    """Why this appointment can't be joined right now (a word), or None when it can."""
    now = now or utcnow()
    if target.status == Appointment.CANCELLED:
        return "cancelled"
    if target.kind == "walk_in":
        if target.status == Appointment.WAITING:
            return "waiting"
        if target.status != Appointment.ASSIGNED or target.end_at <= now:
            return "ended"
        return None
    if target.kind != Appointment.ONLINE:
        return "in_person"
    if target.status != Appointment.BOOKED or target.end_at <= now:
        return "ended"
    if now < target.start_at - OPENS_BEFORE:
        return "not_yet"
    return None


# --- the decision ---------------------------------------------------------------------------


def is_zoom_join_url(url):
    """True for an https link on zoom.us or a subdomain, default port, no user info."""
    parts = _split(url)
    if parts is None or parts.scheme != "https" or parts.username or parts.password:
        return False
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return False
    return is_zoom_host(host) and port in (None, 443)


def _split(url):
    if not url or not isinstance(url, str) or len(url) > 1000 or _UNSAFE.search(url):
        return None
    try:
        return urlsplit(url)
    except ValueError:
        return None


def url_checker(simulator_base=None):
    """A function telling whether a Daily Session join URL may be redirected to."""
    prefix = None
    if simulator_base:
        base = urlsplit(simulator_base)
        prefix = (base.scheme, base.netloc.lower(), base.path.rstrip("/") + "/")

    def allowed(url):
        if is_zoom_join_url(url):
            return True
        if prefix is None:
            return False
        parts = _split(url)
        return (
            parts is not None
            and not parts.username
            and (parts.scheme, parts.netloc.lower()) == prefix[:2]
            and parts.path.startswith(prefix[2])
        )

    return allowed


DISPLAY_NAME_LIMIT = 64


def with_display_name(url, name):
    """The join link with Zoom's ``uname`` set, so the waiting room shows who is there."""
    name = " ".join((name or "").split())[:DISPLAY_NAME_LIMIT]
    if not url or not name:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "uname"]
    query.append(("uname", name))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def usable_connect_link(url):
    """The Connect Link if it is a plain http(s) address, else None."""
    parts = _split(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def resolve(target, client_factory, url_allowed, now=None):
    """Decide where this Join goes; may create today's session (claim protocol), never else Zoom."""
    now = now or utcnow()
    if target.tutor_id is None or not target.tutor_active:
        return _nowhere(target, "no_tutor", now)
    if target.connection_status is not None:
        if target.connection_status != ZoomConnection.ACTIVE:
            return _nowhere(target, "connection_broken", now)
        session, reason = target.session, "session_known"
        if session is None or not session.ready:
            session, reason = _ensure(target, client_factory, now)
            if session is None or not session.ready:
                return _nowhere(target, reason, now, session)
        if not url_allowed(session.join_url):
            return _nowhere(target, "join_url_refused", now, session)
        return Decision(DAILY_SESSION, session.join_url, reason, session.meeting_id, session)
    link = usable_connect_link(target.connect_link)
    if link and target.allow_connect_links:
        return Decision(CONNECT_LINK, link, "connect_link")
    reason = "connect_link_not_allowed" if link else "not_connected"
    return _nowhere(target, reason, now)


def _ensure(target, client_factory, now):
    """Create (or read) today's Daily Session through the claim protocol."""
    tutor = User.get_by_id(target.tutor_id)
    result = daily.ensure_daily_session(tutor, client_factory, now=now)
    row = result.session
    if row is None:
        return None, "session_failed"
    session = SessionInfo(row.id, row.date, row.status, row.zoom_meeting_id, row.join_url)
    if session.ready:
        if result.outcome in ("created", "adopted"):
            resolve_findings(tutor_key("session_unavailable", target.tutor_id), now)
        return session, "session_created" if result.outcome != "existing" else "session_known"
    slow = isinstance(result.error, daily.TRANSIENT) and result.error.status is None
    if result.outcome == "busy" or slow:
        # Being created elsewhere, or Zoom did not answer in time: a job finishes it.
        return session, "session_pending"
    return session, "session_failed"


# --- findings -------------------------------------------------------------------------------

_FINDINGS = {
    # reason: (check, what happened, what to do)
    "connection_broken": (
        "connection_broken",
        "the tutor's Zoom connection stopped working",
        "Ask the tutor to disconnect and connect their Zoom account again in Virtual Meetings.",
    ),
    "session_failed": (
        "session_unavailable",
        "today's Daily Session could not be created in Zoom",
        "Ask the tutor to open Virtual Meetings and press “Try again”, or check their setup.",
    ),
    "join_url_refused": (
        "session_link_invalid",
        "today's Daily Session has a join link that does not point at Zoom",
        "Recreate today's Daily Session for the tutor.",
    ),
    "connect_link_not_allowed": (
        "not_connected",
        "the tutor has no Zoom connection and the center does not allow Connect Links",
        "Ask the tutor to connect their Zoom account in Virtual Meetings.",
    ),
    "not_connected": (
        "not_connected",
        "the tutor has no Zoom connection and no Connect Link",
        "Ask the tutor to connect their Zoom account in Virtual Meetings.",
    ),
    "no_tutor": (
        "appointment_without_tutor",
        "the appointment's tutor is no longer active",
        "Give the student another tutor or cancel the appointment.",
    ),
}


def _nowhere(target, reason, now, session=None):
    spec = _FINDINGS.get(reason)
    if spec is not None:
        check, what, fix = spec
        who = target.tutor_name or "the tutor"
        detail = f"A student pressed Join for {who} but was sent nowhere: {what}. {fix}"
        evidence = {
            "reason": reason,
            "student_id": target.student_id,
            "appointment_id": target.appointment_id,
            "connection_status": target.connection_status,
            "session_status": session.status if session else None,
            "at": now.isoformat(),
        }
        try:
            open_finding(
                check,
                tutor_key(check, target.tutor_id or f"appointment-{target.appointment_id}"),
                "critical",
                target.center_id,
                target.tutor_id,
                detail,
                evidence,
                now=now,
            )
        except Exception:  # noqa: BLE001 - the student's page must render regardless
            log.exception("could not open finding for join reason=%s", reason)
    meeting = session.meeting_id if session else None
    return Decision(NOWHERE, None, reason, meeting, session)


def resolve_findings(key, now=None, how="A student's Join reached the Daily Session"):
    """Resolve the open finding with this key, if any."""
    return resolve_finding(key, how, now=now)
