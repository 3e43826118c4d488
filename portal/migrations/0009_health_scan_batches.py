"""Health scans spread over job consumers: batches of tutors with their own lease.

Adds one table and two columns; drops and rewrites nothing:
- ``health_scan_batch``: one row per batch of a spread scan (its tutors, status, the
  attempt that holds its lease, heartbeat, progress and result), UNIQUE (scan, number);
- ``health_scan.batches``: how many batches the scan was split into (0: it ran in one
  process, as before);
- ``health_scan.finishing_at``: set once, by the batch that concludes the scan.

``down`` removes exactly what ``up`` added.
"""

from peewee import *  # noqa: F403


def up(migrator, db):
    # Existing tables, frozen only as far as the foreign keys need them.
    class HealthScan(Model):
        class Meta:
            database = db
            table_name = "health_scan"

    class HealthScanBatch(Model):
        scan = ForeignKeyField(HealthScan, on_delete="CASCADE")
        number = IntegerField()
        tutor_ids = TextField()
        status = CharField(max_length=12, default="queued")
        attempt = IntegerField(default=0)
        tutors = IntegerField(default=0)
        done = IntegerField(default=0)
        calls = IntegerField(default=0)
        result = TextField(null=True)
        queued_at = DateTimeField()
        heartbeat_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "health_scan_batch"
            indexes = ((("scan", "number"), True), (("status", "heartbeat_at"), False))

    migrator.migrate(
        migrator.add_column("health_scan", "batches", IntegerField(default=0)),
        migrator.add_column("health_scan", "finishing_at", DateTimeField(null=True)),
    )
    db.create_tables([HealthScanBatch])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("health_scan_batch"),
        migrator.drop_column("health_scan", "finishing_at"),
        migrator.drop_column("health_scan", "batches"),
    )
