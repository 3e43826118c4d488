"""The outbox: queue a message once, deliver it once, keep it until it is delivered.

Queuing inserts a row whose UNIQUE ``key`` names the message (``INSERT … ON CONFLICT
DO NOTHING``), usually inside the transaction that made it due (a booking, a
cancellation, a finding being opened), so the message exists exactly when its cause
does. Delivery runs outside any transaction:

1. claim: one conditional UPDATE moves a due row (queued and ``next_attempt_at`` passed,
   or ``sending`` whose lease ran out because its sender died) to ``sending`` with this
   run's lease; the row count says who won, so concurrent runs never send one row twice;
2. render and hand it to the mail server (one connection per run);
3. mark it ``sent`` (conditional on our lease); on failure put it back to ``queued``
   with exponential backoff, or ``failed`` after MAX_ATTEMPTS (an admin can retry).

A sender killed between 2 and 3 leaves a lease that expires after LEASE; the message is
then sent again with the same Message-ID (mail programs show one). That window is the
only way a message can arrive twice.
"""

import datetime
import logging
import random
import uuid

from flask import after_this_request, current_app, has_app_context, has_request_context

from ..db import database, retry_locked, write_tx
from ..enqueue import enqueue
from ..mail import MailError, OutboxTransport, SMTPTransport
from ..models import OutboxMessage, utcnow
from .errors import Skip
from .messages import render
from .settings import mail_settings

log = logging.getLogger("portal.mail")

LEASE = datetime.timedelta(minutes=5)
MAX_ATTEMPTS = 8  # 1, 2, 4, 8, 16, 32, 60 minutes apart: about two hours in all
MAX_BACKOFF = datetime.timedelta(hours=1)
BATCH = 200


def queue(rows):
    """Insert intent rows (dicts with key, kind, recipient, …); rows already there stay as they are.

    Call inside the caller's transaction; returns nothing (a second call is a no-op).
    """
    rows = [r for r in rows if r.get("recipient")]
    if not rows:
        return
    now = utcnow()
    for row in rows:
        row.setdefault("created_at", now)
        row.setdefault("updated_at", now)
        row.setdefault("next_attempt_at", now)
    OutboxMessage.insert_many(rows).on_conflict_ignore().execute()


def backoff(attempts):
    """How long to wait after the ``attempts``-th failed try (with a little jitter)."""
    base = datetime.timedelta(minutes=2 ** max(attempts - 1, 0))
    return min(base, MAX_BACKOFF) * random.uniform(0.9, 1.1)


def claim(owner, now=None):
    """Take one due row for this sender; None when nothing is due."""
    now = now or utcnow()
    for _ in range(10):
        candidates = [
            row.id
            for row in OutboxMessage.due(now)
            .select(OutboxMessage.id)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(5)
        ]
        if not candidates:
            return None
        for message_id in candidates:
            if _take(message_id, owner, now):
                return OutboxMessage.get_by_id(message_id)
    return None


def _take(message_id, owner, now):
    due = (
        (OutboxMessage.status == OutboxMessage.QUEUED) & (OutboxMessage.next_attempt_at <= now)
    ) | ((OutboxMessage.status == OutboxMessage.SENDING) & (OutboxMessage.lease_until < now))

    def write():
        with write_tx():
            return (
                OutboxMessage.update(
                    status=OutboxMessage.SENDING,
                    lease_owner=owner,
                    lease_until=now + LEASE,
                    attempts=OutboxMessage.attempts + 1,
                    updated_at=now,
                )
                .where(OutboxMessage.id == message_id, due)
                .execute()
            )

    return retry_locked(write) == 1


def _finish(row, owner, **fields):
    fields.setdefault("updated_at", utcnow())
    fields.update(lease_owner=None, lease_until=None)

    def write():
        with write_tx():
            return (
                OutboxMessage.update(**fields)
                .where(OutboxMessage.id == row.id, OutboxMessage.lease_owner == owner)
                .execute()
            )

    return retry_locked(write)


def _failed(row, owner, error, now):
    error = str(error)[:500]
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row, owner, status=OutboxMessage.FAILED, last_error=error)
        log.warning("mail %s failed for good after %s attempts: %s", row.id, row.attempts, error)
    else:
        wait = backoff(row.attempts)
        _finish(
            row, owner, status=OutboxMessage.QUEUED, last_error=error, next_attempt_at=now + wait
        )
        log.info("mail %s not sent (%s); next try in %ss", row.id, error, int(wait.seconds))


def transport_for(app):
    """Where this app's messages go: the mail server, the development outbox, or nowhere."""
    settings = mail_settings(app)
    if settings.url is not None:
        return SMTPTransport(settings.url, settings.sender)
    if settings.development:
        return OutboxTransport()
    return None


def deliver_due(app, now=None, limit=BATCH, transport=None):
    """Send what is due now; returns counts {sent, retry, failed, skipped}."""
    counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    transport = transport or transport_for(app)
    if transport is None:
        return counts
    owner = uuid.uuid4().hex
    try:
        for _ in range(limit):
            now_ = now or utcnow()
            row = claim(owner, now_)
            if row is None:
                break
            try:
                content = render(app, row)
            except Skip as why:
                _finish(row, owner, status=OutboxMessage.SKIPPED, last_error=str(why)[:500])
                counts["skipped"] += 1
                continue
            except Exception:  # noqa: BLE001 - one broken message must not stop the others
                log.exception("mail %s could not be written", row.id)
                _failed(row, owner, "the message could not be written", now_)
                counts["retry"] += 1
                continue
            try:
                transport.send(content.message, content.to_address)
            except MailError as exc:
                _failed(row, owner, exc, now_)
                counts["failed" if row.attempts >= MAX_ATTEMPTS else "retry"] += 1
                if exc.connection:
                    break  # the server is down: everything else waits for the next run
                continue
            _finish(
                row,
                owner,
                status=OutboxMessage.SENT,
                sent_at=utcnow(),
                last_error=None,
                to_address=content.to_address,
                subject=content.subject,
                # the development outbox shows the message as sent; elsewhere a password
                # link's token is not kept
                body=content.text if transport.name == "outbox" else kept_text(content),
                ics=content.ics,
                transport=transport.name,
            )
            counts["sent"] += 1
            log.info("mail %s (%s) sent via %s", row.id, row.kind, transport.name)
    finally:
        transport.close()
    return counts


def kept_text(content):
    """What the outbox row keeps of a message sent to a mail server."""
    return content.record_text if content.record_text is not None else content.text


def retry(message_id, center_ids=None):
    """Put a failed (or waiting) message back at the front of the queue; True if it was."""
    query = OutboxMessage.update(
        status=OutboxMessage.QUEUED, next_attempt_at=utcnow(), attempts=0, updated_at=utcnow()
    ).where(
        OutboxMessage.id == message_id,
        OutboxMessage.status.in_((OutboxMessage.FAILED, OutboxMessage.QUEUED)),
    )
    if center_ids is not None:
        query = query.where(OutboxMessage.center.in_(list(center_ids)))

    def write():
        with write_tx():
            return query.execute()

    return retry_locked(write) == 1


def wake(app=None):
    """Deliver what was just queued: through the job queue, or after this response.

    Called after the transaction that queued the message has committed. Never sends in
    the request itself; a lost wake-up costs at most a minute (``send-reminders``).
    """
    if app is None:
        if not has_app_context():
            return
        app = current_app._get_current_object()
    mode = mail_settings(app).delivery
    if mode == "huey":
        enqueue(app, "deliver_mail", tolerate=True)  # else the minutely send-reminders run
    elif mode == "after_response":
        if has_request_context():

            @after_this_request
            def _later(response):
                response.call_on_close(lambda: _deliver_in(app))
                return response

        else:
            _deliver_in(app)  # a CLI command: no request to wait for


def _deliver_in(app):
    with app.app_context(), database.connection_context():
        try:
            deliver_due(app)
        except Exception:  # noqa: BLE001 - send-reminders picks it up
            log.exception("mail delivery after the response failed")
