"""Notifications (issue 13): the outbox, mail preferences, calendar feeds, shift checks."""

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .appointments import Appointment
from .base import BaseModel, JSONTextField, utcnow
from .health import Finding
from .people import Center, User


class OutboxMessage(BaseModel):
    """One e-mail the portal owes someone, from the moment it is due until it is sent.

    ``key`` is UNIQUE and names the message, e.g. ``appointment:12:reminder:user:5`` or
    ``finding:44:alert:user:7``: whoever queues it twice (a second job, a retry, two
    processes) inserts nothing. Delivery claims a row with one conditional UPDATE
    (``status`` queued → sending, with a lease), so two senders never send one row.
    The row is written before anything is sent, so nothing is lost while SMTP is down.
    """

    # status values (FAILED: gave up, an admin may retry; SKIPPED: no longer due)
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"

    key = CharField(max_length=200, unique=True)
    # confirmation | reminder | cancellation | alert | shift_alert
    kind = CharField(max_length=20)
    recipient = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    center = ForeignKeyField(Center, null=True, backref="+", on_delete="CASCADE")
    appointment = ForeignKeyField(Appointment, null=True, backref="+", on_delete="CASCADE")
    finding = ForeignKeyField(Finding, null=True, backref="+", on_delete="CASCADE")
    tutor = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE")
    day = DateField(null=True)
    actor = ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    # queued | sending | sent | failed (gave up; an admin may retry) | skipped (no longer due)
    status = CharField(max_length=10, default="queued")
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    lease_owner = CharField(max_length=64, null=True)
    lease_until = DateTimeField(null=True)
    last_error = TextField(null=True)
    to_address = CharField(max_length=254, null=True)
    subject = CharField(max_length=300, null=True)
    body = TextField(null=True)
    ics = TextField(null=True)
    transport = CharField(max_length=10, null=True)  # smtp | outbox (development)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)

    @classmethod
    def due(cls, now):
        """Rows a sender may claim now: queued and due, or a sender's lease ran out."""
        return cls.select().where(
            ((cls.status == cls.QUEUED) & (cls.next_attempt_at <= now))
            | ((cls.status == cls.SENDING) & (cls.lease_until < now))
        )


class MailPreference(BaseModel):
    """A user's e-mail choices; no row means the defaults (reminders on)."""

    user = ForeignKeyField(User, unique=True, backref="+", on_delete="CASCADE")
    reminders = BooleanField(default=True)
    updated_at = DateTimeField(default=utcnow)


class CalendarFeed(BaseModel):
    """A tutor's private calendar feed: the token's SHA-256 (lookup) and its sealed copy (shown)."""

    tutor = ForeignKeyField(User, unique=True, backref="+", on_delete="CASCADE")
    token_hash = CharField(max_length=64, unique=True)
    token_sealed = TextField()
    created_at = DateTimeField(default=utcnow)


class ShiftCheck(BaseModel):
    """The before-shift check of one tutor-day, claimed (UNIQUE) before Zoom is asked."""

    # status values (UNCHECKED: Zoom did not answer; tried again)
    RUNNING = "running"
    READY = "ready"
    ALERTED = "alerted"
    UNCHECKED = "unchecked"

    tutor = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    day = DateField()
    center = ForeignKeyField(Center, null=True, backref="+", on_delete="CASCADE")
    first_start = DateTimeField()
    # running | ready | alerted | unchecked (Zoom did not answer; tried again)
    status = CharField(max_length=10, default="running")
    attempts = IntegerField(default=1)
    lease_until = DateTimeField(null=True)
    detail = JSONTextField(null=True)
    checked_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("tutor", "day"), True),)
