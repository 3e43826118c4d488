"""HTTP for notifications: e-mail preferences, the tutor's calendar feed, the outbox pages.

Blueprints, each gated once:
- ``notify`` (/notifications): students and tutors; reminders on/off, a new feed link;
- ``calendar`` (/calendar): the feed, opened by its secret token alone (no login);
- ``mail_admin`` (/admin/mail): administrators; messages that wait or failed, Retry;
- ``dev_outbox`` (/dev/outbox): development only, never registered in production.
"""

from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user

from .. import audit
from ..auth.access import ADMIN_ROLES, require_roles, roles_required, visible_centers
from ..models import Center, OutboxMessage, User, utcnow
from ..rendering import render, wants_partial
from . import feed, ics, links, outbox
from .preferences import reminders_on, set_reminders
from .settings import mail_settings

bp = Blueprint("notify", __name__)
bp.before_request(require_roles("student", "tutor"))
calendar_bp = Blueprint("calendar", __name__)
admin_bp = Blueprint("mail_admin", __name__)
admin_bp.before_request(require_roles(*ADMIN_ROLES))
dev_bp = Blueprint("dev_outbox", __name__)

PAGE = 100


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
            context["feed_url"] = external("calendar.tutor_feed", token=token)
    return context


def _back():
    if current_user.role == "tutor":
        return url_for("tutor.preferences")
    return url_for("notify.preferences")


def _partial_or_back(message, **extra):
    if wants_partial():
        context = preferences_context(current_user, **extra)
        return render(
            "notifications/preferences.html",
            "partials/mail_preferences.html",
            notice=message,
            **context,
        )
    flash(message, "success")
    return redirect(_back(), 303)


@bp.route("/preferences")
def preferences():
    """E-mail preferences: reminders on or off (tutors also see their calendar feed)."""
    return render("notifications/preferences.html", **preferences_context(current_user))


@bp.route("/reminders", methods=["POST"])
def set_reminder_choice():
    """Turn reminder e-mails on or off."""
    value = request.form.get("reminders")
    if value not in {"on", "off"}:
        context = preferences_context(current_user)
        return render(
            "notifications/preferences.html",
            "partials/mail_preferences.html",
            400,
            error="Choose whether reminder e-mails are on or off.",
            **context,
        )
    on = set_reminders(current_user, value == "on")
    return _partial_or_back(
        f"Reminder e-mails are {'on' if on else 'off'}."
        + ("" if on else " Confirmations and cancellations still arrive.")
    )


@bp.route("/calendar", methods=["POST"])
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


# --- the feed ---------------------------------------------------------------------------


@calendar_bp.route("/tutor.ics")
def tutor_feed():
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
        "join": external("join.appointment", appointment_id=appointment.id),
    }


# --- administrators: what waits or failed -----------------------------------------------


def _admin_centers():
    if current_user.role == "account_admin":
        return None
    return [c.id for c in visible_centers(current_user)]


def scoped(query, centers):
    """Messages of the admin's centers (an account admin sees every message)."""
    if centers is None:
        return query
    return query.where(OutboxMessage.center.in_(centers))


@admin_bp.route("/")
def mail_list():
    """E-mail that failed or waits to be sent, with Retry."""
    centers = _admin_centers()
    base = OutboxMessage.select(OutboxMessage, User).join(
        User, on=(OutboxMessage.recipient == User.id)
    )
    failed = scoped(base.where(OutboxMessage.status == "failed"), centers)
    waiting = scoped(
        base.where(OutboxMessage.status.in_(("queued", "sending")), OutboxMessage.attempts > 0),
        centers,
    )
    queued = scoped(OutboxMessage.select().where(OutboxMessage.status == "queued"), centers)
    return render(
        "admin/mail.html",
        failed=list(failed.order_by(OutboxMessage.updated_at.desc()).limit(PAGE)),
        waiting=list(waiting.order_by(OutboxMessage.next_attempt_at).limit(PAGE)),
        queued_count=queued.count(),
        configured=mail_settings(current_app).can_send,
        max_attempts=outbox.MAX_ATTEMPTS,
        centers={c.id: c.name for c in Center.select(Center.id, Center.name)},
    )


@admin_bp.route("/<int:message_id>/retry", methods=["POST"])
def mail_retry(message_id):
    """Send a failed message again now."""
    centers = _admin_centers()
    row = scoped(OutboxMessage.select().where(OutboxMessage.id == message_id), centers).first()
    if row is None:
        abort(404)
    if outbox.retry(row.id, centers):
        audit.record(
            current_user,
            "mail.retry",
            center=row.center_id,
            target=row,
            before={"status": row.status, "attempts": row.attempts},
            after={"status": "queued"},
        )
        outbox.wake()
        flash("The message is queued again and goes out within a minute.", "success")
    else:
        flash("That message was already sent or is being sent right now.", "warning")
    return redirect(url_for("mail_admin.mail_list"), 303)


# --- development: what would have been sent ---------------------------------------------


@dev_bp.route("/")
def outbox_page():
    """Every message the portal queued or sent here, newest first (development only)."""
    rows = list(
        OutboxMessage.select(OutboxMessage, User)
        .join(User, on=(OutboxMessage.recipient == User.id))
        .order_by(OutboxMessage.id.desc())
        .limit(PAGE)
    )
    return render("notifications/dev_outbox.html", rows=rows, settings=mail_settings(current_app))


@dev_bp.route("/<int:message_id>")
def outbox_message(message_id):
    """One message as it was (or will be) sent, with its invitation."""
    row = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if row is None:
        abort(404)
    return render("notifications/dev_outbox_message.html", row=row)


@dev_bp.route("/<int:message_id>/invitation.ics")
def outbox_invitation(message_id):
    """The invitation a message carried, to open in a calendar program."""
    row = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if row is None or not row.ics:
        abort(404)
    response = make_response(row.ics)
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'attachment; filename="invitation.ics"'
    return response


@dev_bp.route("/send-reminders", methods=["POST"])
def outbox_send_reminders():
    """Run send-reminders now (what the minutely job does), from the outbox page."""
    app = current_app._get_current_object()
    from . import send_reminders

    report = send_reminders(app)
    flash(
        f"send-reminders: {report['due']} reminder(s) due, {report['sent']} message(s) sent.",
        "success",
    )
    return redirect(url_for("dev_outbox.outbox_page"), 303)
