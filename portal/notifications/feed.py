"""The tutor's private calendar feed: ``/calendar/tutor.ics?token=…``.

The token is 32 random bytes. The database keeps its SHA-256 (to find the feed) and a
copy sealed with TOKEN_ENCRYPTION_KEYS and bound to the tutor (to show it again in
Preferences); the plain token is stored nowhere. Making a new token replaces the row,
so the old link stops working at once. The token travels as a query parameter because
the portal's log redaction removes ``token=`` values from every log line.
"""

import datetime
import hashlib
import hmac
import json
import re
import secrets

from cryptography.fernet import InvalidToken
from peewee import JOIN

from ..db import retry_locked, write_tx
from ..models import Appointment, CalendarFeed, Center, User, utcnow
from ..zoom.crypto import cipher
from ..zoom.errors import ZoomConfigError
from ..zoom.wiring import gateway

# The prefix keeps the log redaction's rule for short numbers ("code=4711") from ever
# sparing a token that happens to start with digits and a dash.
PREFIX = "vmc_"
TOKEN_SHAPE = re.compile(r"^vmc_[A-Za-z0-9_-]{40,60}$")
PAST_DAYS = 30
STATUSES = (Appointment.BOOKED, Appointment.ASSIGNED, Appointment.COMPLETED)


def digest(token):
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_token(app, tutor):
    """Make (or replace) the tutor's feed token; returns the plain token."""
    token = PREFIX + secrets.token_urlsafe(32)
    sealed = cipher(gateway(app).settings).encrypt(
        json.dumps({"tutor_id": tutor.id, "feed": token}).encode()
    )
    fields = {"token_hash": digest(token), "token_sealed": sealed.decode("ascii")}

    def write():
        with write_tx():
            CalendarFeed.delete().where(CalendarFeed.tutor == tutor.id).execute()
            CalendarFeed.create(tutor=tutor.id, created_at=utcnow(), **fields)

    retry_locked(write)
    return token


def current_token(app, tutor):
    """(token or None, made at) of the tutor's feed; (None, None) when there is none yet."""
    row = CalendarFeed.get_or_none(CalendarFeed.tutor == tutor.id)
    if row is None:
        return None, None
    try:
        data = json.loads(cipher(gateway(app).settings).decrypt(row.token_sealed.encode("ascii")))
    except (InvalidToken, ValueError, ZoomConfigError):
        return None, row.created_at  # the key that sealed it was retired: make a new one
    if data.get("tutor_id") != tutor.id or not isinstance(data.get("feed"), str):
        return None, row.created_at
    if not hmac.compare_digest(digest(data["feed"]), row.token_hash):
        return None, row.created_at
    return data["feed"], row.created_at


def tutor_for(token):
    """The active tutor whose feed this token opens, or None."""
    if not isinstance(token, str) or not TOKEN_SHAPE.match(token):
        return None
    row = CalendarFeed.get_or_none(CalendarFeed.token_hash == digest(token))
    if row is None:
        return None
    return User.get_or_none(User.id == row.tutor_id, User.is_active_tutor())


def appointments(tutor, now=None):
    """The tutor's appointments from PAST_DAYS ago on (never anyone else's)."""
    now = now or utcnow()
    Student = User.alias("student")
    return (
        Appointment.select(Appointment, Center, Student)
        .join(Center)
        .switch(Appointment)
        .join(Student, JOIN.INNER, on=(Appointment.student == Student.id))
        .where(
            Appointment.tutor == tutor.id,
            Appointment.status.in_(STATUSES),
            Appointment.kind.in_(("online", "in_person", "walk_in")),
            Appointment.end_at >= now - datetime.timedelta(days=PAST_DAYS),
        )
        .order_by(Appointment.start_at)
        .limit(2000)
    )
