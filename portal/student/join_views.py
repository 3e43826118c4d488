"""The Join routes: /join/appointment/<id> and the stable /join/<tutor id> link.

Each calls ``join.send`` once (load, decide, commit the JoinEvent) and turns its
outcome into a redirect (303, no-store, no Referer to Zoom) or a page. The device
cookie (``portal.health.devices``) lets the admin see whether a student and a tutor
used the same device.
"""

from flask import abort, current_app, redirect, url_for
from flask_login import current_user

from .. import clock, daily, jobs, join
from ..health import devices
from ..rendering import render
from ..zoom.wiring import gateway
from .views import bp


def _url_allowed():
    """The check that a Daily Session link points at Zoom (made once per app)."""
    app = current_app._get_current_object()
    checker = app.extensions.get("join_url_allowed")
    if checker is None:
        checker = app.extensions["join_url_allowed"] = join.url_checker(gateway(app).link_base)
    return checker


@bp.route("/join/appointment/<int:appointment_id>")
def join_appointment(appointment_id):
    """Send the student into the right room for their own appointment or walk-in."""
    return _join(appointment_id=appointment_id)


@bp.route("/join/<int:tutor_id>")
def join_tutor(tutor_id):
    """The stable link: always today's room of a tutor of one of the student's centers."""
    return _join(tutor_id=tutor_id)


def _join(**which):
    device, fresh = devices.current()
    app = current_app._get_current_object()
    outcome = join.send(
        current_user,
        device,
        gateway().for_request,
        _url_allowed(),
        prepare_later=lambda tutor_id: jobs.prepare_session_later(app, tutor_id),
        **which,
    )
    if outcome.kind == "not_found":
        abort(404)  # not theirs, or no such appointment or tutor
    if outcome.kind == "queue":
        return redirect(url_for("student.walk_in"), 303)
    if outcome.kind == "closed":
        return render(
            "student/join_closed.html", t=outcome.target, closed=outcome.closed, **_helpers()
        )
    if outcome.kind == "redirect":
        response = redirect(outcome.url, 303)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    else:
        response = render(
            "student/join_not_ready.html",
            t=outcome.target,
            decision=outcome.decision,
            **_helpers(),
        )
    if fresh and outcome.decision is not None:
        devices.set_cookie(response, device)
    return response


def _helpers():
    return {"local": clock.to_local, "format_number": daily.format_meeting_number}
