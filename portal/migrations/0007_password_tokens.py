"""Managing people: single-use password links (reset and invitation).

Adds one table and touches no existing one:
- ``password_token``: the SHA-256 of each link's token (UNIQUE, for lookup), the nonce
  the token is derived from under SECRET_KEY, its purpose (reset | invite), expiry and
  the moment it was used.

Only adds; ``down`` removes exactly what ``up`` added.
"""

from peewee import *  # noqa: F403


def up(migrator, db):
    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class PasswordToken(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        purpose = CharField(max_length=10)
        token_hash = CharField(max_length=64, unique=True)
        nonce = CharField(max_length=64, unique=True)
        created_at = DateTimeField()
        expires_at = DateTimeField(index=True)
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "password_token"

    db.create_tables([PasswordToken])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("password_token"))
