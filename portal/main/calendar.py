"""The tutor's calendar feed: /calendar/tutor.ics, opened by its secret token alone (no login)."""

from flask import abort, current_app, make_response, request

from ..account.views import external
from ..notifications import feed, ics
from ..notifications.settings import mail_settings
from .views import bp


@bp.route("/calendar/tutor.ics")
def calendar_feed():
    """A tutor's appointments as iCalendar, for the holder of the feed's secret token."""
    tutor = feed.tutor_for(request.args.get("token"))
    if tutor is None:
        abort(404)
    base = mail_settings(current_app).base_url or request.url_root.rstrip("/")
    items = []
    for appointment in feed.appointments(tutor):
        where = links_for_feed(appointment, tutor)
        items.append(
            ics.event(
                appointment,
                base_url=base,
                summary=f"Tutoring: {appointment.student.name} ({appointment.center.name})",
                url=where["main"],
                description=f"Start your Daily Session: {where['main']}\n"
                f"{appointment.student.name}'s Join link: {where['join']}",
            )
        )
    response = make_response(ics.feed(items, f"Virtual Meetings: {tutor.name}"))
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'inline; filename="appointments.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def links_for_feed(appointment, tutor):
    return {
        "main": external("tutor.preferences"),
        "join": external("student.join_appointment", appointment_id=appointment.id),
    }
