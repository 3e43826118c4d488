"""Webhook presence: who waited, joined and left each Daily Session (frozen copy of the models).

Adds two tables and touches no existing one: ``meeting_participant`` (one row per
Zoom participant per Daily Session, with the student matched at Join) and
``presence_event`` (the waiting/admitted/joined/left log the row is derived from).
"""

from peewee import *  # noqa: F403


def up(migrator, db):
    # Existing tables, frozen only as far as the foreign keys need them.
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Appointment(Model):
        class Meta:
            database = db
            table_name = "appointment"

    class DailySession(Model):
        class Meta:
            database = db
            table_name = "daily_session"

    class WebhookDelivery(Model):
        class Meta:
            database = db
            table_name = "webhook_delivery"

    class MeetingParticipant(Model):
        session = ForeignKeyField(DailySession, on_delete="CASCADE")
        participant_key = CharField(max_length=64)
        zoom_user_id = CharField(null=True, max_length=64)
        participant_uuid = CharField(null=True, max_length=64)
        name = CharField(max_length=200, default="")
        email = CharField(null=True, max_length=254)
        state = CharField(max_length=20, default="waiting")
        waiting_since = DateTimeField(null=True)
        admitted_at = DateTimeField(null=True)
        joined_at = DateTimeField(null=True)
        left_at = DateTimeField(null=True)
        last_event_at = DateTimeField(null=True)
        student = ForeignKeyField(User, null=True, on_delete="SET NULL")
        appointment = ForeignKeyField(Appointment, null=True, on_delete="SET NULL")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "meeting_participant"
            indexes = ((("session", "participant_key"), True),)

    db.create_tables([MeetingParticipant])

    class PresenceEvent(Model):
        participant = ForeignKeyField(MeetingParticipant, on_delete="CASCADE")
        kind = CharField(max_length=20)
        at = DateTimeField()
        delivery = ForeignKeyField(WebhookDelivery, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "presence_event"
            indexes = ((("participant", "kind", "at"), True),)

    db.create_tables([PresenceEvent])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("presence_event"))
    migrator.migrate(migrator.drop_table("meeting_participant"))
