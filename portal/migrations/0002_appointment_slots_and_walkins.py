"""Student side: tutor time slots (no overlapping bookings), the walk-in queue, Join lookups.

- ``appointment_slot``: one row per 5-minute slot a booked appointment covers,
  UNIQUE (tutor, slot_start), so two bookings of one tutor can never overlap
  (the database refuses the second, on SQLite and PostgreSQL alike);
- a student waits at most once per center's walk-in queue (partial UNIQUE);
- indexes for the day's appointments of a center, a student's list and the
  "who was sent where" pages (JoinEvents per tutor or center and time).

Existing booked appointments get their slots too (a pair that already overlaps
keeps its rows: the first one inserted holds the shared slots). Only adds;
``down`` removes exactly what ``up`` added.
"""

import datetime

from peewee import *  # noqa: F403

SLOT_MINUTES = 5


def _slots(start, end):
    moment = start.replace(
        minute=start.minute - start.minute % SLOT_MINUTES, second=0, microsecond=0
    )
    while moment < end:
        yield moment
        moment += datetime.timedelta(minutes=SLOT_MINUTES)


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class Appointment(Model):
        tutor = ForeignKeyField(User, null=True)
        start_at = DateTimeField()
        end_at = DateTimeField()
        status = CharField()

        class Meta:
            database = db
            table_name = "appointment"

    class AppointmentSlot(Model):
        appointment = ForeignKeyField(Appointment, on_delete="CASCADE")
        tutor = ForeignKeyField(User, on_delete="CASCADE")
        slot_start = DateTimeField()

        class Meta:
            database = db
            table_name = "appointment_slot"
            indexes = ((("tutor", "slot_start"), True),)

    db.create_tables([AppointmentSlot])

    booked = Appointment.select().where(
        Appointment.status == "booked", Appointment.tutor.is_null(False)
    )
    rows = [
        {"appointment": a.id, "tutor": a.tutor_id, "slot_start": slot}
        for a in booked.order_by(Appointment.id)
        for slot in _slots(a.start_at, a.end_at)
    ]
    for i in range(0, len(rows), 500):
        AppointmentSlot.insert_many(rows[i : i + 500]).on_conflict_ignore().execute()

    db.execute_sql(
        "CREATE UNIQUE INDEX appointment_one_waiting_walk_in ON appointment "
        "(student_id, center_id) WHERE kind = 'walk_in' AND status = 'waiting'"
    )
    db.execute_sql("CREATE INDEX appointment_center_start ON appointment (center_id, start_at)")
    db.execute_sql("CREATE INDEX appointment_student_start ON appointment (student_id, start_at)")
    db.execute_sql("CREATE INDEX join_event_tutor_created ON join_event (tutor_id, created_at)")
    db.execute_sql("CREATE INDEX join_event_center_created ON join_event (center_id, created_at)")


def down(migrator, db):
    for name in (
        "join_event_center_created",
        "join_event_tutor_created",
        "appointment_student_start",
        "appointment_center_start",
        "appointment_one_waiting_walk_in",
    ):
        db.execute_sql(f"DROP INDEX IF EXISTS {name}")
    migrator.migrate(migrator.drop_table("appointment_slot"))
