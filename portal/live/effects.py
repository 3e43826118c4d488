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
import zoneinfo

from .. import audit, daily
from ..db import retry_locked, write_tx
from ..models import DailySession, User, WebhookDelivery, ZoomConnection, utcnow
from ..zoom.tokens import mark_needs_reauth
from . import board, presence
from .events import DEAUTHORIZED, MalformedEvent, parse_event
from .findings import finding_key, open_finding, open_for, resolve_finding

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
        .where(WebhookDelivery.status == "new")
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
                WebhookDelivery.update(status="done")
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "new")
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
        WebhookDelivery.update(status="failed", outcome=reason).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == "new"
        ).execute()
        return "failed"


def apply(delivery, now):
    """Run the delivery's effect; returns (status, outcome) for the row."""
    envelope = {"event": delivery.event, "event_ts": delivery.event_ts, "payload": delivery.payload}
    try:
        event = parse_event(envelope)
    except MalformedEvent as exc:
        return "ignored", f"malformed: {exc}"
    handler = HANDLERS.get(event.name)
    if handler is None:
        return "ignored", f"{event.name} is not used by the portal"
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
        return "live"
    return "ended" if ended_at is not None else None


def local_time(when, center, now):
    """'10:42' in the center's zone, with the date when it is not today there."""
    zone = zoneinfo.ZoneInfo(center.timezone if center else "UTC")
    local = when.replace(tzinfo=zoneinfo.ZoneInfo("UTC")).astimezone(zone)
    today = now.replace(tzinfo=zoneinfo.ZoneInfo("UTC")).astimezone(zone).date()
    text = local.strftime("%H:%M")
    return text if local.date() == today else f"{text} on {local:%a %d %b}"


def mismatch_key(tutor_id):
    return finding_key("session_mismatch", "tutor", tutor_id)


def connection_key(tutor_id):
    return finding_key("connection_broken", "tutor", tutor_id)


# --- app_deauthorized ------------------------------------------------------------------------


@handles(DEAUTHORIZED)
def deauthorized(event, delivery, now):
    """The tutor removed the app in Zoom: stop, wipe the tokens, tell the admin."""
    rows = list(ZoomConnection.current().where(ZoomConnection.zoom_user_id == event.user_id))
    if not rows:
        return "ignored", "no current connection for this Zoom user"
    # A retry can arrive an hour late: it must not undo a reconnection made since.
    rows = [row for row in rows if row.connected_at is None or row.connected_at <= event.at]
    if not rows:
        return "ignored", "the tutor connected again after this deauthorization"
    for row in rows:
        tutor = User.get_by_id(row.tutor_id)
        center = daily.home_center(tutor) or tutor.centers().first()
        when = local_time(event.at, center, now)
        reason = f"app removed in Zoom at {event.at:%Y-%m-%d %H:%M} UTC"
        mark_needs_reauth(row.id, reason, status="deauthorized", clock=lambda: now)
        ZoomConnection.update(
            status="deauthorized",
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
            after={"status": "deauthorized", "tokens": "deleted"},
        )
        open_finding(
            "connection_broken",
            connection_key(tutor.id),
            "critical",
            center,
            tutor,
            f"{tutor.name} removed the portal app in Zoom at {when}. Their Zoom tokens were "
            f"deleted and students can't be sent to their Daily Session until they connect "
            f"Zoom again in Preferences → Virtual Meetings.",
            {
                "source": "webhook",
                "event": event.name,
                "zoom_user_id": event.user_id,
                "connection": row.id,
                "delivery": delivery.id,
            },
            now=now,
        )
    return "done", f"deauthorized {len(rows)} connection(s)"


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
    if session is not None and session.status == "missing":
        return "ignored", f"session {session.id} was deleted in Zoom"
    if session is not None and _local_date(event.at, session) == session.date:
        if session.started_at is None or event.at > session.started_at:
            session = _set_times(session, now, started_at=event.at)
        finding = open_for(mismatch_key(session.tutor_id))
        if finding is not None and (finding.evidence or {}).get("kind") == "wrong_meeting":
            resolve_finding(
                mismatch_key(session.tutor_id), "today's Daily Session started", now=now
            )
        return "done", f"session {session.id} {session.status}"
    connection = (
        ZoomConnection.current()
        .where(ZoomConnection.zoom_user_id == event.host_id, ZoomConnection.status == "active")
        .first()
        if event.host_id
        else None
    )
    if connection is None:
        return "ignored", "not a meeting of a connected tutor"
    tutor = User.get_by_id(connection.tutor_id)
    today = daily.today_session(tutor)
    started = daily.format_meeting_number(event.meeting_id)
    if today is not None and today.zoom_meeting_id:
        where = f"students are sent to {daily.format_meeting_number(today.zoom_meeting_id)}"
    else:
        where = "the portal has no Daily Session for today, so students have nowhere to go"
    detail = (
        f"{tutor.name} started meeting {started} in Zoom, but {where}. Ask them to end it "
        f"and start today's Daily Session from Preferences → Virtual Meetings."
    )
    evidence = {
        "source": "webhook",
        "kind": "wrong_meeting",
        "started_meeting": event.meeting_id,
        "daily_session_meeting": today.zoom_meeting_id if today else None,
        "delivery": delivery.id,
    }
    center = daily.home_center(tutor)
    open_finding(
        "session_mismatch",
        mismatch_key(tutor.id),
        "critical",
        center,
        tutor,
        detail,
        evidence,
        now=now,
    )
    return "done", f"session_mismatch for tutor {tutor.id}"


def _today(session):
    if session.center_id is None:
        return session.date
    return daily.center_today(session.center)


def _local_date(when, session):
    """The date in the session's center when ``when`` (naive UTC) happened."""
    if session.center_id is None:
        return when.date()
    return daily.center_today(session.center, now=when)


@handles("meeting.ended")
def meeting_ended(event, delivery, now):
    """A Daily Session's meeting ended: everyone in or waiting has left."""
    session = session_for_meeting(event.meeting_id)
    if session is None:
        return "ignored", "not a Daily Session"
    if session.status == "missing":
        return "ignored", f"session {session.id} was deleted in Zoom"
    if session.ended_at is None or event.at > session.ended_at:
        session = _set_times(session, now, ended_at=event.at)
    return "done", f"session {session.id} {session.status}"


@handles("meeting.deleted")
def meeting_deleted(event, delivery, now):
    """A Daily Session's meeting was deleted in Zoom: the session is missing."""
    session = session_for_meeting(event.meeting_id)
    if session is None:
        return "ignored", "not a Daily Session"
    if session.status == "missing":
        return "done", f"session {session.id} already missing"
    by = f" by {event.operator}" if event.operator else ""
    DailySession.update(
        status="missing", last_error=f"deleted in Zoom{by} at {event.at:%Y-%m-%d %H:%M} UTC"
    ).where(DailySession.id == session.id).execute()
    presence.check_waiting_room(session, [], now)
    if session.date >= _today(session):
        tutor = User.get_by_id(session.tutor_id)
        number = daily.format_meeting_number(session.zoom_meeting_id)
        center = session.center if session.center_id else daily.home_center(tutor)
        detail = (
            f"{tutor.name}'s Daily Session for {session.date:%A %d %B} (meeting {number}) was "
            f"deleted in Zoom{by} at {local_time(event.at, center, now)}. Students can't join it "
            f"until a new one is made: the portal makes one at its next hourly run, or when "
            f"{tutor.name} opens Preferences → Virtual Meetings."
        )
        evidence = {
            "source": "webhook",
            "kind": "deleted",
            "session": session.id,
            "meeting_id": session.zoom_meeting_id,
            "delivery": delivery.id,
        }
        open_finding(
            "session_mismatch",
            mismatch_key(tutor.id),
            "critical",
            center,
            tutor,
            detail,
            evidence,
            now=now,
        )
    return "done", f"session {session.id} missing"


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
        return "ignored", "not a Daily Session"
    if session.status == "missing":
        return "ignored", f"session {session.id} was deleted in Zoom"
    row = presence.record(session, event.participant, delivery.id, now)
    presence.check_waiting_room(session, presence.waiting_times(session), now)
    return "done", f"participant {row.id} {row.state}"
