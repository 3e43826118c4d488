"""The Join routes: /join/appointment/<id> and the stable /join/<tutor id> link.

Each one loads its target in one query, lets ``join.resolve`` decide, records the
JoinEvent (queued for the background writer outside tests) and redirects (303,
no-store, no Referer to Zoom) or shows the plain "isn't ready" page. The
appointment route checks the signed-in student inside that one query (see
``portal.student.CHECKS_ITS_OWN_STUDENT``). A long-lived random device id cookie
(HttpOnly, SameSite=Lax, Secure and ``__Host-`` in production) lets the admin see
whether a student and a tutor used the same device.
"""

import re
import secrets

from flask import abort, current_app, redirect, request, session, url_for
from flask_login import current_user

from .. import appointments, daily, join
from ..models import utcnow
from ..rendering import render
from ..zoom.wiring import client_for, zoom_link_base
from . import join_bp, students_only

DEVICE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers keep
_DEVICE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")


def _factory(tutor):
    return client_for(current_app._get_current_object(), tutor)


def _settings():
    """(url check, device cookie name, secure flag, JoinEvent writer), made once per app."""
    app = current_app._get_current_object()
    cached = app.extensions.get("join_settings")
    if cached is None:
        config = app.config
        secure = bool(config.get("SESSION_COOKIE_SECURE"))
        background = config.get("JOIN_EVENTS_BACKGROUND")
        if background is None:
            background = not app.testing
        cached = (
            join.url_checker(zoom_link_base(app)),
            "__Host-device" if secure else "vmp_device",
            secure,
            join.EventWriter() if background else None,
        )
        app.extensions["join_settings"] = cached
    return cached


@join_bp.route("/appointment/<int:appointment_id>")
def appointment(appointment_id):
    """Send the student into the right room for their own appointment or walk-in."""
    now = utcnow()
    target = _own_appointment(appointment_id, now)
    if target is None:
        denied = students_only()  # not signed in → login; not a student → 403
        if denied is not None:
            return denied
        abort(404)  # a student, but not theirs (or no such appointment)
    closed = join.closed_reason(target, now)
    if closed == "waiting":
        return redirect(url_for("student.walk_in"), 303)
    if closed:
        return render("student/join_closed.html", t=target, closed=closed, **_helpers())
    return _go(target, now)


def _own_appointment(appointment_id, now):
    """The appointment if the session's user is an active student who owns it (one query)."""
    try:
        user_id = int(session.get("_user_id"))
        version = int(session.get("session_version"))
    except (TypeError, ValueError):
        return None
    return join.appointment_target(user_id, appointment_id, now, session_version=version)


@join_bp.route("/<int:tutor_id>")
def tutor(tutor_id):
    """The stable link: always today's room of a tutor of one of the student's centers."""
    now = utcnow()
    target = join.tutor_target(current_user.id, tutor_id, now)
    if target is None:
        abort(404)
    target.student_name = current_user.name
    return _go(target, now)


def _go(target, now):
    url_allowed, cookie_name, secure, writer = _settings()
    decision = join.resolve(target, _factory, url_allowed, now)
    device = request.cookies.get(cookie_name, "")
    fresh = not _DEVICE.match(device)
    if fresh:
        device = secrets.token_urlsafe(24)
    join.record(target, decision, device, now, writer)
    if decision.url:
        url = decision.url
        if decision.destination == join.DAILY_SESSION:
            url = join.with_display_name(url, target.student_name)
        response = redirect(url, 303)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    else:
        response = render("student/join_not_ready.html", t=target, decision=decision, **_helpers())
    if fresh:
        response.set_cookie(
            cookie_name,
            device,
            max_age=DEVICE_MAX_AGE,
            path="/",
            secure=secure,
            httponly=True,
            samesite="Lax",
        )
    return response


def _helpers():
    return {"local": appointments.to_local, "format_number": daily.format_meeting_number}
