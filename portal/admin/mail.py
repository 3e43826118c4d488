"""The admin's mail page: messages that wait or failed, with Retry (/admin/mail/)."""

from flask import abort, current_app, flash, redirect, url_for
from flask_login import current_user

from .. import audit
from ..auth.access import visible_centers
from ..models import Center, OutboxMessage, User
from ..notifications import outbox
from ..notifications.settings import mail_settings
from ..rendering import render
from .views import bp

PAGE = 100


def _admin_centers():
    if current_user.role == "account_admin":
        return None
    return [c.id for c in visible_centers(current_user)]


def scoped(query, centers):
    """Messages of the admin's centers (an account admin sees every message)."""
    if centers is None:
        return query
    return query.where(OutboxMessage.center.in_(centers))


@bp.route("/admin/mail/")
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


@bp.route("/admin/mail/<int:message_id>/retry", methods=["POST"])
def retry_mail(message_id):
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
    return redirect(url_for("admin.mail_list"), 303)
