"""Each user may choose their own time zone for the times pages show them.

Adds one nullable column, ``user.timezone`` (an IANA name; NULL = use the center's zone),
and touches no existing data. ``down`` removes exactly that column.
"""

from peewee import *  # noqa: F403


def up(migrator, db):
    migrator.migrate(migrator.add_column("user", "timezone", CharField(max_length=64, null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("user", "timezone"))
