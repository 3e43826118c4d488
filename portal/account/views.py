"""Pages every student and tutor shares: e-mail preferences, reminders on/off, a new feed link,
their own time zone.

One blueprint, ``account`` (/notifications), gated once to students and tutors.
The tutor's calendar feed itself is ``main.calendar_feed`` (opened by its token alone).
"""

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from .. import audit
from ..auth.access import require_roles, roles_required
from ..db import write_tx
from ..models import User, utcnow
from ..notifications import feed, links
from ..notifications.preferences import reminders_on, set_reminders
from ..notifications.settings import mail_settings
from ..rendering import render, wants_partial
from ..validation import ValidationError, clean_timezone

bp = Blueprint("account", __name__)
bp.before_request(require_roles("student", "tutor"))


def external(endpoint, **values):
    """A link as e-mails show it: under PUBLIC_BASE_URL when set, else this request's host."""
    app = current_app._get_current_object()
    if app.config.get("PUBLIC_BASE_URL"):
        return links.external(app, endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def preferences_context(user, new_token=None):
    """What the e-mail preferences partial shows."""
    context = {"reminders": reminders_on(user), "feed_url": None, "feed_made": None}
    context["reminder_minutes"] = mail_settings(current_app).reminder_minutes
    if user.role == "tutor":
        token, made = (new_token, utcnow()) if new_token else feed.current_token(current_app, user)
        context["feed_made"] = made
        if token:
            context["feed_url"] = external("main.calendar_feed", token=token)
    return context


def _back():
    if current_user.role == "tutor":
        return url_for("tutor.preferences")
    return url_for("account.preferences")


def _partial_or_back(message, **extra):
    if wants_partial():
        context = preferences_context(current_user, **extra)
        return render(
            "account/preferences.html",
            "account/partials/mail_preferences.html",
            notice=message,
            **context,
        )
    flash(message, "success")
    return redirect(_back(), 303)


@bp.route("/notifications/preferences")
def preferences():
    """E-mail preferences: reminders on or off (tutors also see their calendar feed)."""
    return render("account/preferences.html", **preferences_context(current_user))


@bp.route("/notifications/reminders", methods=["POST"])
def set_reminder_choice():
    """Turn reminder e-mails on or off."""
    value = request.form.get("reminders")
    if value not in {"on", "off"}:
        context = preferences_context(current_user)
        return render(
            "account/preferences.html",
            "account/partials/mail_preferences.html",
            400,
            error="Choose whether reminder e-mails are on or off.",
            **context,
        )
    on = set_reminders(current_user, value == "on")
    return _partial_or_back(
        f"Reminder e-mails are {'on' if on else 'off'}."
        + ("" if on else " Confirmations and cancellations still arrive.")
    )


@bp.route("/notifications/calendar", methods=["POST"])
@roles_required("tutor")
def new_calendar_link():
    """Make a new calendar feed link; the old one stops working."""
    had = feed.current_token(current_app, current_user)[1] is not None
    token = feed.new_token(current_app, current_user)
    audit.record(current_user, "calendar_feed.new", target=current_user)
    message = (
        "Here is your new calendar link. The old one no longer works: update your calendar."
        if had
        else "Here is your calendar link: add it to your calendar as a subscription."
    )
    return _partial_or_back(message, new_token=token)


@bp.route("/preferences/time-zone", methods=["POST"])
def set_time_zone():
    """Choose one's own time zone (blank: the center's) for the times pages show."""
    value = (request.form.get("timezone") or "").strip()
    try:
        zone = clean_timezone(value, label="Your time zone") if value else None
    except ValidationError as exc:
        return _preferences_page(
            400, zone_error=f"{exc} Your time zone is unchanged.", zone_value=value
        )
    with write_tx():
        User.update(timezone=zone).where(User.id == current_user.id).execute()
    if zone:
        flash(f"Times are now also shown in your time zone, {zone}, where it differs.", "success")
    else:
        flash("Times are now shown in your center's time zone only.", "success")
    return redirect(_back(), 303)


def _preferences_page(status, **extra):
    """The whole Preferences page of the current user (a tutor's has the Virtual Meetings
    panel), e.g. to show a refused choice with what was typed."""
    if current_user.role == "tutor":
        from ..tutor.views import panel_context

        context = panel_context(current_user, "")
        return render("tutor/preferences.html", status=status, **context, **extra)
    context = preferences_context(current_user)
    return render("account/preferences.html", status=status, **context, **extra)
