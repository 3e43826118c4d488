"""What every model shares: the database, naive-UTC time, JSON text, the role names."""

import json

from peewee import Model, TextField

from ..clock import utcnow
from ..db import database

__all__ = ["APPOINTMENT_KINDS", "ROLES", "ROLE_LABELS", "BaseModel", "JSONTextField", "utcnow"]

ROLES = ("student", "tutor", "center_admin", "account_admin")
ROLE_LABELS = {
    "student": "Student",
    "tutor": "Tutor",
    "center_admin": "Center administrator",
    "account_admin": "Account administrator",
}
APPOINTMENT_KINDS = ("online", "walk_in", "in_person")


class JSONTextField(TextField):
    """JSON stored as text, portable between SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True, default=str)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False
