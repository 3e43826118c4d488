"""The Daily Session: exactly one Zoom meeting per tutor per center-local date.

Claim protocol (RELIABILITY §5.3): the (tutor, date) row is inserted with
status ``pending`` and a fresh ``claim_id`` *before* Zoom is called; the UNIQUE
(tutor, date) constraint makes every other worker, retry or double click read
that row instead of creating a second meeting. A stale claim (its lease ran out:
the worker died mid-call) or a failed/missing session is taken over with one
conditional UPDATE that only one caller can win. The meeting carries a
deterministic marker (``vmp:<tutor>:<date>``) in its agenda, so an ambiguous
create (a timeout after sending) is reconciled by listing the tutor's meetings
before anything is created again. No database transaction is open while Zoom
is called.
"""

import datetime
import logging
import uuid

from huey.exceptions import HueyException
from peewee import IntegrityError

from .db import retry_locked, write_tx
from .enqueue import submit
from .models import Center, DailySession, Membership, User, ZoomConnection, utcnow
from .zoom.errors import (
    ZoomAmbiguous,
    ZoomError,
    ZoomRateLimited,
    ZoomReauthRequired,
    ZoomUnavailable,
)

log = logging.getLogger("portal.daily")

CLAIM_LEASE = datetime.timedelta(minutes=2)
FAILED_RETRY_AFTER = datetime.timedelta(minutes=5)
# Zoom did not answer (in time): try again soon, so a recovered Zoom is used at once.
# After a create that may have reached Zoom, wait long enough for it to land there, so
# the next attempt finds it by its marker instead of creating a second meeting.
TRANSIENT_RETRY_AFTER = datetime.timedelta(seconds=10)
AMBIGUOUS_RETRY_AFTER = datetime.timedelta(seconds=30)
TRANSIENT = (ZoomUnavailable, ZoomAmbiguous)
READY = (DailySession.SCHEDULED, DailySession.LIVE, DailySession.ENDED)
PROVISION_BATCH_SIZE = 50  # tutors per provision_daily_batch task (PROVISION_BATCH_SIZE)
TOPIC = "Daily Session {date}"


def marker(tutor_id, day):
    """The tag that identifies a tutor-day's meeting in Zoom."""
    return f"vmp:{tutor_id}:{day.isoformat()}"


def center_today(center, now=None):
    """Today's date in the center's time zone."""
    return center.today(now)


def meeting_body(tutor, center, day):
    """The create-meeting request for a tutor-day (ZOOM_API §3)."""
    opens = datetime.time.fromisoformat(center.opens_at)
    closes = datetime.time.fromisoformat(center.closes_at)
    minutes = (closes.hour * 60 + closes.minute) - (opens.hour * 60 + opens.minute)
    return {
        "topic": TOPIC.format(date=day.isoformat()),
        "type": 2,
        "start_time": datetime.datetime.combine(day, opens).strftime("%Y-%m-%dT%H:%M:%S"),
        "timezone": center.timezone,
        "duration": max(minutes, 30),
        "agenda": f"Online tutoring at {center.name}. {marker(tutor.id, day)}",
        "settings": {
            "waiting_room": bool(center.waiting_room_default),
            "join_before_host": False,
            "use_pmi": False,
            "approval_type": 2,
            "audio": "both",
            "auto_recording": "none",
        },
    }


class SessionResult:
    """What ensure_daily_session did: the row and a word for the report."""

    def __init__(self, session, outcome, error=None):
        self.session = session
        self.outcome = outcome  # created | adopted | existing | busy | failed
        self.error = error

    def __repr__(self):
        return f"<SessionResult {self.outcome}>"


def _claim(tutor, center, day, now):
    """Insert or take over the tutor-day row; return (row, won)."""
    claim_id = uuid.uuid4().hex
    try:
        with write_tx():
            row = DailySession.create(
                tutor=tutor,
                center=center,
                date=day,
                status=DailySession.PENDING,
                claim_id=claim_id,
                lease_until=now + CLAIM_LEASE,
                attempts=1,
                topic=TOPIC.format(date=day.isoformat()),
            )
        return row, True
    except IntegrityError:
        pass
    row = DailySession.get(DailySession.tutor == tutor, DailySession.date == day)
    if row.status in READY:
        return row, False
    takeable = (
        (DailySession.status == DailySession.PENDING) & (DailySession.lease_until < now)
        | (DailySession.status == DailySession.MISSING)
        | ((DailySession.status == DailySession.FAILED) & (DailySession.lease_until < now))
    )
    with write_tx():
        won = (
            DailySession.update(
                status=DailySession.PENDING,
                claim_id=claim_id,
                lease_until=now + CLAIM_LEASE,
                attempts=DailySession.attempts + 1,
                center=center,
            )
            .where(DailySession.id == row.id, DailySession.claim_id == row.claim_id, takeable)
            .execute()
        )
    return DailySession.get_by_id(row.id), bool(won)


def _finish(row, meeting, outcome):
    fields = {
        "status": DailySession.SCHEDULED,
        "zoom_meeting_id": int(meeting["id"]),
        "uuid": meeting.get("uuid"),
        "host_id": meeting.get("host_id"),
        "join_url": meeting.get("join_url"),
        "password": (meeting.get("password") or "")[:20] or None,
        "topic": (meeting.get("topic") or "")[:200] or row.topic,
        "last_error": None,
        "lease_until": None,
        "last_verified_at": utcnow(),
    }

    def write():
        with write_tx():
            DailySession.update(**fields).where(
                DailySession.id == row.id, DailySession.claim_id == row.claim_id
            ).execute()

    retry_locked(write)
    return SessionResult(DailySession.get_by_id(row.id), outcome)


def _fail(row, error, retry_at):
    def write():
        with write_tx():
            DailySession.update(
                status=DailySession.FAILED, last_error=str(error)[:500], lease_until=retry_at
            ).where(DailySession.id == row.id, DailySession.claim_id == row.claim_id).execute()

    retry_locked(write)
    return SessionResult(DailySession.get_by_id(row.id), "failed", error)


def _find_marked(client, tutor_id, day, avoid=()):
    tag = marker(tutor_id, day)
    for meeting in client.list_meetings("upcoming"):
        if tag in (meeting.get("agenda") or "") and int(meeting["id"]) not in avoid:
            return client.get_meeting(meeting["id"])
    return None


def ensure_daily_session(tutor, client_factory, day=None, center=None, now=None, avoid=()):
    """Return today's (or day's) Daily Session for tutor, creating it in Zoom at most once.

    client_factory(tutor) returns a ZoomClient; it is only called by the caller
    that won the claim. ``avoid``: meeting ids never to adopt (one being replaced).
    """
    center = center or tutor.home_center()
    if center is None:
        return SessionResult(None, "failed", ZoomError(None, "Virtual Meetings is off"))
    now = now or utcnow()
    day = day or center.today(now)
    row, won = _claim(tutor, center, day, now)
    if not won:
        outcome = "existing" if row.status in READY else "busy"
        return SessionResult(row, outcome)
    client = client_factory(tutor)
    try:
        if row.attempts > 1:
            # An earlier attempt may have created the meeting before it died: look first.
            found = _find_marked(client, tutor.id, day, avoid)
            if found:
                return _finish(row, found, "adopted")
        try:
            meeting = client.create_meeting(meeting_body(tutor, center, day))
        except ZoomAmbiguous as ambiguous:
            try:
                found = _find_marked(client, tutor.id, day, avoid)
            except ZoomError:
                raise ambiguous from None  # still unknown: wait for it to land (below)
            if found:
                return _finish(row, found, "adopted")
            raise
        return _finish(row, meeting, "created")
    except ZoomRateLimited as exc:
        retry_at = exc.reset_at or (utcnow() + FAILED_RETRY_AFTER)
        log.warning("daily session tutor=%s rate limited until %s", tutor.id, retry_at)
        return _fail(row, exc, retry_at)
    except ZoomReauthRequired as exc:
        return _fail(row, exc, utcnow() + FAILED_RETRY_AFTER)
    except ZoomError as exc:
        log.warning("daily session tutor=%s failed: %r", tutor.id, exc)
        if isinstance(exc, ZoomAmbiguous):
            wait = AMBIGUOUS_RETRY_AFTER
        elif isinstance(exc, ZoomUnavailable):
            wait = TRANSIENT_RETRY_AFTER
        else:
            wait = FAILED_RETRY_AFTER
        return _fail(row, exc, utcnow() + wait)
    finally:
        client.close()


def retire(session, reason):
    """Mark a Daily Session ``missing`` so the claim protocol replaces it; True if this call did.

    Conditional on the meeting it still names: when two callers retire the same dead
    session, one retires it and the other finds the replacement (or its claim) instead.
    """

    def write():
        with write_tx():
            return (
                DailySession.update(status=DailySession.MISSING, last_error=reason[:500])
                .where(
                    DailySession.id == session.id,
                    DailySession.zoom_meeting_id == session.zoom_meeting_id,
                    DailySession.status.in_(READY),
                )
                .execute()
            )

    retired = retry_locked(write) == 1
    if retired:
        log.info("daily session %s (tutor %s) retired: %s", session.id, session.tutor_id, reason)
    return retired


def replace_gone_session(tutor, client_factory, session, center=None):
    """Today's session is gone at Zoom (confirmed): create its replacement (claim protocol)."""
    retire(session, f"meeting {session.zoom_meeting_id} no longer exists in Zoom")
    return ensure_daily_session(tutor, client_factory, center=center)


def retire_other_hosts(tutor, zoom_user_id, center=None, now=None):
    """After connecting another Zoom account: retire today's session hosted by the old one."""
    session = today_session(tutor, center, now)
    if session is None or not session.host_id or session.host_id == zoom_user_id:
        return None
    if retire(session, "hosted by a Zoom account the tutor no longer uses"):
        return session
    return None


def connected_tutors():
    """Tutors with a current, usable Zoom connection and a Virtual Meetings center."""
    enabled = Membership.select(Membership.user).join(Center).where(Center.is_virtual())
    return (
        User.select()
        .join(ZoomConnection, on=(ZoomConnection.tutor == User.id))
        .where(
            User.is_active_tutor(),
            ZoomConnection.is_usable(),
            User.id.in_(enabled),
        )
        .order_by(User.id)
    )


def provision(client_factory, day=None, now=None, tutor_ids=None):
    """Ensure the Daily Session of every connected tutor (or of those of ``tutor_ids``);
    returns {outcome: [emails]}."""
    report = {"created": [], "adopted": [], "existing": [], "busy": [], "failed": []}
    tutors = connected_tutors()
    if tutor_ids is not None:
        tutors = tutors.where(User.id.in_(list(tutor_ids)))
    # A list, not a cursor: a SELECT left open across the writes below would pin an old
    # snapshot, and SQLite refuses to write from it (SQLITE_BUSY_SNAPSHOT).
    for tutor in list(tutors):
        result = ensure_daily_session(tutor, client_factory, day=day, now=now)
        label = tutor.email
        if result.error is not None:
            label = f"{tutor.email} ({result.error})"
        report[result.outcome].append(label)
    return report


def provision_batches(size=PROVISION_BATCH_SIZE):
    """The connected tutors' ids in batches of ``size``, in id order."""
    ids = [row[0] for row in connected_tutors().select(User.id).tuples()]
    size = max(1, int(size))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def provision_spread(app, day=None):
    """Queue one ``provision_daily_batch`` task per batch of tutors for the job consumers.

    Returns {"tutors", "batches", "results"}: ``results`` are huey's handles, and
    ``wait_provisioned(results)`` adds their reports up once every batch is done. Runs
    that overlap are safe: each tutor-day's claim makes its one meeting.
    """
    size = app.config.get("PROVISION_BATCH_SIZE") or PROVISION_BATCH_SIZE
    batches = provision_batches(size)
    day_arg = day.isoformat() if day is not None else None
    results = [submit(app, "provision_daily_batch", batch, day_arg) for batch in batches]
    return {
        "tutors": sum(len(batch) for batch in batches),
        "batches": len(batches),
        "results": results,
    }


def wait_provisioned(results, timeout=600):
    """Every batch's counts added up: {outcome: count} (TimeoutError if one is not done)."""
    totals = {"created": 0, "adopted": 0, "existing": 0, "busy": 0, "failed": 0}
    for result in results:
        try:
            counts = result.get(blocking=True, timeout=timeout)
        except HueyException as exc:  # huey's ResultTimeout
            raise TimeoutError("a provisioning batch did not finish in time") from exc
        for outcome, count in (counts or {}).items():
            totals[outcome] = totals.get(outcome, 0) + count
    return totals


def today_session(tutor, center=None, now=None):
    """Today's Daily Session row for a tutor (no Zoom call), or None."""
    center = center or tutor.home_center()
    if center is None:
        return None
    day = center.today(now)
    return DailySession.get_or_none(DailySession.tutor == tutor, DailySession.date == day)


def format_meeting_number(number):
    """Zoom's display form: 857 4606 5432 (11 digits: 3-4-4; 10 digits: 3-3-4)."""
    if number is None:
        return ""
    digits = str(number)
    if len(digits) == 11:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if len(digits) == 10:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if len(digits) == 9:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return digits
