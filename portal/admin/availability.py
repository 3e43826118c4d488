"""An admin sets a tutor's availability at their center, and moves booked appointments.

The tutor and the appointment are loaded through the admin's own center
(``center_or_404``, ``member_or_404``): another center's are a 404.
"""

from flask import abort, url_for

from ..auth.access import center_or_404, member_or_404
from ..models import Appointment, User
from ..student.views import move_page
from ..tutor.availability import apply, page
from .views import bp

TEMPLATE = "admin/tutor_availability.html"


def _tutor(center_id, user_id):
    center = center_or_404(center_id)
    tutor = member_or_404(center, user_id)
    if tutor.role != User.TUTOR:
        abort(404)
    return center, tutor


def _urls(center, tutor):
    ids = {"center_id": center.id, "user_id": tutor.id}
    return {
        "save_url": url_for("admin.save_tutor_availability", **ids),
        "day_off_url": url_for("admin.add_tutor_day_off", **ids),
        "remove_url": lambda i: url_for("admin.remove_tutor_day_off", day_off_id=i, **ids),
    }


def _answer(action, center_id, user_id):
    center, tutor = _tutor(center_id, user_id)
    back = url_for("admin.tutor_availability", center_id=center.id, user_id=tutor.id)
    return apply(action, TEMPLATE, tutor, center, _urls(center, tutor), back)


@bp.route("/admin/centers/<int:center_id>/users/<int:user_id>/availability")
def tutor_availability(center_id, user_id):
    """A tutor's weekly hours and days off at this center."""
    center, tutor = _tutor(center_id, user_id)
    return page(TEMPLATE, tutor, center, _urls(center, tutor))


@bp.route("/admin/centers/<int:center_id>/users/<int:user_id>/availability", methods=["POST"])
def save_tutor_availability(center_id, user_id):
    """Save a tutor's weekly hours at this center."""
    return _answer("save", center_id, user_id)


@bp.route(
    "/admin/centers/<int:center_id>/users/<int:user_id>/availability/days-off", methods=["POST"]
)
def add_tutor_day_off(center_id, user_id):
    """Add a day off for a tutor at this center."""
    return _answer("add_day_off", center_id, user_id)


@bp.route(
    "/admin/centers/<int:center_id>/users/<int:user_id>/availability/days-off/"
    "<int:day_off_id>/remove",
    methods=["POST"],
)
def remove_tutor_day_off(center_id, user_id, day_off_id):
    """Take back a tutor's day off at this center."""
    return _answer("remove_day_off", center_id, user_id)


# --- moving a booked appointment -----------------------------------------------------------


@bp.route(
    "/admin/centers/<int:center_id>/appointments/<int:appointment_id>/move",
    methods=["GET", "POST"],
)
def reschedule_appointment(center_id, appointment_id):
    """Move a booked appointment of this center to another free time of its tutor."""
    center = center_or_404(center_id)
    appt = Appointment.get_or_none(
        Appointment.id == appointment_id, Appointment.center == center.id
    )
    if appt is None:
        abort(404)

    def day_of(appointment):
        day = center.local(appointment.start_at).date().isoformat()
        return url_for("admin.center_day", center_id=center.id, date=day)

    return move_page(
        appt,
        "admin/reschedule.html",
        url_for("admin.reschedule_appointment", center_id=center.id, appointment_id=appt.id),
        back=day_of(appt),
        moved_to=day_of,
        done=f"Appointment moved; {appt.student.name} gets a new confirmation by e-mail.",
    )
