"""Health checks (issue 6): findings, scans, snapshots, notices, and the audit trail."""

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel, JSONTextField, utcnow
from .people import Center, User
from .zoom import DailySession


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
    def is_open(cls):
        """The predicate "not yet resolved" (for updates and column selects)."""
        return cls.resolved_at.is_null()

    @classmethod
    def is_resolved(cls):
        """The predicate "resolved" (also a sort key: open findings first)."""
        return cls.resolved_at.is_null(False)

    @classmethod
    def was_open_at(cls, moment):
        """The predicate "still open at ``moment``": unresolved, or resolved at or after it."""
        return cls.is_open() | (cls.resolved_at >= moment)

    @classmethod
    def open(cls):
        """Findings not yet resolved."""
        return cls.select().where(cls.is_open())

    @classmethod
    def open_for(cls, key):
        """The open finding with this key, or None (at most one: a partial UNIQUE index)."""
        return cls.get_or_none(cls.key == key, cls.is_open())


Finding.add_index(Finding.index(Finding.key, unique=True).where(Finding.is_open()))


class AuditEntry(BaseModel):
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
    action = CharField(max_length=60)
    target_type = CharField(max_length=30, null=True)
    target_id = IntegerField(null=True)
    before = JSONTextField(null=True)
    after = JSONTextField(null=True)
    created_at = DateTimeField(default=utcnow, index=True)


class HealthScan(BaseModel):
    """One run of the health checks: scope, progress and outcome (the dashboard polls it).

    ``lock`` is ``"active"`` while the scan is queued or running and NULL afterwards;
    its UNIQUE constraint lets only one scan run at a time.
    """

    # status values
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    LOCKED = "active"  # the value of ``lock`` while queued or running

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
    batches = IntegerField(default=0)  # batches of tutors spread over job consumers; 0 = none
    finishing_at = DateTimeField(null=True)  # set once, by whoever concludes a spread scan

    @classmethod
    def finished(cls):
        """Scans that ran to the end, newest first."""
        return cls.select().where(cls.status == cls.DONE).order_by(cls.finished_at.desc())


class HealthScanBatch(BaseModel):
    """One batch of a spread scan's tutors: asked of Zoom by whichever job consumer takes it.

    ``attempt`` counts pick-ups and names the lease's owner: the heartbeat, progress and the
    result are written only ``WHERE attempt`` is still the taker's, so a batch taken over
    after its lease lapsed is written once, by its last taker.
    """

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    scan = ForeignKeyField(HealthScan, backref="batch_rows", on_delete="CASCADE")
    number = IntegerField()  # 1, 2, ... within the scan
    tutor_ids = JSONTextField()
    status = CharField(max_length=12, default="queued")  # queued | running | done | failed
    attempt = IntegerField(default=0)
    tutors = IntegerField(default=0)  # tutors asked of Zoom
    done = IntegerField(default=0)
    calls = IntegerField(default=0)
    result = JSONTextField(null=True)  # observations and unchecked pairs, for the conclusion
    queued_at = DateTimeField(default=utcnow)
    heartbeat_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("scan", "number"), True), (("status", "heartbeat_at"), False))


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
Finding.add_index(Finding.index(Finding.check, Finding.severity).where(Finding.is_open()))
Finding.add_index(Finding.index(Finding.tutor))
Finding.add_index(Finding.index(Finding.center))
Finding.add_index(Finding.index(Finding.resolved_at))
