"""Student pages: my appointments, booking, one appointment with its Join, virtual walk-ins.

Every object is loaded through the student's own scope (their appointments,
their centers): anything else is a 404.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import appointments, clock, daily, join, walkins
from ..auth.access import require_roles
from ..models import Appointment, Center, User, utcnow
from ..rendering import render, wants_partial
from ..validation import ValidationError

bp = Blueprint("student", __name__)
bp.before_request(require_roles(User.STUDENT))

MINUTE_CHOICES = (15, 30, 45, 60, 90)


@bp.context_processor
def helpers():
    return {
        "local": clock.to_local,
        "format_number": daily.format_meeting_number,
        "join_closed": join.closed_reason,
        "opens_before": join.OPENS_BEFORE,
    }


def _list_context(**extra):
    rows = list(appointments.upcoming_for_student(current_user))
    return {"appointments": rows, "now": utcnow(), **extra}


def home_page():
    """The student's appointments page, also served as their /home."""
    return render("student/appointments.html", **helpers(), **_list_context())


@bp.route("/student/")
def appointments_page():
    """The student's upcoming appointments, each with Join (when open) and Cancel."""
    return render(
        "student/appointments.html", "student/partials/appointments.html", **_list_context()
    )


@bp.route("/student/appointments/<int:appointment_id>")
def appointment(appointment_id):
    """One appointment: details, Join, the waiting-room note and today's meeting number."""
    target = join.appointment_target(current_user.id, appointment_id)
    if target is None:
        abort(404)
    return render("student/appointment.html", t=target, closed=join.closed_reason(target))


@bp.route("/student/appointments/<int:appointment_id>/cancel", methods=["POST"])
def cancel(appointment_id):
    """Cancel one of the student's own upcoming appointments."""
    appt = Appointment.get_or_none(
        Appointment.id == appointment_id, Appointment.student == current_user.id
    )
    if appt is None:
        abort(404)
    done = appointments.cancel(appt, actor=current_user)
    message = "Appointment cancelled." if done else "That appointment can no longer be cancelled."
    if wants_partial():
        return render(
            "student/appointments.html",
            "student/partials/appointments.html",
            **_list_context(notice=message),
        )
    flash(message, "success" if done else "error")
    return redirect(url_for("student.appointments_page"), 303)


def _book_form():
    fields = ("tutor", "date", "time", "minutes")
    form = {k: (request.form.get(k) or "")[:200] for k in fields}
    form["minutes"] = form["minutes"] or "30"
    return form


def _chosen(choices, value):
    """The (center, tutor) pair named by a "center:tutor" form value, from the student's choices."""
    for center, tutor in choices:
        if value == f"{center.id}:{tutor.id}":
            return center, tutor
    raise ValidationError("Choose a tutor from the list.", "tutor")


@bp.route("/student/book", methods=["GET", "POST"])
def book():
    """Book an online appointment with a tutor of one of the student's centers."""
    choices = appointments.bookable_tutors(current_user)
    form = _book_form()
    context = {"choices": choices, "form": form, "minute_choices": MINUTE_CHOICES}
    if request.method == "GET":
        return render("student/book.html", "student/partials/book_form.html", **context)
    try:
        center, tutor = _chosen(choices, form["tutor"])
        at = appointments.compose_start(form["date"], form["time"])
        appt = appointments.book(
            current_user,
            tutor,
            Appointment.ONLINE,
            at,
            form["minutes"],
            center.name,
            actor=current_user,
        )
    except ValidationError as exc:
        context.update(error=str(exc), error_field=exc.field)
        return render("student/book.html", "student/partials/book_form.html", 400, **context)
    flash(f"Booked: {tutor.name}, online. Press Join at the time of your appointment.", "success")
    target = url_for("student.appointment", appointment_id=appt.id)
    if wants_partial():
        response = render("student/book.html", "student/partials/book_form.html", **context)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


# --- virtual walk-ins -----------------------------------------------------------------------


def _walk_in_center(center_id):
    center = walkins.walk_in_centers(current_user).where(Center.id == center_id).first()
    if center is None:
        abort(404)
    return center


def _walk_in(center, error=None):
    entry = walkins.current_entry(current_user, center)
    place = walkins.position(entry, center) if entry is not None else None
    waiting = walkins.queue(center).count()
    return {"center": center, "entry": entry, "place": place, "waiting": waiting, "error": error}


def _walk_in_page(center=None, error=None, status=200, message=None):
    if center is not None and wants_partial():
        return render(
            "student/walk_in.html",
            "student/partials/walkin_status.html",
            status,
            s=_walk_in(center, error),
            oob_message=message,
        )
    sections = [
        _walk_in(c, error if c == center else None) for c in walkins.walk_in_centers(current_user)
    ]
    return render("student/walk_in.html", sections=sections, status=status)


@bp.route("/student/walk-in")
def walk_in():
    """Virtual walk-ins: join a center's queue, see your place, then Join your tutor."""
    return _walk_in_page()


@bp.route("/student/walk-in/<int:center_id>")
def walk_in_status(center_id):
    """One center's walk-in status (htmx polls it while the student waits)."""
    return _walk_in_page(_walk_in_center(center_id))


@bp.route("/student/walk-in/<int:center_id>/join", methods=["POST"])
def walk_in_join(center_id):
    """Join a center's virtual walk-in queue (once)."""
    center = _walk_in_center(center_id)
    try:
        walkins.join_queue(current_user, center)
    except walkins.WalkInError as exc:
        return _walk_in_page(center, str(exc), 400)
    if wants_partial():
        return _walk_in_page(center)
    return redirect(url_for("student.walk_in"), 303)


@bp.route("/student/walk-in/<int:center_id>/leave", methods=["POST"])
def walk_in_leave(center_id):
    """Leave a center's walk-in queue."""
    center = _walk_in_center(center_id)
    entry = walkins.current_entry(current_user, center)
    if entry is not None:
        walkins.leave_queue(current_user, entry.id)
    if wants_partial():
        return _walk_in_page(center, message="You left the walk-in queue.")
    flash("You left the walk-in queue.", "success")
    return redirect(url_for("student.walk_in"), 303)
