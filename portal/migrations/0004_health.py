"""Health checks: scan runs and their progress, per-center readiness, tutor notices, Start devices.

Adds four tables and indexes; touches no existing column:
- ``health_scan``: one row per run (scope, progress, counts); UNIQUE ``lock`` is
  'active' while a scan is queued or running, so only one runs at a time;
- ``health_snapshot``: each center's readiness at the end of a scan;
- ``tutor_notice``: "please reconnect" messages shown on the tutor's panel;
- ``tutor_device``: the device cookie a tutor pressed Start on (same_device check);
- indexes for the dashboard (open findings by check/severity, by tutor, by center,
  resolved_at for the trend) and for the duplicate_authorization group-by.

Only adds; ``down`` removes exactly what ``up`` added.
"""

from peewee import *  # noqa: F403

INDEXES = (
    (
        "finding_open_check_severity",
        'CREATE INDEX finding_open_check_severity ON finding ("check", severity) '
        "WHERE resolved_at IS NULL",
    ),
    ("finding_tutor", "CREATE INDEX finding_tutor ON finding (tutor_id)"),
    ("finding_center", "CREATE INDEX finding_center ON finding (center_id)"),
    ("finding_resolved_at", "CREATE INDEX finding_resolved_at ON finding (resolved_at)"),
    (
        "zoom_connection_current_user",
        "CREATE INDEX zoom_connection_current_user ON zoom_connection (zoom_user_id) "
        "WHERE ended_at IS NULL",
    ),
    (
        "zoom_connection_current_email",
        "CREATE INDEX zoom_connection_current_email ON zoom_connection (email) "
        "WHERE ended_at IS NULL",
    ),
)


def up(migrator, db):
    # Existing tables, frozen only as far as the foreign keys need them.
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Center(Model):
        class Meta:
            database = db
            table_name = "center"

    class Finding(Model):
        class Meta:
            database = db
            table_name = "finding"

    class DailySession(Model):
        class Meta:
            database = db
            table_name = "daily_session"

    class HealthScan(Model):
        status = CharField(max_length=12, default="queued")
        lock = CharField(null=True, unique=True, max_length=10)
        trigger = CharField(max_length=20, default="manual")
        requested_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        centers = TextField(null=True)
        total = IntegerField(default=0)
        done = IntegerField(default=0)
        calls = IntegerField(default=0)
        unchecked = IntegerField(default=0)
        opened = IntegerField(default=0)
        refreshed = IntegerField(default=0)
        resolved = IntegerField(default=0)
        error = TextField(null=True)
        created_at = DateTimeField()
        started_at = DateTimeField(null=True)
        heartbeat_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "health_scan"

    class HealthSnapshot(Model):
        scan = ForeignKeyField(HealthScan, on_delete="CASCADE")
        center = ForeignKeyField(Center, on_delete="CASCADE")
        tutors = IntegerField(default=0)
        ready = IntegerField(default=0)
        open_findings = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "health_snapshot"

    class TutorNotice(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        kind = CharField(max_length=20, default="reconnect")
        message = TextField()
        finding = ForeignKeyField(Finding, null=True, on_delete="SET NULL")
        sent_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        cleared_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "tutor_notice"

    class TutorDevice(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        device_id = CharField(max_length=64)
        session = ForeignKeyField(DailySession, null=True, on_delete="SET NULL")
        seen_at = DateTimeField()

        class Meta:
            database = db
            table_name = "tutor_device"
            indexes = ((("tutor", "device_id"), True),)

    db.create_tables([HealthScan, HealthSnapshot, TutorNotice, TutorDevice])
    for _name, sql in INDEXES:
        db.execute_sql(sql)


def down(migrator, db):
    for name, _sql in INDEXES:
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    for table in ("tutor_device", "tutor_notice", "health_snapshot", "health_scan"):
        migrator.migrate(migrator.drop_table(table))
