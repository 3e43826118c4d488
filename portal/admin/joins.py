"""A center's day for administrators: appointments, the walk-in queue, who was sent where.

Every view loads its center through ``center_or_404`` (the admin's own centers)
and a tutor through ``member_or_404``: another center's objects are a 404.
"""

from flask import abort, current_app, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user

from .. import appointments, daily, join, readiness, walkins
from ..auth.access import center_or_404, member_or_404, visible_centers
from ..inputs import id_field
from ..join.export import joins_csv
from ..models import Appointment, User, utcnow
from ..rendering import render, wants_partial
from ..validation import ValidationError, clean_day
from .views import bp


def _day(center):
    """The ?date= of the request (YYYY-MM-DD), or the center's today."""
    raw = request.args.get("date", "")
    if not raw:
        return center.today()
    try:
        return clean_day(raw)
    except ValidationError:
        abort(400)


def _context(center, day, tutor=None, error=None, confirm=None):
    start, end = center.day_bounds(day)
    tutors = list(center.tutors())
    return {
        "center": center,
        "day": day,
        "today": center.today(),
        "tutor": tutor,
        "tutors": tutors,
        "ready_ids": readiness.online_ready(tutors, center),
        "appointments": list(appointments.for_day(center, day)),
        "q": {
            "center": center,
            "entries": list(walkins.queue(center)),
            "error": error,
            "confirm": confirm,
        },
        "events": list(join.events(center.id, start, end, tutor.id if tutor else None)),
        "timezone": center.timezone,
        "format_number": daily.format_meeting_number,
        "reasons": join.REASONS,
        "destinations": join.DESTINATIONS,
        "assign": True,
        "show_tutor": tutor is None,
        "now": utcnow(),
    }


@bp.route("/admin/today")
def joins_today():
    """Open the day page of the admin's first center."""
    center = visible_centers(current_user).first()
    if center is None:
        return redirect(url_for("admin.centers"))
    return redirect(url_for("admin.center_day", center_id=center.id))


@bp.route("/admin/centers/<int:center_id>/day")
def center_day(center_id):
    """A center's day: appointments, the walk-in queue (assign a tutor) and who was sent where."""
    center = center_or_404(center_id)
    return render(
        "admin/joins_day.html",
        centers=list(visible_centers(current_user)),
        **_context(center, _day(center)),
    )


@bp.route("/admin/centers/<int:center_id>/joins")
def center_joins(center_id):
    """Who was sent where, per tutor and per day (?tutor=<id>&date=YYYY-MM-DD)."""
    center = center_or_404(center_id)
    tutor_id = request.args.get("tutor", type=id_field)
    tutor = member_or_404(center, tutor_id) if tutor_id is not None else None
    if tutor is not None and tutor.role != User.TUTOR:
        abort(404)
    return render(
        "admin/joins.html",
        "shared/partials/join_events.html",
        **_context(center, _day(center), tutor),
    )


@bp.route("/admin/centers/<int:center_id>/joins.csv")
def center_joins_csv(center_id):
    """Download who was sent where on a day (?date=YYYY-MM-DD, the center's) as CSV."""
    center = center_or_404(center_id)
    day = _day(center)
    try:
        start, end = center.day_bounds(day)
    except OverflowError:
        abort(400)
    response = current_app.response_class(
        stream_with_context(joins_csv(start, end, {center.id})), mimetype="text/csv"
    )
    name = f"joins-{center.id}-{day.isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/admin/centers/<int:center_id>/walk-ins")
def walk_in_queue(center_id):
    """The center's walk-in queue with an Assign control per waiting student."""
    center = center_or_404(center_id)
    context = _context(center, center.today())
    return render("admin/joins_day.html", "shared/partials/walkin_queue.html", **context)


@bp.route("/admin/centers/<int:center_id>/walk-ins/assign", methods=["POST"])
def assign_walk_in(center_id):
    """Give a waiting student to a tutor of this center."""
    center = center_or_404(center_id)
    tutor = member_or_404(center, request.form.get("tutor_id", type=id_field))
    entry_id = request.form.get("entry_id", type=id_field)
    problem = readiness.online_problem(tutor, center) if tutor.role == User.TUTOR else None
    if problem and request.form.get("confirm") != "1":
        return _confirm_not_ready(center, tutor, entry_id, problem)
    error = None
    try:
        entry = walkins.take(center, tutor, entry_id, actor=current_user)
    except walkins.WalkInError as exc:
        error = str(exc)
    message = (
        None if error else f"{entry.student.name} assigned to {tutor.name}: they see “Join” now."
    )
    if wants_partial():
        context = _context(center, center.today(), error=error)
        return render(
            "admin/joins_day.html",
            "shared/partials/walkin_queue.html",
            oob_message=message,
            **context,
        )
    flash(error or message, "error" if error else "success")
    return redirect(url_for("admin.center_day", center_id=center.id), 303)


def _confirm_not_ready(center, tutor, entry_id, problem):
    """Assigning a walk-in to a tutor Join won't reach: warn, change nothing, ask again.

    The second, explicit step is a form posting the same choice with ``confirm=1``.
    """
    waiting = walkins.queue(center)
    if entry_id is not None:
        waiting = waiting.where(Appointment.id == entry_id)
    entry = waiting.first()
    confirm = {
        "tutor": tutor,
        "entry_id": entry_id,
        "student": entry.student.name if entry is not None else None,
        "problem": problem,
    }
    context = _context(center, center.today(), confirm=confirm)
    if wants_partial():
        return render("admin/joins_day.html", "shared/partials/walkin_queue.html", **context)
    return render("admin/joins_day.html", centers=list(visible_centers(current_user)), **context)
