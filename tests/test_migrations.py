"""init-db creates or upgrades the schema, records history, and never drops data."""

from portal import db as dbmod
from portal.migrate import runner, status, upgrade
from portal.models import Center, User


def test_history_records_every_migration(app):
    names = [name for name, applied in status()]
    assert names[0] == "0001_initial"
    assert all(applied is not None for _, applied in status())
    assert runner().History.select().count() == len(names)


def test_init_db_twice_keeps_data(app, runner):
    Center.create(name="Keep Me")
    first = runner.invoke(args=["portal", "init-db"])
    second = runner.invoke(args=["portal", "init-db"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "0 migration(s) applied" in second.output
    assert Center.select().where(Center.name == "Keep Me").exists()


def test_upgrade_is_a_no_op_when_current(app):
    assert upgrade() == []


def test_constraints_exist_in_the_database(app):
    from peewee import IntegrityError

    User.create(email="a@x.edu", name="A", role="tutor", password_hash="x")
    try:
        with dbmod.database.atomic():
            User.create(email="b@x.edu", name="B", role="wizard", password_hash="x")
        raise AssertionError("CHECK constraint on role missing")
    except IntegrityError:
        pass
    assert User.select().count() == 1
