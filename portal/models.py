"""The domain of DESIGN §5 as peewee models. Nothing here imports Flask.

Invariants live in constraints, not in ``if``s: one Daily Session per tutor and
date (UNIQUE), one live Zoom connection per tutor and one open finding per key
(partial UNIQUE indexes), no double booking of a tutor's online slot.
"""

import datetime
import json

from peewee import (
    SQL,
    BigIntegerField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from .db import database

ROLES = ("student", "tutor", "center_admin", "account_admin")
ROLE_LABELS = {
    "student": "Student",
    "tutor": "Tutor",
    "center_admin": "Center administrator",
    "account_admin": "Account administrator",
}
APPOINTMENT_KINDS = ("online", "walk_in", "in_person")


def utcnow():
    """Naive UTC now; every stored timestamp is naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class JSONTextField(TextField):
    """JSON stored as text, portable between SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Center(BaseModel):
    name = CharField(max_length=200, unique=True)
    timezone = CharField(max_length=64, default="America/New_York")
    virtual_meetings_enabled = BooleanField(default=False)
    waiting_room_default = BooleanField(default=True)
    opens_at = CharField(max_length=5, default="09:00")  # HH:MM, center local time
    closes_at = CharField(max_length=5, default="17:00")
    allow_connect_links = BooleanField(default=True)
    waiting_room_limit_minutes = IntegerField(default=5)
    created_at = DateTimeField(default=utcnow)

    def tutors(self):
        """Active tutors who belong to this center."""
        return (
            User.select()
            .join(Membership)
            .where(Membership.center == self, User.role == "tutor", User.active == True)  # noqa: E712
            .order_by(User.name)
        )

    def members(self):
        """Every user who belongs to this center."""
        return User.select().join(Membership).where(Membership.center == self).order_by(User.name)


class User(BaseModel):
    email = CharField(max_length=254, unique=True)  # stored lower-case
    name = CharField(max_length=200)
    role = CharField(
        max_length=20,
        constraints=[SQL("CHECK (role IN ('student','tutor','center_admin','account_admin'))")],
    )
    password_hash = CharField(max_length=255)
    active = BooleanField(default=True)
    connect_link = CharField(max_length=500, null=True)  # legacy field for tutors
    # Bumped on logout-everywhere, password or role change and deactivation;
    # a session carrying an older value is refused (RELIABILITY §3.1).
    session_version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)

    def centers(self):
        """Centers this user belongs to (all of them for an account admin)."""
        if self.role == "account_admin":
            return Center.select().order_by(Center.name)
        return Center.select().join(Membership).where(Membership.user == self).order_by(Center.name)

    @classmethod
    def by_email(cls, email):
        """The user with this e-mail (case-insensitive), or None."""
        return cls.get_or_none(cls.email == (email or "").strip().lower())

    # The four members flask-login expects (kept here so models import no Flask).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return bool(self.active)

    def get_id(self):
        return str(self.id)

    def __repr__(self):
        return f"<User {self.id} {self.role}>"


class Membership(BaseModel):
    user = ForeignKeyField(User, backref="memberships", on_delete="CASCADE")
    center = ForeignKeyField(Center, backref="memberships", on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "center"), True),)


class ZoomConnection(BaseModel):
    """A tutor's link to one Zoom user. Ended rows stay for the record."""

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
    def current(cls):
        """Connections that have not been ended (at most one per tutor)."""
        return cls.select().where(cls.ended_at.is_null())

    @classmethod
    def for_tutor(cls, tutor):
        """The tutor's current connection, or None."""
        return cls.current().where(cls.tutor == tutor).first()

    def __repr__(self):
        return f"<ZoomConnection {self.id} tutor={self.tutor_id} {self.status}>"


ZoomConnection.add_index(
    ZoomConnection.index(ZoomConnection.tutor, unique=True).where(ZoomConnection.ended_at.is_null())
)


class DailySession(BaseModel):
    """The one Zoom meeting a tutor holds on a given (center-local) date."""

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


class Appointment(BaseModel):
    student = ForeignKeyField(User, backref="appointments", on_delete="CASCADE")
    tutor = ForeignKeyField(User, null=True, backref="tutor_appointments", on_delete="SET NULL")
    center = ForeignKeyField(Center, backref="appointments", on_delete="CASCADE")
    kind = CharField(
        max_length=20, constraints=[SQL("CHECK (kind IN ('online','walk_in','in_person'))")]
    )
    start_at = DateTimeField()  # naive UTC
    end_at = DateTimeField()
    # booked | cancelled | completed | waiting (walk-in queue) | assigned | left
    status = CharField(max_length=20, default="booked")
    note = CharField(max_length=500, null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


# No double booking of a tutor's slot: enforced by the database.
Appointment.add_index(
    Appointment.index(Appointment.tutor, Appointment.start_at, unique=True).where(
        Appointment.status == "booked"
    )
)


class JoinEvent(BaseModel):
    student = ForeignKeyField(User, backref="join_events", on_delete="CASCADE")
    appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")
    tutor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    center = ForeignKeyField(Center, null=True, on_delete="SET NULL")
    destination = CharField(max_length=20)  # daily_session | connect_link | nowhere
    meeting_id = BigIntegerField(null=True)
    reason = CharField(max_length=200, null=True)
    device_id = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow, index=True)


class Finding(BaseModel):
    check = CharField(max_length=40)
    key = CharField(max_length=200)  # dedupe key: check + subject
    severity = CharField(max_length=10, default="warning")  # info | warning | critical
    center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
    tutor = ForeignKeyField(User, null=True, on_delete="CASCADE")
    subject_type = CharField(max_length=30, null=True)
    subject_id = IntegerField(null=True)
    detail = TextField()
    evidence = JSONTextField(null=True)
    first_seen = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)
    last_checked = DateTimeField(default=utcnow)
    resolved_at = DateTimeField(null=True)
    resolved_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    resolution = CharField(max_length=200, null=True)

    @classmethod
    def open(cls):
        """Findings not yet resolved."""
        return cls.select().where(cls.resolved_at.is_null())


Finding.add_index(Finding.index(Finding.key, unique=True).where(Finding.resolved_at.is_null()))


class AuditEntry(BaseModel):
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
    action = CharField(max_length=60)
    target_type = CharField(max_length=30, null=True)
    target_id = IntegerField(null=True)
    before = JSONTextField(null=True)
    after = JSONTextField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)


class WebhookDelivery(BaseModel):
    dedupe_key = CharField(max_length=128, unique=True)
    event = CharField(max_length=80)
    event_ts = BigIntegerField(null=True)
    received_at = DateTimeField(default=utcnow)
    status = CharField(max_length=20, default="new")  # new | done | failed | ignored
    outcome = TextField(null=True)
    payload = JSONTextField(null=True)


class WebSession(BaseModel):
    """A server-side login session; the cookie holds only a random id."""

    sid_hash = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, null=True, on_delete="CASCADE", backref="+")
    data = JSONTextField(default=dict)
    created_at = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)


class LoginAttempt(BaseModel):
    """Failed logins, counted per e-mail and per address for throttling."""

    email = CharField(max_length=254, index=True)
    ip = CharField(max_length=64, index=True)
    created_at = DateTimeField(default=utcnow, index=True)


MODELS = [
    Center,
    User,
    Membership,
    ZoomConnection,
    DailySession,
    Appointment,
    JoinEvent,
    Finding,
    AuditEntry,
    WebhookDelivery,
    WebSession,
    LoginAttempt,
]


class MeetingParticipant(BaseModel):
    """Someone Zoom reported in a Daily Session's meeting: waiting room, in the meeting, or gone.

    The row is a summary recomputed from its ``PresenceEvent`` log (sorted by event
    time), so deliveries that arrive twice or out of order converge on one state.
    """

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


MODELS.extend([MeetingParticipant, PresenceEvent])


# --- health checks (issue 6) -----------------------------------------------------------------


class HealthScan(BaseModel):
    """One run of the health checks: scope, progress and outcome (the dashboard polls it).

    ``lock`` is ``"active"`` while the scan is queued or running and NULL afterwards;
    its UNIQUE constraint lets only one scan run at a time.
    """

    status = CharField(max_length=12, default="queued")  # queued | running | done | failed
    lock = CharField(max_length=10, null=True, unique=True)
    trigger = CharField(max_length=20, default="manual")  # manual | schedule | cli | demo
    requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    centers = JSONTextField(null=True)  # center ids in scope; None = every center
    total = IntegerField(default=0)  # tutors checked with Zoom
    done = IntegerField(default=0)
    calls = IntegerField(default=0)  # Zoom API calls made
    unchecked = IntegerField(default=0)  # tutors Zoom could not be asked about
    opened = IntegerField(default=0)
    refreshed = IntegerField(default=0)
    resolved = IntegerField(default=0)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    heartbeat_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)

    @classmethod
    def finished(cls):
        """Scans that ran to the end, newest first."""
        return cls.select().where(cls.status == "done").order_by(cls.finished_at.desc())


class HealthSnapshot(BaseModel):
    """A center's readiness at the end of a scan ("12 of 14 tutors ready today")."""

    scan = ForeignKeyField(HealthScan, backref="snapshots", on_delete="CASCADE")
    center = ForeignKeyField(Center, on_delete="CASCADE", backref="+")
    tutors = IntegerField(default=0)
    ready = IntegerField(default=0)
    open_findings = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)


class TutorNotice(BaseModel):
    """A message from an administrator shown on the tutor's Virtual Meetings panel.

    A "reconnect" notice disappears by itself once the tutor connects Zoom again.
    """

    tutor = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    kind = CharField(max_length=20, default="reconnect")
    message = TextField()
    finding = ForeignKeyField(Finding, null=True, on_delete="SET NULL", backref="+")
    sent_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = DateTimeField(default=utcnow)
    cleared_at = DateTimeField(null=True)


class TutorDevice(BaseModel):
    """A browser (the Join device cookie) a tutor pressed Start on: for the same_device check."""

    tutor = ForeignKeyField(User, backref="+", on_delete="CASCADE")
    device_id = CharField(max_length=64)
    session = ForeignKeyField(DailySession, null=True, on_delete="SET NULL", backref="+")
    seen_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tutor", "device_id"), True),)


# Indexes the health checks and the dashboard read through (migration 0004).
Finding.add_index(
    Finding.index(Finding.check, Finding.severity).where(Finding.resolved_at.is_null())
)
Finding.add_index(Finding.index(Finding.tutor))
Finding.add_index(Finding.index(Finding.center))
Finding.add_index(Finding.index(Finding.resolved_at))
ZoomConnection.add_index(
    ZoomConnection.index(ZoomConnection.zoom_user_id).where(ZoomConnection.ended_at.is_null())
)
ZoomConnection.add_index(
    ZoomConnection.index(ZoomConnection.email).where(ZoomConnection.ended_at.is_null())
)

MODELS.extend([HealthScan, HealthSnapshot, TutorNotice, TutorDevice])


# --- notifications (issue 13) ----------------------------------------------------------------


class OutboxMessage(BaseModel):
    """One e-mail the portal owes someone, from the moment it is due until it is sent.

    ``key`` is UNIQUE and names the message, e.g. ``appointment:12:reminder:user:5`` or
    ``finding:44:alert:user:7``: whoever queues it twice (a second job, a retry, two
    processes) inserts nothing. Delivery claims a row with one conditional UPDATE
    (``status`` queued → sending, with a lease), so two senders never send one row.
    The row is written before anything is sent, so nothing is lost while SMTP is down.
    """

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
            ((cls.status == "queued") & (cls.next_attempt_at <= now))
            | ((cls.status == "sending") & (cls.lease_until < now))
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


MODELS.extend([OutboxMessage, MailPreference, CalendarFeed, ShiftCheck])
