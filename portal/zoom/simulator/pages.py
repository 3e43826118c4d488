"""The meeting pages behind the simulator's own start and join links, so that with
`SimConfig.meeting_url_base` set (the portal's `make run` does) Start and Join work offline.

- `GET /s/<id>?zak=<zak>`: the host's start link. The zak must be one the simulator issued for
  this meeting and still valid (2 h), else a 403 page. Starts the meeting like the control page
  does (status "started", `meeting.started`) unless it is already in progress, and shows the host
  view: meeting number, host, waiting room, participants, Admit and End meeting buttons.
- `POST /s/<id>/admit` (`zak`, `participant`) → `participant_admitted` + `_joined`, 303 back.
- `POST /s/<id>/end` (`zak`) → `meeting.ended`, 303 to `GET /s/<id>/ended`.
- `GET /j/<id>?pwd=<pwd>[&uname=<name>]`: a participant's join link; a missing or wrong `pwd` → 403
  page. With the waiting room on, the participant waits (`participant_joined_waiting_room`);
  else they join (`participant_joined`) once the meeting is in progress (join-before-host starts
  it); otherwise the page says the host has not started yet. `uname` (≤ 64 chars) names them.

Ids are ASCII digits only (anything else → 404; unknown, deleted or expired → 404 page). Webhooks
are queued and POSTed after the response. Pages are plain HTML without scripts or inline styles
(the portal's CSP), and like the rest of the blueprint exempt from CSRF.
"""

import hmac
import re

from flask import abort, current_app, redirect, render_template, request, url_for

from .blueprint import bp, get_state
from .errors import ZoomError
from .meeting_data import format_meeting_number

NAME_LIMIT = 64
DEFAULT_NAME = "Guest"
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]+")
ZAK_PROBLEMS = {
    "missing": "This start link has no zak (host key).",
    "unknown": "This start link's zak (host key) was not issued by Zoom.",
    "expired": "This start link has expired: a zak (host key) is valid for 2 hours.",
    "other meeting": "This start link's zak (host key) belongs to another meeting.",
}


class MeetingPageError(Exception):
    """A meeting page that cannot be shown: HTTP status, heading and explanation."""

    def __init__(self, status, title, message):
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message


@bp.errorhandler(MeetingPageError)
def meeting_page_error(exc):
    """Answer with the simulator's notice page."""
    return _page("meeting_notice.html", exc.status, title=exc.title, message=exc.message)


def _page(template, status=200, **context):
    html = render_template(f"zoom_sim/{template}", **context)
    response = current_app.response_class(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # the URLs carry zaks and passcodes
    response.headers["Referrer-Policy"] = "no-referrer"
    response.call_on_close(get_state().webhooks.flush)
    return response


def _meeting(state, meeting_id):
    if not (meeting_id.isascii() and meeting_id.isdigit() and len(meeting_id) <= 19):
        abort(404)
    try:
        return state.find_meeting(meeting_id)
    except ZoomError:
        raise MeetingPageError(
            404,
            "Meeting not found",
            f"Meeting {format_meeting_number(meeting_id)} does not exist or has expired.",
        ) from None


def _host_meeting(state, meeting_id, zak):
    meeting = _meeting(state, meeting_id)
    problem = state.check_zak(meeting.id, zak) if zak else "missing"
    if problem:
        raise MeetingPageError(
            403,
            "This start link cannot be used",
            f"{ZAK_PROBLEMS[problem]} Start the meeting again from the portal for a fresh link.",
        )
    return meeting


def _pwd_ok(meeting, given):
    if not meeting.password:
        return True
    given = given.encode()
    return any(
        hmac.compare_digest(given, expected.encode())
        for expected in (meeting.pwd, meeting.encrypted_password)
    )


def _display_name(raw):
    name = " ".join(_CONTROL_CHARS.sub(" ", raw or "").split())[:NAME_LIMIT].strip()
    return name or DEFAULT_NAME


def _host_view(state, meeting, zak, error=None, status=200):
    with state.lock:
        host = state.users[meeting.host_id]
        people = [
            {"id": pid, "name": p["user_name"], "state": p["state"]}
            for pid, p in meeting.participants.items()
        ]
        context = {
            "topic": meeting.topic,
            "meeting_id": meeting.id,
            "number": format_meeting_number(meeting.id),
            "host_name": host.display_name,
            "host_email": host.email,
            "in_progress": meeting.status == "started",
            "waiting_room": bool(meeting.settings.get("waiting_room")),
            "people": people,
        }
    return _page("meeting_host.html", status, zak=zak, error=error, **context)


@bp.route("/s/<meeting_id>", methods=["GET"])
def host_meeting(meeting_id):
    """Start the meeting as its host (zak in the link) and show the host view."""
    state = get_state()
    zak = request.args.get("zak", "")
    meeting = _host_meeting(state, meeting_id, zak)
    with state.lock:
        if meeting.status != "started":
            state.start_meeting(meeting.id, deliver=False)
    return _host_view(state, meeting, zak)


@bp.route("/s/<meeting_id>/admit", methods=["POST"])
def admit_participant(meeting_id):
    """Let a participant in from the waiting room, then go back to the host view (303)."""
    state = get_state()
    zak = request.form.get("zak", "")
    meeting = _host_meeting(state, meeting_id, zak)
    try:
        state.admit_participant(meeting.id, request.form.get("participant", ""), deliver=False)
    except (KeyError, ValueError) as exc:
        message = "Nobody with that id is waiting." if isinstance(exc, KeyError) else str(exc)
        return _host_view(state, meeting, zak, error=f"Cannot admit: {message}", status=409)
    response = redirect(url_for(".host_meeting", meeting_id=meeting.id, zak=zak), 303)
    response.call_on_close(state.webhooks.flush)
    return response


@bp.route("/s/<meeting_id>/end", methods=["POST"])
def end_meeting(meeting_id):
    """End the meeting for everyone (`meeting.ended`), then show that it ended (303)."""
    state = get_state()
    meeting = _host_meeting(state, meeting_id, request.form.get("zak", ""))
    with state.lock:
        if meeting.status == "started":
            state.end_meeting(meeting.id, deliver=False)
    response = redirect(url_for(".meeting_ended", meeting_id=meeting.id), 303)
    response.call_on_close(state.webhooks.flush)
    return response


@bp.route("/s/<meeting_id>/ended", methods=["GET"])
def meeting_ended(meeting_id):
    """Say whether the meeting is over."""
    meeting = _meeting(get_state(), meeting_id)
    number = format_meeting_number(meeting.id)
    if meeting.status == "started":
        return _page(
            "meeting_notice.html",
            title="Meeting in progress",
            message=f"Meeting {number} is still in progress.",
        )
    return _page(
        "meeting_notice.html",
        title="Meeting ended",
        message=f"Meeting {number} has ended for everyone.",
        success=True,
    )


def _arrive(state, meeting, name):
    """A participant arrives (call with the lock held): waiting, joined or not started."""
    if meeting.settings.get("waiting_room"):
        state.participant_waiting(meeting.id, name, deliver=False)
        return "waiting"
    if meeting.status == "started" or meeting.settings.get("join_before_host"):
        if meeting.status != "started":
            state.start_meeting(meeting.id, deliver=False)
        state.join_participant(meeting.id, name, deliver=False)
        return "joined"
    return "not started"


@bp.route("/j/<meeting_id>", methods=["GET"])
def join_meeting(meeting_id):
    """Join as a participant: waiting room, straight in, or wait for the host."""
    state = get_state()
    meeting = _meeting(state, meeting_id)
    if not _pwd_ok(meeting, request.args.get("pwd", "")):
        raise MeetingPageError(
            403,
            "Wrong meeting passcode",
            "The passcode in this join link is missing or wrong. Use the link the host shared.",
        )
    name = _display_name(request.args.get("uname"))
    with state.lock:
        outcome, topic = _arrive(state, meeting, name), meeting.topic
    return _page(
        "meeting_join.html",
        number=format_meeting_number(meeting.id),
        topic=topic,
        name=name,
        outcome=outcome,
        again_url=url_for(".join_meeting", meeting_id=meeting.id, **request.args.to_dict()),
    )
