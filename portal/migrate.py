"""Versioned schema migrations: numbered scripts in portal/migrations/, applied in order.

Uses peewee's migration runner; applied names are recorded in the
``schema_migration`` table, each script runs in its own transaction, and no
script ever drops user data.
"""

import os

from playhouse.migrations import Runner

from .db import database

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def runner():
    """A runner bound to the configured database."""
    return Runner(database.obj, directory=MIGRATIONS_DIR)


def upgrade():
    """Apply every pending migration; returns the names applied."""
    return runner().up()


def status():
    """(name, applied_at or None) for every migration file."""
    return [(m.name, m.applied) for m in runner().status()]
