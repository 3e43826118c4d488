"""Preferences → Virtual Meetings: the panel, Daily Session, Start, Meetings, Check my setup.

Pages render from the database only; Zoom is called when the tutor asks for
something that needs it (Start, Check my setup, preparing today's session).
"""

import datetime
import logging

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import appointments, daily, join, readiness, timefmt, walkins
from ..account.views import preferences_context
from ..auth.access import require_roles
from ..health import devices, notices
from ..inputs import id_field
from ..live import board
from ..models import Appointment, Center, DailySession, User, ZoomConnection, utcnow
from ..rendering import render, wants_partial
from ..zoom.errors import ZoomError, ZoomNotFound, ZoomReauthRequired
from ..zoom.wiring import gateway

log = logging.getLogger("portal.tutor")

bp = Blueprint("tutor", __name__)
bp.before_request(require_roles(User.TUTOR))


def panel_context(tutor, choice=""):
    """What the Virtual Meetings panel needs to render (database only)."""
    centers = list(tutor.virtual_centers())
    connection = ZoomConnection.for_tutor(tutor)
    session = daily.today_session(tutor, centers[0]) if centers and connection else None
    return {
        "vm_centers": centers,
        "vm_enabled": bool(centers),
        "connection": connection,
        "session": session,
        "today": centers[0].today() if centers else None,
        "choice": choice if choice == ("disconnect" if connection else "connect") else "",
        "format_number": daily.format_meeting_number,
        "session_ready": bool(
            session and session.status in daily.READY and session.zoom_meeting_id
        ),
        "status_words": readiness.status_words,
        "health_notices": notices.current(tutor),
        "live": live_context(tutor, connection) if connection else None,
        "mail": preferences_context(tutor),  # the page's e-mail section (not the panel's)
    }


def live_context(tutor, connection=None):
    """What the tutor's live line shows: their row today, or that Zoom was disconnected."""
    connection = connection or ZoomConnection.for_tutor(tutor)
    broken = connection is not None and connection.status != ZoomConnection.ACTIVE
    row = board.for_tutor(tutor) if connection is not None and not broken else None
    return {"row": row, "broken": broken, "connected": connection is not None}


@bp.route("/tutor/preferences")
def preferences():
    """Preferences, with Virtual Meetings only where an administrator enabled it."""
    return render(
        "tutor/preferences.html", **panel_context(current_user, request.args.get("choice", ""))
    )


@bp.route("/tutor/virtual-meetings")
def vm_panel():
    """The Virtual Meetings panel alone (htmx swaps it when Select meeting changes)."""
    context = panel_context(current_user, request.args.get("choice", ""))
    return render("tutor/preferences.html", "tutor/partials/vm_panel.html", **context)


PREPARED = {
    "created": ("Today's Daily Session is ready: its number is on this page.", "success"),
    "adopted": ("Today's Daily Session is ready: its number is on this page.", "success"),
    "existing": ("Today's Daily Session was already ready.", "success"),
    "busy": ("Today's Daily Session is being prepared right now; it shows here soon.", "warning"),
    "failed": (
        "Today's Daily Session could not be prepared. Try again in a few minutes.",
        "error",
    ),
}


@bp.route("/tutor/daily-session", methods=["POST"])
def prepare_session():
    """Create today's Daily Session now if the morning job has not (claim protocol)."""
    center = current_user.home_center()
    if center is None or ZoomConnection.for_tutor(current_user) is None:
        abort(404)
    result = daily.ensure_daily_session(current_user, gateway().for_request, center=center)
    if not wants_partial():
        flash(*PREPARED.get(result.outcome, PREPARED["failed"]))
    if wants_partial():
        return render("tutor/partials/daily_session.html", **panel_context(current_user))
    return redirect(url_for("tutor.preferences"), 303)


START_REAUTH = (
    "Zoom no longer accepts the portal for your account, so the Daily Session can't "
    "be started. Press “Connect again” below and sign in to Zoom."
)
START_NO_ANSWER = "Zoom did not answer. Try Start again in a moment."
START_NOT_ZOOM = (
    "Zoom sent a start link the portal doesn't recognise, so it wasn't opened. Open "
    "the Zoom app and start your Daily Session there, and tell your administrator."
)


@bp.route("/tutor/sessions/<int:session_id>/start")
def start_session(session_id):
    """Fetch a fresh start URL from Zoom right now and send the tutor there (owner only)."""
    session = DailySession.get_or_none(
        DailySession.id == session_id, DailySession.tutor == current_user.id
    )
    if session is None or session.zoom_meeting_id is None:
        abort(404)
    if session.status not in daily.READY:
        return redirect(url_for("tutor.preferences"), 303)  # the panel says what to do
    try:
        start_url = _fresh_start_url(session)
    except ZoomReauthRequired:
        return _start_failed(START_REAUTH)
    except ZoomNotFound:
        return _replace_gone(session)
    except ZoomError:
        return _start_failed(START_NO_ANSWER)
    if not join.url_checker(gateway().link_base)(start_url):
        log.warning("start url for session %s is not a Zoom link; refused", session.id)
        return _start_failed(START_NOT_ZOOM)
    response = redirect(start_url, 303)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    # Remember this browser, so a student's Join from it shows as same_device.
    return devices.remember_start(response, current_user.id, session.id)


def _fresh_start_url(session):
    """The meeting's start URL as Zoom gives it now (raises the Zoom client's errors)."""
    client = gateway().for_request(current_user)
    try:
        return _fetch_meeting(client, session.zoom_meeting_id).get("start_url") or ""
    finally:
        client.close()


def _fetch_meeting(client, meeting_id):
    """GET the meeting; a 3001 "does not exist" is asked once more before it is believed."""
    try:
        return client.get_meeting(meeting_id)
    except ZoomNotFound:
        return client.get_meeting(meeting_id)


def _replace_gone(session):
    """Zoom confirmed today's meeting is gone: create the replacement and show its number."""
    old = daily.format_meeting_number(session.zoom_meeting_id)
    center = session.center
    if session.date != center.today():
        day = timefmt.day(session.date)
        return _start_failed(f"The Daily Session {old} of {day} no longer exists.")
    result = daily.replace_gone_session(current_user, gateway().for_request, session, center=center)
    fresh = result.session
    if fresh is not None and fresh.status in daily.READY and fresh.zoom_meeting_id:
        new = daily.format_meeting_number(fresh.zoom_meeting_id)
        flash(
            f"Today's Daily Session {old} no longer exists in Zoom, so the portal created a "
            f"new one: {new}. Students are sent there from now on. Check that the Zoom app "
            "shows this number, then press Start.",
            "warning",
        )
        return redirect(url_for("tutor.preferences"), 303)
    return _start_failed(
        f"Today's Daily Session {old} no longer exists in Zoom, and a new one could not be "
        "created yet. Press “Create today's session” in a few minutes."
    )


def _start_failed(message):
    flash(message, "error")
    return redirect(url_for("tutor.preferences"), 303)


@bp.route("/tutor/meetings")
def meetings():
    """The Meetings tab: today's, upcoming and the past 30 days' Daily Sessions."""
    center = current_user.home_center()
    today = center.today() if center else datetime.date.today()
    rows = (
        DailySession.select()
        .where(
            DailySession.tutor == current_user.id,
            DailySession.date >= today - datetime.timedelta(days=30),
        )
        .order_by(DailySession.date.desc())
    )
    sessions = list(rows)
    return render(
        "tutor/meetings.html",
        today=today,
        upcoming=[s for s in sessions if s.date > today],
        today_sessions=[s for s in sessions if s.date == today],
        past=[s for s in sessions if s.date < today],
        format_number=daily.format_meeting_number,
    )


@bp.route("/tutor/setup")
def setup():
    """Check my setup: the readiness checklist (runs the checks when asked)."""
    if not request.args.get("run"):
        return render("tutor/setup.html", rows=None)
    rows = readiness.check_tutor(current_user, gateway().for_request)
    return render("tutor/setup.html", "tutor/partials/setup_rows.html", rows=rows)


# --- Today: appointments, the walk-in queue, who was sent where (issue 5) -------------------


def _today_context(tutor, center=None, error=None):
    """Today's appointments, walk-in queues and JoinEvents of a tutor (database only)."""
    centers = list(tutor.virtual_centers())
    now = utcnow()
    days = {c.id: c.today(now) for c in centers}
    home = centers[0] if centers else None
    start, end = home.day_bounds(days[home.id]) if home else (now, now)
    return {
        "centers": centers,
        "days": days,
        "appointments": {c.id: list(appointments.for_day(c, days[c.id], tutor)) for c in centers},
        "queues": [_queue(c, error if c == center else None) for c in centers],
        "events": list(join.events(None, start, end, tutor_id=tutor.id)),
        "timezone": home.timezone if home else "UTC",
        "format_number": daily.format_meeting_number,
        "reasons": join.REASONS,
        "destinations": join.DESTINATIONS,
        "assign": False,
    }


def _queue(center, error=None):
    return {"center": center, "entries": list(walkins.queue(center)), "error": error}


def _queue_response(center, error=None, message=None):
    """The queue fragment for htmx (with the action's message out of band); the whole
    Today page otherwise."""
    if not wants_partial():
        return render("tutor/today.html", **_today_context(current_user, center, error))
    return render(
        "shared/partials/walkin_queue.html",
        q=_queue(center, error),
        assign=False,
        oob_message=message,
    )


def taken_message(entry):
    """What a tutor is told after taking a student: whom, and what happens next."""
    return (
        f"You took {entry.student.name} from the queue. They see “Join” now and are sent "
        "to your Daily Session: press Start in Preferences → Virtual Meetings if it "
        "isn't running yet."
    )


def _my_vm_center(center_id):
    center = current_user.virtual_centers().where(Center.id == center_id).first()
    if center is None:
        abort(404)
    return center


@bp.route("/tutor/today")
def today():
    """Today's appointments, the walk-in queue with Take, and where your students were sent."""
    return render("tutor/today.html", **_today_context(current_user))


@bp.route("/tutor/today/appointments/<int:center_id>")
def today_appointments(center_id):
    """One center's appointments today (htmx polls it on the Today page)."""
    center = _my_vm_center(center_id)
    if not wants_partial():
        return render("tutor/today.html", **_today_context(current_user))
    day = center.today()
    return render(
        "tutor/partials/today_appointments.html",
        c=center,
        days={center.id: day},
        appointments={center.id: list(appointments.for_day(center, day, current_user))},
    )


@bp.route("/tutor/today/joins")
def today_joins():
    """Where the tutor's students were sent today (htmx polls it on the Today page)."""
    context = _today_context(current_user)
    return render("tutor/today.html", "tutor/partials/today_joins.html", **context)


@bp.route("/tutor/walk-ins/<int:center_id>")
def walk_in_queue(center_id):
    """One center's walk-in queue (htmx polls it on the Today page)."""
    return _queue_response(_my_vm_center(center_id))


@bp.route("/tutor/walk-ins/<int:center_id>/take", methods=["POST"])
def take_walk_in(center_id):
    """Take the next waiting student, or the chosen one, from a center's queue."""
    center = _my_vm_center(center_id)
    entry_id = request.form.get("entry_id", type=id_field)
    try:
        entry = walkins.take(center, current_user, entry_id, actor=current_user)
        error = None
    except walkins.WalkInError as exc:
        entry, error = None, str(exc)
    if wants_partial():
        return _queue_response(center, error, None if error else taken_message(entry))
    flash(error or taken_message(entry), "error" if error else "success")
    return redirect(url_for("tutor.today"), 303)


@bp.route("/tutor/appointments/<int:appointment_id>/cancel", methods=["POST"])
def cancel_appointment(appointment_id):
    """Cancel one of the tutor's own upcoming appointments; the student is told by e-mail."""
    appt = Appointment.get_or_none(
        Appointment.id == appointment_id, Appointment.tutor == current_user.id
    )
    if appt is None:
        abort(404)
    done = appointments.cancel(appt, actor=current_user)
    flash(
        f"Appointment with {appt.student.name} cancelled; they get an e-mail."
        if done
        else "That appointment can no longer be cancelled.",
        "success" if done else "error",
    )
    return redirect(url_for("main.home"), 303)
