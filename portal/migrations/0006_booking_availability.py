"""Booking that respects reality: slot length, weekly availability, days off, moves.

- ``center.slot_minutes``: the booking grid of a center (default 30), from its opening time;
- ``appointment.sequence``: bumped each time an appointment is moved (the calendar
  invitation's SEQUENCE, so calendars update the same event);
- ``tutor_availability``: a tutor's weekly ranges per center (weekday, HH:MM–HH:MM);
  a tutor with none is available during the center's opening hours, so existing
  installations keep working;
- ``tutor_day_off``: whole center-local dates off, UNIQUE (tutor, center, day).

Only adds (existing rows get the defaults); ``down`` removes exactly what ``up`` added.
"""

from peewee import *  # noqa: F403

TABLES = ("tutor_day_off", "tutor_availability")


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

    class Availability(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        center = ForeignKeyField(Center, on_delete="CASCADE")
        weekday = IntegerField(constraints=[SQL("CHECK (weekday BETWEEN 0 AND 6)")])
        starts = CharField(max_length=5)
        ends = CharField(max_length=5)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "tutor_availability"
            indexes = ((("tutor", "center", "weekday"), False),)

    class DayOff(Model):
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        center = ForeignKeyField(Center, on_delete="CASCADE")
        day = DateField()
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "tutor_day_off"
            indexes = ((("tutor", "center", "day"), True),)

    migrator.migrate(
        migrator.add_column("center", "slot_minutes", IntegerField(default=30)),
        migrator.add_column("appointment", "sequence", IntegerField(default=0)),
    )
    db.create_tables([Availability, DayOff])


def down(migrator, db):
    for table in TABLES:
        migrator.migrate(migrator.drop_table(table))
    migrator.migrate(
        migrator.drop_column("appointment", "sequence"),
        migrator.drop_column("center", "slot_minutes"),
    )
