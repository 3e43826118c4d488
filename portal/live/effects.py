"""What each recorded Zoom event does, run after the webhook was acknowledged.

``process_pending()`` takes deliveries with status ``new`` in event order. Each
one is claimed and applied in a single transaction (``UPDATE … SET status WHERE
status='new'``: exactly one processor wins, and a failure rolls the claim back
with the effect), so duplicates, retries and parallel workers cause one effect.
Nothing here calls Zoom.

- ``app_deauthorized``: the Zoom user's connections become ``deauthorized``, their
  tokens are wiped at once, a ``connection_broken`` finding is opened.
- ``meeting.started`` / ``meeting.ended`` of a Daily Session: live / ended with
  times (the later of start and end wins, so out-of-order deliveries converge).
  A connected tutor starting any other meeting opens ``session_mismatch``.
- ``meeting.deleted`` of a Daily Session: ``missing`` and ``session_mismatch``.
- participant events: the presence log (``presence.py``) and ``waiting_room_stuck``.
"""

import collections
import logging

from .. import audit, clock, daily, timefmt
from ..db import retry_locked, write_tx
from ..health.checks import connection_broken, session_mismatch
from ..health.findings import open_finding, open_for
from ..health.findings import resolve as resolve_finding
from ..models import DailySession, User, WebhookDelivery, ZoomConnection, utcnow
from ..zoom.tokens import mark_needs_reauth
from . import board, presence
from .events import DEAUTHORIZED, MalformedEvent, parse_event

log = logging.getLogger("portal.webhooks")

HANDLERS = {}


def handles(*names):
    def decorator(fn):
        for name in names:
            HANDLERS[name] = fn
        return fn

    return decorator


def process_pending(*, now=None, limit=500):
    """Apply every delivery still ``new`` (oldest event first); returns counts by outcome."""
    ids = [
        delivery_id
        for (delivery_id,) in WebhookDelivery.select(WebhookDelivery.id)
        .where(WebhookDelivery.status == WebhookDelivery.NEW)
        .order_by(WebhookDelivery.event_ts, WebhookDelivery.id)
        .limit(limit)
        .tuples()
    ]
    counts = collections.Counter(process_one(delivery_id, now=now) for delivery_id in ids)
    counts.pop(None, None)
    board.recheck(now)  # a wait may have grown too long since the last event
    return dict(counts)


def process_one(delivery_id, *, now=None):
    """Claim and apply one delivery; None if another processor already had it."""

    def run():
        with write_tx():
            claimed = (
                WebhookDelivery.update(status=WebhookDelivery.DONE)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.status == WebhookDelivery.NEW,
                )
                .execute()
            )
            if not claimed:
                return None
            delivery = WebhookDelivery.get_by_id(delivery_id)
            status, outcome = apply(delivery, now or utcnow())
            WebhookDelivery.update(status=status, outcome=outcome[:1000]).where(
                WebhookDelivery.id == delivery_id
            ).execute()
            return status

    try:
        return retry_locked(run, attempts=5)
    except Exception as exc:  # noqa: BLE001 - recorded on the row, never lost silently
        log.exception("webhook delivery %s failed", delivery_id)
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        WebhookDelivery.update(status=WebhookDelivery.FAILED, outcome=reason).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == WebhookDelivery.NEW
        ).execute()
        return WebhookDelivery.FAILED


def apply(delivery, now):
    """Run the delivery's effect; returns (status, outcome) for the row."""
    envelope = {"event": delivery.event, "event_ts": delivery.event_ts, "payload": delivery.payload}
    try:
        event = parse_event(envelope)
    except MalformedEvent as exc:
        return WebhookDelivery.IGNORED, f"malformed: {exc}"
    handler = HANDLERS.get(event.name)
    if handler is None:
        return WebhookDelivery.IGNORED, f"{event.name} is not used by the portal"
    return handler(event, delivery, now)


# --- helpers ---------------------------------------------------------------------------------


def session_for_meeting(meeting_id):
    """The Daily Session (latest date) that holds this Zoom meeting, or None."""
    return (
        DailySession.select()
        .where(DailySession.zoom_meeting_id == meeting_id)
        .order_by(DailySession.date.desc())
        .first()
    )


def live_status(started_at, ended_at):
    """live when the latest news is a start, ended when it is an end."""
    if started_at is not None and (ended_at is None or started_at > ended_at):
        return DailySession.LIVE
    return DailySession.ENDED if ended_at is not None else None


def local_time(when, center, now):
    """'10:42 AM EST' in the center's zone, with the date when it is not today there
    (stored text that e-mails and pages show, so no viewer's zone)."""
    timezone = center.timezone if center else clock.UTC
    today = clock.local_date(now, timezone)
    if clock.local_date(when, timezone) == today:
        return timefmt.when(when, timezone, "time", viewer=None)
    return timefmt.when(when, timezone, "short", viewer=None)


# --- app_deauthorized ------------------------------------------------------------------------


@handles(DEAUTHORIZED)
def deauthorized(event, delivery, now):
    """The tutor removed the app in Zoom: stop, wipe the tokens, tell the admin."""
    rows = list(ZoomConnection.current().where(ZoomConnection.zoom_user_id == event.user_id))
    if not rows:
        return WebhookDelivery.IGNORED, "no current connection for this Zoom user"
    # A retry can arrive an hour late: it must not undo a reconnection made since.
    rows = [row for row in rows if row.connected_at is None or row.connected_at <= event.at]
    if not rows:
        return WebhookDelivery.IGNORED, "the tutor connected again after this deauthorization"
    for row in rows:
        tutor = User.get_by_id(row.tutor_id)
        center = tutor.finding_center()
        when = local_time(event.at, center, now)
        reason = f"app removed in Zoom at {when}"
        mark_needs_reauth(row.id, reason, status=ZoomConnection.DEAUTHORIZED, clock=lambda: now)
        ZoomConnection.update(
            status=ZoomConnection.DEAUTHORIZED,
            access_token_enc=None,
            refresh_token_enc=None,
            revoke_pending=False,  # Zoom already ended the grant
            lease_owner=None,
            lease_until=None,
            last_error=reason,
            version=ZoomConnection.version + 1,
            updated_at=now,
        ).where(ZoomConnection.id == row.id).execute()
        audit.record(
            None,
            "zoom.deauthorized",
            center=center,
            target=row,
            before={"status": row.status},
            after={"status": ZoomConnection.DEAUTHORIZED, "tokens": "deleted"},
        )
        _open(
            connection_broken,
            tutor,
            center,
            connection_broken.deauthorized_detail(tutor, when),
            {
                "source": "webhook",
                "event": event.name,
                "zoom_user_id": event.user_id,
                "connection": row.id,
                "delivery": delivery.id,
            },
            now=now,
        )
    return WebhookDelivery.DONE, f"deauthorized {len(rows)} connection(s)"


# --- meeting.started / ended / deleted -------------------------------------------------------


def _set_times(session, now, **times):
    started = times.get("started_at", session.started_at)
    ended = times.get("ended_at", session.ended_at)
    status = live_status(started, ended) or session.status
    DailySession.update(status=status, **times).where(DailySession.id == session.id).execute()
    session = DailySession.get_by_id(session.id)
    presence.refresh_session(session, now)
    presence.check_waiting_room(session, presence.waiting_times(session), now)
    return session


@handles("meeting.started")
def meeting_started(event, delivery, now):
    """A Daily Session goes live; any other meeting of a connected tutor is a mismatch."""
    session = session_for_meeting(event.meeting_id)
    if session is not None and session.status == DailySession.MISSING:
        return WebhookDelivery.IGNORED, f"session {session.id} was deleted in Zoom"
    if session is not None and _local_date(event.at, session) == session.date:
        if session.started_at is None or event.at > session.started_at:
            session = _set_times(session, now, started_at=event.at)
        key = session_mismatch.key(session.tutor_id)
        finding = open_for(key)
        # the webhook's own "started another meeting" finding (the one scans keep)
        if finding is not None and session_mismatch.keep(finding.evidence):
            resolve_finding(key, "today's Daily Session started", now=now)
        return WebhookDelivery.DONE, f"session {session.id} {session.status}"
    connection = (
        ZoomConnection.current()
        .where(
            ZoomConnection.zoom_user_id == event.host_id,
            ZoomConnection.status == ZoomConnection.ACTIVE,
        )
        .first()
        if event.host_id
        else None
    )
    if connection is None:
        return WebhookDelivery.IGNORED, "not a meeting of a connected tutor"
    tutor = User.get_by_id(connection.tutor_id)
    today = daily.today_session(tutor)
    detail = session_mismatch.wrong_meeting_detail(tutor, event.meeting_id, today)
    evidence = {
        "source": "webhook",
        "kind": "wrong_meeting",
        "started_meeting": event.meeting_id,
        "daily_session_meeting": today.zoom_meeting_id if today else None,
        "delivery": delivery.id,
    }
    center = tutor.home_center()
    _open(session_mismatch, tutor, center, detail, evidence, now=now)
    return WebhookDelivery.DONE, f"session_mismatch for tutor {tutor.id}"


def _open(check, tutor, center, detail, evidence, now):
    """Open (or refresh) ``check``'s finding about ``tutor``: its key and severity."""
    open_finding(
        check.NAME, check.key(tutor), check.SEVERITY, center, tutor, detail, evidence, now=now
    )


def _today(session):
    if session.center_id is None:
        return session.date
    return session.center.today()


def _local_date(when, session):
    """The date in the session's center when ``when`` (naive UTC) happened."""
    if session.center_id is None:
        return when.date()
    return clock.local_date(when, session.center.timezone)


@handles("meeting.ended")
def meeting_ended(event, delivery, now):
    """A Daily Session's meeting ended: everyone in or waiting has left."""
    session = session_for_meeting(event.meeting_id)
    if session is None:
        return WebhookDelivery.IGNORED, "not a Daily Session"
    if session.status == DailySession.MISSING:
        return WebhookDelivery.IGNORED, f"session {session.id} was deleted in Zoom"
    if session.ended_at is None or event.at > session.ended_at:
        session = _set_times(session, now, ended_at=event.at)
    return WebhookDelivery.DONE, f"session {session.id} {session.status}"


@handles("meeting.deleted")
def meeting_deleted(event, delivery, now):
    """A Daily Session's meeting was deleted in Zoom: the session is missing."""
    session = session_for_meeting(event.meeting_id)
    if session is None:
        return WebhookDelivery.IGNORED, "not a Daily Session"
    if session.status == DailySession.MISSING:
        return WebhookDelivery.DONE, f"session {session.id} already missing"
    by = f" by {event.operator}" if event.operator else ""
    zone = session.center.timezone if session.center_id else None
    DailySession.update(
        status=DailySession.MISSING,
        last_error=f"deleted in Zoom{by} at {timefmt.when(event.at, zone, viewer=None)}",
    ).where(DailySession.id == session.id).execute()
    presence.check_waiting_room(session, [], now)
    if session.date >= _today(session):
        tutor = User.get_by_id(session.tutor_id)
        center = session.center if session.center_id else tutor.home_center()
        when = local_time(event.at, center, now)
        detail = session_mismatch.deleted_detail(tutor, session, by, when)
        evidence = {
            "source": "webhook",
            "kind": "deleted",
            "session": session.id,
            "meeting_id": session.zoom_meeting_id,
            "delivery": delivery.id,
        }
        _open(session_mismatch, tutor, center, detail, evidence, now=now)
    return WebhookDelivery.DONE, f"session {session.id} missing"


# --- participants ----------------------------------------------------------------------------


@handles(
    "meeting.participant_joined_waiting_room",
    "meeting.participant_admitted",
    "meeting.participant_joined",
    "meeting.participant_left",
)
def participant(event, delivery, now):
    """Keep the participant's presence; check the waiting room."""
    session = session_for_meeting(event.meeting_id)
    if session is None:
        return WebhookDelivery.IGNORED, "not a Daily Session"
    if session.status == DailySession.MISSING:
        return WebhookDelivery.IGNORED, f"session {session.id} was deleted in Zoom"
    row = presence.record(session, event.participant, delivery.id, now)
    presence.check_waiting_room(session, presence.waiting_times(session), now)
    return WebhookDelivery.DONE, f"participant {row.id} {row.state}"
