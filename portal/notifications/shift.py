"""The before-shift check (DESIGN §6a): SHIFT_CHECK_MINUTES_BEFORE a tutor's first online
appointment of the day, make sure students will reach the Daily Session.

Per tutor and center-local day, one ``shift_check`` row is claimed (UNIQUE) before Zoom
is asked, so concurrent runs check a tutor once. The check creates today's Daily Session
if it is missing (the claim protocol of ``portal.daily``), then runs the readiness rows
that matter for Join: connected, token accepted, licensed, permissions, today's session
exists and matches. A red row e-mails the tutor and the center's administrators (once
per tutor-day). When Zoom does not answer, nothing is claimed to be broken: the row is
``unchecked`` and tried again every RETRY until the appointment starts.
"""

import datetime
import logging

from peewee import IntegrityError

from .. import daily, readiness
from ..db import retry_locked, write_tx
from ..models import Appointment, ShiftCheck, User, ZoomConnection, utcnow
from . import outbox
from .alerts import admins_of

log = logging.getLogger("portal.mail")

KEYS = ("connected", "token", "licensed", "permissions", "session")
LEASE = datetime.timedelta(minutes=5)
RETRY = datetime.timedelta(minutes=5)


def due(minutes, now):
    """(appointment, local day) of each tutor's first online appointment starting soon."""
    soon = (
        Appointment.select()
        .where(
            Appointment.kind == Appointment.ONLINE,
            Appointment.status == Appointment.BOOKED,
            Appointment.tutor.is_null(False),
            Appointment.start_at > now,
            Appointment.start_at <= now + datetime.timedelta(minutes=minutes),
        )
        .order_by(Appointment.start_at, Appointment.id)
    )
    seen = set()
    for appointment in soon:
        if appointment.tutor_id in seen:
            continue
        seen.add(appointment.tutor_id)
        center = appointment.center
        day = center.local(appointment.start_at).date()
        day_start, _end = center.day_bounds(day)
        earlier = Appointment.select().where(
            Appointment.tutor == appointment.tutor_id,
            Appointment.kind == Appointment.ONLINE,
            Appointment.status.in_((Appointment.BOOKED, Appointment.COMPLETED)),
            Appointment.start_at >= day_start,
            Appointment.start_at < appointment.start_at,
        )
        if not earlier.exists():
            yield appointment, day


def claim(appointment, day, now):
    """The tutor-day's check row if this run may do it, else None."""
    fields = {
        "tutor": appointment.tutor_id,
        "day": day,
        "center": appointment.center_id,
        "first_start": appointment.start_at,
        "status": ShiftCheck.RUNNING,
        "lease_until": now + LEASE,
    }
    try:
        with write_tx():
            return ShiftCheck.create(**fields)
    except IntegrityError:
        pass
    takeable = ShiftCheck.status.in_((ShiftCheck.RUNNING, ShiftCheck.UNCHECKED)) & (
        ShiftCheck.lease_until < now
    )
    with write_tx():
        won = (
            ShiftCheck.update(
                status=ShiftCheck.RUNNING,
                lease_until=now + LEASE,
                attempts=ShiftCheck.attempts + 1,
                first_start=appointment.start_at,
            )
            .where(ShiftCheck.tutor == appointment.tutor_id, ShiftCheck.day == day, takeable)
            .execute()
        )
    if not won:
        return None
    return ShiftCheck.get(ShiftCheck.tutor == appointment.tutor_id, ShiftCheck.day == day)


def verify(tutor, client_factory):
    """The Join-relevant readiness rows (creating today's session first if it is missing)."""
    connection = ZoomConnection.for_tutor(tutor)
    if connection is not None and connection.status == ZoomConnection.ACTIVE:
        daily.ensure_daily_session(tutor, client_factory)
    return [row for row in readiness.check_tutor(tutor, client_factory) if row.key in KEYS]


def _save(check, **fields):
    def write():
        with write_tx():
            ShiftCheck.update(**fields).where(ShiftCheck.id == check.id).execute()
            if fields.get("status") == ShiftCheck.ALERTED:
                _queue_alerts(check)

    retry_locked(write)


def _queue_alerts(check):
    recipients = [check.tutor_id] + [u.id for u in admins_of(check.center_id)]
    outbox.queue(
        [
            {
                "key": f"shift:{check.tutor_id}:{check.day.isoformat()}:alert:user:{user_id}",
                "kind": "shift_alert",
                "recipient": user_id,
                "center": check.center_id,
                "tutor": check.tutor_id,
                "day": check.day,
            }
            for user_id in dict.fromkeys(recipients)
        ]
    )


def run(client_factory, minutes, now=None):
    """Check every tutor whose first online appointment starts soon; returns {status: n}."""
    now = now or utcnow()
    counts = {"ready": 0, "alerted": 0, "unchecked": 0}
    for appointment, day in list(due(minutes, now)):
        check = claim(appointment, day, now)
        if check is None:
            continue
        tutor = User.get_by_id(appointment.tutor_id)
        try:
            rows = verify(tutor, client_factory)
        except Exception as exc:  # noqa: BLE001 - one tutor must not stop the others
            log.exception("before-shift check of tutor %s failed", tutor.id)
            rows = [readiness.Row("session", readiness.SESSION, None, type(exc).__name__)]
        red = [r for r in rows if r.ok is False]
        detail = {"rows": [vars(r) for r in (red or rows)]}
        if red:
            status = ShiftCheck.ALERTED
        elif any(r.ok is None for r in rows):
            status = ShiftCheck.UNCHECKED
        else:
            status = ShiftCheck.READY
        _save(
            check,
            status=status,
            detail=detail,
            checked_at=utcnow(),
            lease_until=utcnow() + RETRY if status == ShiftCheck.UNCHECKED else None,
        )
        counts[status] += 1
    if counts["alerted"]:
        outbox.wake()
    return counts
