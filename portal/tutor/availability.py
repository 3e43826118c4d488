"""Availability: when students can book a tutor at each center (weekly hours, days off).

The tutor's page is /tutor/availability; an admin edits the same thing for a tutor of
their center at /admin/centers/<id>/users/<id>/availability (``portal.admin.availability``).
Both render ``shared/partials/availability.html`` through ``page`` and ``apply`` here.
"""

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import availability, timefmt
from ..inputs import id_field
from ..models import Center
from ..rendering import render, wants_partial
from ..validation import ValidationError
from .views import bp

PARTIAL = "shared/partials/availability.html"


def page(template, tutor, center, urls, status=200, texts=None, **extra):
    """Render the Availability page (or its partial for htmx) for one tutor and center."""
    context = availability.page_context(tutor, center, texts)
    return render(template, PARTIAL, status, **urls, **context, **extra)


def apply(action, template, tutor, center, urls, back):
    """Run one change (``save``, ``add_day_off`` or ``remove_day_off``) and answer it."""
    texts = None
    try:
        if action == "save":
            texts = availability.form_texts(request.form)
            availability.set_weekly(tutor, center, texts, actor=current_user)
            texts = None
            message = "Weekly hours saved."
        elif action == "add_day_off":
            day = availability.add_day_off(
                tutor, center, request.form.get("day", ""), actor=current_user
            )
            message = f"Day off added: {timefmt.day(day, 'full')}."
        else:
            day_off_id = request.view_args.get("day_off_id")
            if not availability.remove_day_off(tutor, center, day_off_id, actor=current_user):
                abort(404)
            message = "Day off removed."
    except ValidationError as exc:
        return page(
            template, tutor, center, urls, 400, texts, error=str(exc), error_field=exc.field
        )
    if wants_partial():
        return page(template, tutor, center, urls, saved=message)
    flash(message, "success")
    return redirect(back, 303)


def _center():
    """The tutor's center named by ?center= (or in the URL), else their first; 404 if not theirs."""
    centers = current_user.centers()
    wanted = request.view_args.get("center_id") or id_field(request.args.get("center", ""))
    if wanted is None and request.args.get("center"):
        abort(404)
    center = centers.where(Center.id == wanted).first() if wanted else centers.first()
    if center is None:
        abort(404)
    return center


def _urls(center):
    return {
        "save_url": url_for("tutor.save_availability", center_id=center.id),
        "day_off_url": url_for("tutor.add_day_off", center_id=center.id),
        "remove_url": lambda i: url_for("tutor.remove_day_off", center_id=center.id, day_off_id=i),
        "back": url_for("tutor.availability", center=center.id),
    }


def _answer(action):
    center = _center()
    urls = _urls(center)
    back = urls.pop("back")
    return apply(action, "tutor/availability.html", current_user, center, urls, back)


@bp.route("/tutor/availability", endpoint="availability")
def availability_page():
    """The tutor's weekly hours and days off at one of their centers."""
    center = _center()
    urls = _urls(center)
    urls.pop("back")
    return page(
        "tutor/availability.html", current_user, center, urls, centers=list(current_user.centers())
    )


@bp.route("/tutor/availability/<int:center_id>", methods=["POST"])
def save_availability(center_id):
    """Save the weekly hours (every day empty: bookable during the opening hours)."""
    return _answer("save")


@bp.route("/tutor/availability/<int:center_id>/days-off", methods=["POST"])
def add_day_off(center_id):
    """Add a whole day off."""
    return _answer("add_day_off")


@bp.route("/tutor/availability/<int:center_id>/days-off/<int:day_off_id>/remove", methods=["POST"])
def remove_day_off(center_id, day_off_id):
    """Take a day off back."""
    return _answer("remove_day_off")
