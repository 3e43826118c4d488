"""Notifications: the e-mail outbox, e-mail preferences, calendar feeds, before-shift checks.

Adds four tables and touches no existing one:
- ``outbox_message``: one row per e-mail owed, UNIQUE ``key`` (so queuing twice inserts
  nothing), its status, attempts, lease and what was sent;
- ``mail_preference``: a user's reminder choice (no row = reminders on);
- ``calendar_feed``: a tutor's private feed token (SHA-256 for lookup, a sealed copy to show);
- ``shift_check``: one before-shift check per tutor and day, UNIQUE (tutor, day).

Only adds; ``down`` removes exactly what ``up`` added.
"""

from peewee import *  # noqa: F403

TABLES = ("shift_check", "calendar_feed", "mail_preference", "outbox_message")


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

    class Appointment(Model):
        class Meta:
            database = db
            table_name = "appointment"

    class Finding(Model):
        class Meta:
            database = db
            table_name = "finding"

    class OutboxMessage(Model):
        key = CharField(max_length=200, unique=True)
        kind = CharField(max_length=20)
        recipient = ForeignKeyField(User, on_delete="CASCADE")
        center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
        appointment = ForeignKeyField(Appointment, null=True, on_delete="CASCADE")
        finding = ForeignKeyField(Finding, null=True, on_delete="CASCADE")
        tutor = ForeignKeyField(User, null=True, on_delete="CASCADE")
        day = DateField(null=True)
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        status = CharField(max_length=10, default="queued")
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        lease_owner = CharField(max_length=64, null=True)
        lease_until = DateTimeField(null=True)
        last_error = TextField(null=True)
        to_address = CharField(max_length=254, null=True)
        subject = CharField(max_length=300, null=True)
        body = TextField(null=True)
        ics = TextField(null=True)
        transport = CharField(max_length=10, null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        sent_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "outbox_message"
            indexes = ((("status", "next_attempt_at"), False),)

    class MailPreference(Model):
        user = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        reminders = BooleanField(default=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "mail_preference"

    class CalendarFeed(Model):
        tutor = ForeignKeyField(User, unique=True, on_delete="CASCADE")
        token_hash = CharField(max_length=64, unique=True)
        token_sealed = TextField()
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "calendar_feed"

    class ShiftCheck(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        day = DateField()
        center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
        first_start = DateTimeField()
        status = CharField(max_length=10, default="running")
        attempts = IntegerField(default=1)
        lease_until = DateTimeField(null=True)
        detail = TextField(null=True)
        checked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "shift_check"
            indexes = ((("tutor", "day"), True),)

    db.create_tables([OutboxMessage, MailPreference, CalendarFeed, ShiftCheck])


def down(migrator, db):
    for table in TABLES:
        migrator.migrate(migrator.drop_table(table))
