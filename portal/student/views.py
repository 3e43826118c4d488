"""Student pages: my appointments, booking, one appointment with its Join, virtual walk-ins.

Every object is loaded through the student's own scope (their appointments,
their centers): anything else is a 404.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import appointments, availability, clock, daily, join, readiness, walkins
from ..auth.access import require_roles
from ..models import Appointment, Center, User, utcnow
from ..rendering import render, wants_partial
from ..validation import ValidationError, clean_day

bp = Blueprint("student", __name__)
bp.before_request(require_roles(User.STUDENT))


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
    return render(
        "student/appointment.html",
        t=target,
        closed=join.closed_reason(target),
        tutor_ready=readiness.target_ready(target),
    )


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


def form_values(source):
    fields = ("tutor", "date", "time", "minutes", "slot")
    return {k: (source.get(k) or "")[:200] for k in fields}


def _chosen(choices, value):
    """The (center, tutor, ready) named by a "center:tutor" form value, from the choices."""
    for center, tutor, ready in choices:
        if value == f"{center.id}:{tutor.id}":
            return center, tutor, ready
    raise ValidationError("Choose a tutor from the list.", "tutor")


def _day(form, center):
    """The form's date at the center, or the center's today when none was given."""
    if not form["date"]:
        return center.today()
    try:
        return clean_day(form["date"])
    except ValidationError:
        return None


def _lengths(center):
    slot = center.slot_minutes
    return [m for m in (slot, 2 * slot, 3 * slot, 4 * slot) if m <= appointments.MAX_MINUTES]


def _offered_length(center, minutes):
    """Refuse a length the page does not offer (a direct POST of minutes=240, say)."""
    if not minutes:
        return
    lengths = _lengths(center)
    if appointments.parse_minutes(minutes) not in lengths:
        choices = ", ".join(str(m) for m in lengths)
        raise ValidationError(
            f"Online appointments at {center.name} last {choices} minutes; choose one of those.",
            "minutes",
        )


def slot_picker(center, tutor, form, ignore=None, current=None):
    """The free starts the picker offers for the chosen tutor, day and length."""
    day = _day(form, center)
    lengths = _lengths(center)
    try:
        minutes = int(form["minutes"]) if form["minutes"] else lengths[0]
    except ValueError:
        minutes = lengths[0]
    if minutes not in lengths and ignore is None:
        minutes = lengths[0]
    if day is None:
        return {
            "center": center,
            "tutor": tutor,
            "day": None,
            "slots": [],
            "lengths": lengths,
            "minutes": minutes,
        }
    slots = appointments.free_slots(center, tutor, day, minutes, ignore=ignore)
    if current is not None:
        slots = [s for s in slots if s != current]
    return {
        "center": center,
        "tutor": tutor,
        "day": day,
        "slots": slots,
        "lengths": lengths,
        "minutes": minutes,
        "hours": availability.describe(tutor, center, day),
        "day_off": availability.is_day_off(tutor, center, day),
    }


def _book_context(form):
    choices = appointments.online_choices(current_user)
    context = {"choices": choices, "form": form, "picker": None}
    if form["tutor"]:
        try:
            center, tutor, ready = _chosen(choices, form["tutor"])
        except ValidationError as exc:
            context.update(error=str(exc), error_field=exc.field)
            return context
        if not ready:
            problem = readiness.online_problem(tutor, center)
            context.update(
                error=f"{tutor.name} is {readiness.NOT_ONLINE} right now: {problem} "
                "Choose another tutor.",
                error_field="tutor",
            )
            return context
        context["picker"] = slot_picker(center, tutor, form)
    return context


@bp.route("/student/book", methods=["GET", "POST"])
def book():
    """Book an online appointment: choose a tutor and a day, then one of the free times.

    Tutors whose Zoom works (Join's rule) come first; the others are shown as "not
    available online" and refused if posted anyway. Only the free slots inside the
    center's hours and the tutor's availability are offered, and the service refuses
    any other time with a plain reason.
    """
    source = request.args if request.method == "GET" else request.form
    form = form_values(source)
    context = _book_context(form)
    if request.method == "GET":
        status = 400 if context.get("error") else 200
        return render("student/book.html", "student/partials/book_form.html", status, **context)
    try:
        center, tutor, _ready = _chosen(context["choices"], form["tutor"])
        _offered_length(center, form["minutes"])
        at = form["slot"] or appointments.compose_start(form["date"], form["time"])
        appt = appointments.book(
            current_user,
            tutor,
            Appointment.ONLINE,
            at,
            form["minutes"] or None,
            center.name,
            actor=current_user,
            require_ready=True,
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


def _own_booked(appointment_id):
    appt = Appointment.get_or_none(
        Appointment.id == appointment_id, Appointment.student == current_user.id
    )
    if appt is None:
        abort(404)
    return appt


@bp.route("/student/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
def reschedule(appointment_id):
    """Move one of the student's booked appointments to another free time of its tutor."""
    appt = _own_booked(appointment_id)
    here = url_for("student.appointment", appointment_id=appt.id)
    return move_page(
        appt,
        "student/reschedule.html",
        url_for("student.reschedule", appointment_id=appt.id),
        back=here,
        moved_to=lambda _moved: here,
        done="Appointment moved. A new confirmation is on its way by e-mail.",
    )


def move_page(appt, page, move_url, back, moved_to, done):
    """The Move page for ``appt`` (the student's and the admin's): GET offers the tutor's
    free times, POST moves it (``appointments.reschedule``) and redirects to
    ``moved_to(moved)`` with ``done``; an appointment past moving goes ``back``."""
    if appt.status != Appointment.BOOKED or not appt.tutor_id or appt.end_at <= utcnow():
        flash("That appointment can no longer be moved.", "error")
        return redirect(back, 303)
    form = form_values(request.args if request.method == "GET" else request.form)
    form["minutes"] = str(int((appt.end_at - appt.start_at).total_seconds() // 60))
    if not form["date"]:
        form["date"] = appt.center.local(appt.start_at).date().isoformat()
    context = {
        "appointment": appt,
        "form": form,
        "local": clock.to_local,  # the admin's page has no student context processor
        "picker": slot_picker(appt.center, appt.tutor, form, ignore=appt, current=appt.start_at),
        "move_url": move_url,
    }
    partial = "shared/partials/reschedule_form.html"
    if request.method == "GET":
        return render(page, partial, **context)
    try:
        at = form["slot"] or appointments.compose_start(form["date"], form["time"])
        moved = appointments.reschedule(appt, at, actor=current_user)
    except ValidationError as exc:
        context.update(error=str(exc), error_field=exc.field)
        return render(page, partial, 400, **context)
    flash(done, "success")
    target = moved_to(moved)
    if wants_partial():
        response = render(page, partial, **context)
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
    tutor_ready = None
    if entry is not None and entry.tutor_id is not None:
        # Said only when it is true: Join's own rule for the tutor who took the student.
        tutor_ready = entry.tutor_id in readiness.online_ready([entry.tutor], center)
    return {
        "center": center,
        "entry": entry,
        "place": place,
        "waiting": waiting,
        "error": error,
        "tutor_ready": tutor_ready,
    }


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
