"""Zoom on the portal's side: connections, Daily Sessions, who is in them, webhook deliveries."""

from peewee import (
    BigIntegerField,
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
from .people import Center, User


class ZoomConnection(BaseModel):
    """A tutor's link to one Zoom user. Ended rows stay for the record."""

    # status values
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    REVOKED = "revoked"
    DEAUTHORIZED = "deauthorized"
    ERROR = "error"
    ENDED = "ended"

    tutor = ForeignKeyField(User, backref="zoom_connections", on_delete="CASCADE")
    zoom_user_id = CharField(max_length=64)
    account_id = CharField(max_length=64, null=True)
    email = CharField(max_length=254, null=True)
    user_type = IntegerField(null=True)  # 1 Basic, 2 Licensed, 4 Unassigned, 99 None
    login_types = JSONTextField(null=True)  # e.g. [100], [1] Google, [0] Facebook
    pmi = BigIntegerField(null=True)
    personal_meeting_url = CharField(max_length=500, null=True)
    scopes = TextField(null=True)
    access_token_enc = TextField(null=True)
    refresh_token_enc = TextField(null=True)
    expires_at = DateTimeField(null=True)
    # active | needs_reauth | revoked | deauthorized | error | ended
    status = CharField(max_length=20, default="active")
    last_error = TextField(null=True)
    version = IntegerField(default=0)  # bumped on every token write (refresh lease)
    lease_owner = CharField(max_length=64, null=True)
    lease_until = DateTimeField(null=True)
    revoke_pending = BooleanField(default=False)
    connected_at = DateTimeField(default=utcnow)
    ended_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def is_current(cls, model=None):
        """The predicate "not ended" (for updates, joins, and ``model``, an alias of this table)."""
        return (model or cls).ended_at.is_null()

    @classmethod
    def is_usable(cls):
        """The predicate "current and active": a connection Zoom calls may go through."""
        return cls.is_current() & (cls.status == cls.ACTIVE)

    @classmethod
    def is_broken(cls):
        """The predicate "current but not active": the tutor has to connect again."""
        return cls.is_current() & (cls.status != cls.ACTIVE)

    @classmethod
    def current(cls):
        """Connections that have not been ended (at most one per tutor)."""
        return cls.select().where(cls.is_current())

    @classmethod
    def for_tutor(cls, tutor):
        """The tutor's current connection, or None."""
        return cls.current().where(cls.tutor == tutor).first()

    def __repr__(self):
        return f"<ZoomConnection {self.id} tutor={self.tutor_id} {self.status}>"


ZoomConnection.add_index(
    ZoomConnection.index(ZoomConnection.tutor, unique=True).where(ZoomConnection.is_current())
)


class DailySession(BaseModel):
    """The one Zoom meeting a tutor holds on a given (center-local) date."""

    # status values
    PENDING = "pending"  # claimed, Zoom not called yet
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    MISSING = "missing"
    FAILED = "failed"

    tutor = ForeignKeyField(User, backref="daily_sessions", on_delete="CASCADE")
    center = ForeignKeyField(Center, null=True, on_delete="SET NULL")
    date = DateField()
    # pending (claimed, Zoom not called yet) | scheduled | live | ended | missing | failed
    status = CharField(max_length=20, default="pending")
    claim_id = CharField(max_length=64, null=True)
    lease_until = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    zoom_meeting_id = BigIntegerField(null=True)
    uuid = CharField(max_length=64, null=True)
    host_id = CharField(max_length=64, null=True)
    join_url = CharField(max_length=1000, null=True)
    password = CharField(max_length=20, null=True)
    topic = CharField(max_length=200, null=True)
    last_error = TextField(null=True)
    last_verified_at = DateTimeField(null=True)
    last_verified_detail = JSONTextField(null=True)
    started_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tutor", "date"), True),)


class WebhookDelivery(BaseModel):
    # status values
    NEW = "new"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"

    dedupe_key = CharField(max_length=128, unique=True)
    event = CharField(max_length=80)
    event_ts = BigIntegerField(null=True)
    received_at = DateTimeField(default=utcnow)
    status = CharField(max_length=20, default="new")  # new | done | failed | ignored
    outcome = TextField(null=True)
    payload = JSONTextField(null=True)


class MeetingParticipant(BaseModel):
    """Someone Zoom reported in a Daily Session's meeting: waiting room, in the meeting, or gone.

    The row is a summary recomputed from its ``PresenceEvent`` log (sorted by event
    time), so deliveries that arrive twice or out of order converge on one state.
    """

    # state values
    WAITING = "waiting"
    JOINED = "joined"
    LEFT = "left"

    session = ForeignKeyField(DailySession, backref="participants", on_delete="CASCADE")
    participant_key = CharField(max_length=64)  # participant_uuid, else user_id, else id
    zoom_user_id = CharField(max_length=64, null=True)
    participant_uuid = CharField(max_length=64, null=True)
    name = CharField(max_length=200, default="")
    email = CharField(max_length=254, null=True)
    state = CharField(max_length=20, default="waiting")  # waiting | joined | left
    waiting_since = DateTimeField(null=True)  # entered the waiting room (latest time)
    admitted_at = DateTimeField(null=True)
    joined_at = DateTimeField(null=True)  # first time in the meeting
    left_at = DateTimeField(null=True)  # last time out; None while present
    last_event_at = DateTimeField(null=True)
    # The student who pressed Join, matched by exact e-mail or exact portal name only.
    student = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL", backref="+")
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("session", "participant_key"), True),)


class PresenceEvent(BaseModel):
    """One waiting/admitted/joined/left event of a participant, at Zoom's event time."""

    participant = ForeignKeyField(MeetingParticipant, backref="+", on_delete="CASCADE")
    kind = CharField(max_length=20)  # waiting | admitted | joined | left
    at = DateTimeField()
    delivery = ForeignKeyField(WebhookDelivery, null=True, on_delete="SET NULL", backref="+")

    class Meta:
        indexes = ((("participant", "kind", "at"), True),)


ZoomConnection.add_index(
    ZoomConnection.index(ZoomConnection.zoom_user_id).where(ZoomConnection.is_current())
)
ZoomConnection.add_index(
    ZoomConnection.index(ZoomConnection.email).where(ZoomConnection.is_current())
)
