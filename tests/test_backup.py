"""`portal backup` while the portal writes, `portal restore` into a fresh database (item 7)."""

import os
import threading
from urllib.parse import urlparse

import cysqlite
import pytest
from support import Auth, empty_tables

from portal import backup, create_app
from portal import db as dbmod
from portal.models import MODELS, Center, LoginAttempt, Membership


def counts():
    return {m._meta.table_name: m.select().count() for m in MODELS}


class Writer(threading.Thread):
    """Keeps committing a center and its membership (two tables, one FK) until stopped."""

    def __init__(self, tutor_id):
        super().__init__(daemon=True)
        self.tutor_id, self.stop, self.written, self.errors = tutor_id, threading.Event(), 0, []
        self.started_writing = threading.Event()

    def run(self):
        dbmod.database.connect(reuse_if_open=True)
        try:
            while not self.stop.is_set():
                with dbmod.write_tx():
                    center = Center.create(name=f"W{self.written:06d}", timezone="UTC")
                    Membership.create(user=self.tutor_id, center=center)
                self.written += 1
                self.started_writing.set()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
        finally:
            dbmod.database.close()


@pytest.fixture
def fresh_url(database_url, tmp_path):
    """A URL of an empty database to restore into (SQLite file, or a new PostgreSQL db)."""
    if database_url.startswith("sqlite"):
        yield "sqlite:///" + str(tmp_path / "restored" / "portal.db")
        return
    import psycopg2

    parsed = urlparse(database_url)
    name = f"restore_{os.getpid()}"
    admin = psycopg2.connect(database_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    yield parsed._replace(path="/" + name).geturl()
    dbmod.database.close()
    close_all = getattr(dbmod.database.obj, "close_all", None)
    if close_all:
        close_all()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_backup_while_writing_then_restore_into_a_fresh_database(
    app, app_config, runner, world, tmp_path, fresh_url
):
    LoginAttempt.create(email="someone@x.edu", ip="192.0.2.1")
    writer = Writer(world["tutor_a"].id)
    writer.start()
    assert writer.started_writing.wait(10)
    path = tmp_path / "portal-backup.db"
    result = runner.invoke(args=["portal", "backup", str(path)])
    during = writer.written
    writer.stop.set()
    writer.join(timeout=10)
    assert result.exit_code == 0, result.output
    assert writer.errors == [] and writer.written > during > 0  # writes went on throughout
    assert "Backed up to" in result.output and path.exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    source = counts()
    empty_tables()  # the live database is not where we restore: prove nothing comes from it

    fresh = create_app({**app_config, "DATABASE_URL": fresh_url})
    restored = fresh.test_cli_runner().invoke(
        args=["portal", "restore", str(path), "--yes-the-portal-is-stopped"]
    )
    assert restored.exit_code == 0, restored.output
    dbmod.database.connect(reuse_if_open=True)
    after = counts()
    # everything is there: untouched tables exactly, the written ones as one snapshot
    written = after["center"] - 2
    assert 0 < written <= writer.written
    assert after["membership"] == source["membership"] - (writer.written - written)
    assert {k: v for k, v in after.items() if k not in ("center", "membership")} == {
        k: v for k, v in source.items() if k not in ("center", "membership")
    }
    names = [c.name for c in Center.select().where(Center.name.startswith("W"))]
    assert sorted(names) == [f"W{i:06d}" for i in range(written)]  # no gap, no torn write
    dbmod.database.close()
    # and the restored copy serves: a user logs in
    auth = Auth(fresh.test_client())
    assert auth.login(world["tutor_a"].email).status_code == 303


def test_restore_refuses_without_being_told_the_portal_is_stopped(runner, world, tmp_path):
    path = tmp_path / "b.db"
    assert runner.invoke(args=["portal", "backup", str(path)]).exit_code == 0
    before = counts()
    result = runner.invoke(args=["portal", "restore", str(path)])
    assert result.exit_code == 1
    assert "systemctl stop portal-web portal-jobs" in result.output
    assert "--yes-the-portal-is-stopped" in result.output
    assert counts() == before


def test_restore_refuses_while_the_portal_has_the_database_open(
    app, runner, world, tmp_path, database_url
):
    path = tmp_path / "b.db"
    assert runner.invoke(args=["portal", "backup", str(path)]).exit_code == 0
    Center.create(name="Made after the backup", timezone="UTC")
    before = counts()
    # another process of the portal, holding its connection
    holder = (
        cysqlite.Connection(backup.sqlite_path(database_url))
        if database_url.startswith("sqlite")
        else __import__("psycopg2").connect(database_url)
    )
    try:
        if database_url.startswith("sqlite"):
            holder.execute("SELECT COUNT(*) FROM center").fetchone()
        result = runner.invoke(args=["portal", "restore", str(path), "--yes-the-portal-is-stopped"])
    finally:
        holder.close()
    assert result.exit_code == 1
    assert "the portal is running" in result.output and "Stop the portal first" in result.output
    dbmod.database.connect(reuse_if_open=True)
    assert counts() == before


def test_restore_refuses_a_file_that_is_not_a_backup(app_config, tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("pg_restore reports its own error for a non-dump file")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    other = tmp_path / "other.db"
    conn = cysqlite.Connection(str(other))
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    fresh = create_app({**app_config, "DATABASE_URL": "sqlite:///" + str(tmp_path / "live.db")})
    cli = fresh.test_cli_runner()
    for path, words in ((junk, "not a SQLite database"), (other, "not a backup of this portal")):
        result = cli.invoke(args=["portal", "restore", str(path), "--yes-the-portal-is-stopped"])
        assert result.exit_code == 1 and words in result.output


def test_backup_never_overwrites_and_a_folder_gets_a_dated_name(runner, world, tmp_path):
    taken = tmp_path / "taken.db"
    taken.write_text("mine")
    result = runner.invoke(args=["portal", "backup", str(taken)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert taken.read_text() == "mine"
    assert runner.invoke(args=["portal", "backup", str(tmp_path)]).exit_code == 0
    assert [n for n in os.listdir(tmp_path) if backup.BACKUP_NAME.match(n)]


def test_the_periodic_backup_keeps_the_newest_and_is_off_without_a_folder(app, world, tmp_path):
    from portal.jobs import create_huey

    task = create_huey(app).portal_tasks["backup_database"]
    assert task.call_local() is None  # BACKUP_DIR unset: off
    folder = tmp_path / "backups"
    app.config.update(BACKUP_DIR=str(folder), BACKUP_KEEP=2)
    made = [task.call_local()["path"] for _ in range(3)]
    left = sorted(os.listdir(folder))
    assert left == sorted(os.path.basename(p) for p in made[1:])
    assert task.call_local()["removed"] == [os.path.basename(made[1])]
