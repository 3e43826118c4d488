"""The initial schema: every table of DESIGN §5 (frozen copy, generated then edited)."""

from peewee import *  # noqa: F403


def up(migrator, db):
    class User(Model):
        email = CharField(unique=True, max_length=254)
        name = CharField(max_length=200)
        role = CharField(
            max_length=20,
            constraints=[SQL("CHECK (role IN ('student','tutor','center_admin','account_admin'))")],
        )
        password_hash = CharField()
        active = BooleanField(default=True)
        connect_link = CharField(null=True, max_length=500)
        session_version = IntegerField(default=1)
        created_at = DateTimeField()
        last_login_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "user"

    db.create_tables([User])

    class Center(Model):
        name = CharField(unique=True, max_length=200)
        timezone = CharField(max_length=64, default="America/New_York")
        virtual_meetings_enabled = BooleanField(default=False)
        waiting_room_default = BooleanField(default=True)
        opens_at = CharField(max_length=5, default="09:00")
        closes_at = CharField(max_length=5, default="17:00")
        allow_connect_links = BooleanField(default=True)
        waiting_room_limit_minutes = IntegerField(default=5)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "center"

    db.create_tables([Center])

    class Appointment(Model):
        student = ForeignKeyField(User, on_delete="CASCADE")
        tutor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        center = ForeignKeyField(Center, on_delete="CASCADE")
        kind = CharField(
            max_length=20,
            constraints=[SQL("CHECK (kind IN ('online','walk_in','in_person'))")],
        )
        start_at = DateTimeField()
        end_at = DateTimeField()
        status = CharField(max_length=20, default="booked")
        note = CharField(null=True, max_length=500)
        created_at = DateTimeField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "appointment"

    db.create_tables([Appointment])

    class AuditEntry(Model):
        actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
        action = CharField(max_length=60)
        target_type = CharField(null=True, max_length=30)
        target_id = IntegerField(null=True)
        before = TextField(null=True)
        after = TextField(null=True)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "audit_entry"

    db.create_tables([AuditEntry])

    class DailySession(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        center = ForeignKeyField(Center, null=True, on_delete="SET NULL")
        date = DateField()
        status = CharField(max_length=20, default="pending")
        claim_id = CharField(null=True, max_length=64)
        lease_until = DateTimeField(null=True)
        attempts = IntegerField(default=0)
        zoom_meeting_id = BigIntegerField(null=True)
        uuid = CharField(null=True, max_length=64)
        host_id = CharField(null=True, max_length=64)
        join_url = CharField(null=True, max_length=1000)
        password = CharField(null=True, max_length=20)
        topic = CharField(null=True, max_length=200)
        last_error = TextField(null=True)
        last_verified_at = DateTimeField(null=True)
        last_verified_detail = TextField(null=True)
        started_at = DateTimeField(null=True)
        ended_at = DateTimeField(null=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "daily_session"
            indexes = ((("tutor", "date"), True),)

    db.create_tables([DailySession])

    class Finding(Model):
        check = CharField(max_length=40)
        key = CharField(max_length=200)
        severity = CharField(max_length=10, default="warning")
        center = ForeignKeyField(Center, null=True, on_delete="CASCADE")
        tutor = ForeignKeyField(User, null=True, on_delete="CASCADE")
        subject_type = CharField(null=True, max_length=30)
        subject_id = IntegerField(null=True)
        detail = TextField()
        evidence = TextField(null=True)
        first_seen = DateTimeField()
        last_seen = DateTimeField()
        last_checked = DateTimeField()
        resolved_at = DateTimeField(null=True)
        resolved_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        resolution = CharField(null=True, max_length=200)

        class Meta:
            database = db
            table_name = "finding"

    db.create_tables([Finding])

    class JoinEvent(Model):
        student = ForeignKeyField(User, on_delete="CASCADE")
        appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")
        tutor = ForeignKeyField(User, null=True, on_delete="SET NULL")
        center = ForeignKeyField(Center, null=True, on_delete="SET NULL")
        destination = CharField(max_length=20)
        meeting_id = BigIntegerField(null=True)
        reason = CharField(null=True, max_length=200)
        device_id = CharField(null=True, max_length=64)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "join_event"

    db.create_tables([JoinEvent])

    class LoginAttempt(Model):
        email = CharField(index=True, max_length=254)
        ip = CharField(index=True, max_length=64)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "login_attempt"

    db.create_tables([LoginAttempt])

    class Membership(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        center = ForeignKeyField(Center, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "membership"
            indexes = ((("user", "center"), True),)

    db.create_tables([Membership])

    class WebhookDelivery(Model):
        dedupe_key = CharField(unique=True, max_length=128)
        event = CharField(max_length=80)
        event_ts = BigIntegerField(null=True)
        received_at = DateTimeField()
        status = CharField(max_length=20, default="new")
        outcome = TextField(null=True)
        payload = TextField(null=True)

        class Meta:
            database = db
            table_name = "webhook_delivery"

    db.create_tables([WebhookDelivery])

    class WebSession(Model):
        sid_hash = CharField(primary_key=True, max_length=64)
        user = ForeignKeyField(User, null=True, on_delete="CASCADE")
        data = TextField(default=dict)
        created_at = DateTimeField()
        last_seen = DateTimeField()
        expires_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "web_session"

    db.create_tables([WebSession])

    class ZoomConnection(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        zoom_user_id = CharField(max_length=64)
        account_id = CharField(null=True, max_length=64)
        email = CharField(null=True, max_length=254)
        user_type = IntegerField(null=True)
        login_types = TextField(null=True)
        pmi = BigIntegerField(null=True)
        personal_meeting_url = CharField(null=True, max_length=500)
        scopes = TextField(null=True)
        access_token_enc = TextField(null=True)
        refresh_token_enc = TextField(null=True)
        expires_at = DateTimeField(null=True)
        status = CharField(max_length=20, default="active")
        last_error = TextField(null=True)
        version = IntegerField(default=0)
        lease_owner = CharField(null=True, max_length=64)
        lease_until = DateTimeField(null=True)
        revoke_pending = BooleanField(default=False)
        connected_at = DateTimeField()
        ended_at = DateTimeField(null=True)
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "zoom_connection"

    db.create_tables([ZoomConnection])

    # Partial unique indexes (SQLite and PostgreSQL both support them): the
    # invariants the application relies on are enforced by the database.
    db.execute_sql(
        "CREATE UNIQUE INDEX zoom_connection_one_current ON zoom_connection (tutor_id) "
        "WHERE ended_at IS NULL"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX appointment_no_double_booking ON appointment (tutor_id, start_at) "
        "WHERE status = 'booked'"
    )
    db.execute_sql(
        "CREATE UNIQUE INDEX finding_one_open_per_key ON finding (key) WHERE resolved_at IS NULL"
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_table("zoom_connection"))
    migrator.migrate(migrator.drop_table("web_session"))
    migrator.migrate(migrator.drop_table("webhook_delivery"))
    migrator.migrate(migrator.drop_table("membership"))
    migrator.migrate(migrator.drop_table("login_attempt"))
    migrator.migrate(migrator.drop_table("join_event"))
    migrator.migrate(migrator.drop_table("finding"))
    migrator.migrate(migrator.drop_table("daily_session"))
    migrator.migrate(migrator.drop_table("audit_entry"))
    migrator.migrate(migrator.drop_table("appointment"))
    migrator.migrate(migrator.drop_table("center"))
    migrator.migrate(migrator.drop_table("user"))
