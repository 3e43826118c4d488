"""The development outbox: every message queued or sent, one message, Run send-reminders."""

from flask import Blueprint, abort, current_app, flash, make_response, redirect, url_for

from ..models import OutboxMessage, User
from ..notifications import send_reminders
from ..notifications.settings import mail_settings
from ..rendering import render

bp = Blueprint("dev", __name__)

PAGE = 100


@bp.route("/dev/outbox/")
def outbox_page():
    """Every message the portal queued or sent here, newest first (development only)."""
    rows = list(
        OutboxMessage.select(OutboxMessage, User)
        .join(User, on=(OutboxMessage.recipient == User.id))
        .order_by(OutboxMessage.id.desc())
        .limit(PAGE)
    )
    return render("dev/outbox.html", rows=rows, settings=mail_settings(current_app))


@bp.route("/dev/outbox/<int:message_id>")
def outbox_message(message_id):
    """One message as it was (or will be) sent, with its invitation."""
    row = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if row is None:
        abort(404)
    return render("dev/outbox_message.html", row=row)


@bp.route("/dev/outbox/<int:message_id>/invitation.ics")
def outbox_invitation(message_id):
    """The invitation a message carried, to open in a calendar program."""
    row = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if row is None or not row.ics:
        abort(404)
    response = make_response(row.ics)
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'attachment; filename="invitation.ics"'
    return response


@bp.route("/dev/outbox/send-reminders", methods=["POST"])
def send_reminders_now():
    """Run send-reminders now (what the minutely job does), from the outbox page."""
    report = send_reminders(current_app._get_current_object())
    flash(
        f"send-reminders: {report['due']} reminder(s) due, {report['sent']} message(s) sent.",
        "success",
    )
    return redirect(url_for("dev.outbox_page"), 303)
