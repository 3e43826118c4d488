"""`portal copy-database --to postgresql://…`: a SQLite portal moved to PostgreSQL (issue 16).

The source is always a SQLite database made here; the targets are new PostgreSQL
databases this module creates on the server of DATABASE_URL (in the PostgreSQL pass)
or on the machine's own (postgres@127.0.0.1), so both CI passes run these tests.
"""

import datetime
import os
from functools import partial
from urllib.parse import urlparse

import cysqlite
import psycopg2
import pytest
from cryptography.fernet import Fernet
from support import Auth, make_user
from support.zoom import connect_as, simulator_config

from portal import accounts, appointments, copydb, create_app
from portal import db as dbmod
from portal.appointments import AppointmentSlot
from portal.health.findings import open_finding
from portal.migrate import runner, upgrade
from portal.models import (
    MODELS,
    AuditEntry,
    Availability,
    CalendarFeed,
    Center,
    DailySession,
    DayOff,
    HealthScan,
    HealthScanBatch,
    HealthSnapshot,
    JoinEvent,
    LoginAttempt,
    MailPreference,
    MeetingParticipant,
    OutboxMessage,
    PasswordToken,
    PresenceEvent,
    ShiftCheck,
    TutorDevice,
    TutorNotice,
    WebhookDelivery,
    ZoomConnection,
)
from portal.zoom.tokens import TokenBindingError, seal, unseal
from portal.zoom.wiring import gateway

KEYS = "uWbTjw3W4zYb1s2GmgN0z6wq1XlOqk3yM3C5iP8kY2A="
TABLES = [*MODELS, AppointmentSlot]  # the model registry, and the slots of migration 0002


def _server_url():
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        return url
    return "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="module")
def pg_server():
    url = _server_url()
    try:
        conn = psycopg2.connect(url, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        reason = (str(exc).strip().splitlines() or ["no answer"])[0]
        pytest.skip(
            f"copy-database needs a PostgreSQL server to copy into; none answers at "
            f"{copydb.safe_url(url)} ({reason})"
        )
    conn.autocommit = True
    yield url, conn
    conn.close()


def _release_pool():
    if dbmod.database.obj is not None:
        dbmod.database.close()
        close_all = getattr(dbmod.database.obj, "close_all", None)
        if close_all is not None:
            close_all()


@pytest.fixture
def new_pg(pg_server):
    """make() returns the URL of a new, empty PostgreSQL database (dropped afterwards)."""
    url, conn = pg_server
    made = []

    def make():
        name = f"copydb_{os.getpid()}_{len(made)}"
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return urlparse(url)._replace(path="/" + name).geturl()

    yield make
    _release_pool()
    with conn.cursor() as cur:
        for name in made:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _config(url):
    return simulator_config(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key-that-is-long-enough-123456",
            "DATABASE_URL": url,
            "TOKEN_ENCRYPTION_KEYS": KEYS,
            "ZOOM_SIMULATOR": False,
        }
    )


def _portal(url):
    """A portal on ``url``, its database connected (like the suite's ``app`` fixture)."""
    app = create_app(_config(url))
    dbmod.database.connect(reuse_if_open=True)
    return app


@pytest.fixture
def sqlite_url(tmp_path):
    return "sqlite:///" + str(tmp_path / "source" / "portal.db")


@pytest.fixture
def empty_source(sqlite_url):
    """A migrated SQLite portal with no rows yet."""
    app = _portal(sqlite_url)
    upgrade()
    yield app
    _release_pool()


def populate(app):
    """Every table gets rows, through the portal's own flows where there is one."""
    client = app.test_client()
    auth = Auth(client)
    math = accounts.create_center("Math Center", "America/New_York")
    accounts.update_center_settings(math, None, virtual_meetings_enabled=True)
    writing = accounts.create_center("Zoë's Writing Center", "America/Chicago")
    admin = make_user("admin@x.edu", "center_admin", [math], name="Ada Admin")
    tutor = make_user("tutor@x.edu", "tutor", [math], name="Tomás Tutor")
    student = make_user("student@x.edu", "student", [math, writing], name='Zoë "Z" Ñandú 日本')
    auth.as_user(tutor)  # a WebSession
    LoginAttempt.create(email="someone@x.edu", ip="192.0.2.7")  # a failed login, kept an hour
    connect_as(auth, client, app, "licensed")  # a ZoomConnection with sealed tokens, audit rows
    response = auth.post("/tutor/daily-session", {}, htmx=True, token_path="/tutor/preferences")
    assert response.status_code == 200  # today's DailySession
    tomorrow = datetime.date.today() + datetime.timedelta(days=2)
    appointment = appointments.book(
        student, tutor, "online", f"{tomorrow.isoformat()}T10:00", 30
    )  # an Appointment, its AppointmentSlots, a confirmation in the outbox
    session = DailySession.get(DailySession.tutor == tutor)
    finding = open_finding(
        "stale_connect_link",
        f"stale_connect_link:{tutor.id}",
        "warning",
        math,
        tutor,
        "Tomás's Connect Link points at a personal room:\r\nhttps://zoom.us/j/5551234567"
        "\t(tab) \\N \\. C:\\path",  # what COPY's text format must escape
        {"link": "https://zoom.us/j/5551234567", "seen": [1, 2]},
    )
    AuditEntry.create(actor=admin, center=math, action="finding.note", after={"n": "ü"})
    JoinEvent.create(
        student=student,
        appointment=appointment,
        tutor=tutor,
        center=math,
        destination="daily_session",
        meeting_id=session.zoom_meeting_id or 98765432101,
        reason="session_known",
        created_at=datetime.datetime(2026, 12, 1, 14, 0, 0, 123456),
    )
    delivery = WebhookDelivery.create(
        dedupe_key="evt-1",
        event="meeting.participant_joined",
        event_ts=1764597600123,
        status="done",
        payload={"object": {"id": 1, "name": "Zoë"}},
    )
    participant = MeetingParticipant.create(
        session=session, participant_key="p-1", name="Zoë", student=student, state="joined"
    )
    joined_at = datetime.datetime(2026, 12, 1, 14, 1)
    PresenceEvent.create(participant=participant, kind="joined", at=joined_at, delivery=delivery)
    scan = HealthScan.create(status="done", total=1, done=1, calls=3, centers=[math.id])
    HealthSnapshot.create(scan=scan, center=math, tutors=1, ready=0, open_findings=1)
    HealthScanBatch.create(scan=scan, number=1, tutor_ids=[tutor.id], status="done", tutors=1)
    Availability.create(tutor=tutor, center=math, weekday=0, starts="09:00", ends="12:00")
    DayOff.create(tutor=tutor, center=math, day=tomorrow + datetime.timedelta(days=7))
    PasswordToken.create(
        user=student,
        purpose="reset",
        token_hash="a" * 64,
        nonce="b" * 32,
        expires_at=datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        + datetime.timedelta(hours=1),
    )
    TutorNotice.create(
        tutor=tutor, message="Please reconnect Zoom.", finding=finding, sent_by=admin
    )
    TutorDevice.create(tutor=tutor, device_id="device-1", session=session)
    OutboxMessage.get_or_create(key="finding:alert:admin", kind="alert", recipient=admin)
    MailPreference.create(user=student, reminders=False)
    settings = gateway(app).settings
    CalendarFeed.create(
        tutor=tutor,
        token_hash="ab" * 32,
        token_sealed=seal("feed", tutor_id=tutor.id, zoom_user_id="feed", settings=settings),
    )
    ShiftCheck.create(tutor=tutor, day=tomorrow, center=math, first_start=appointment.start_at)
    return {"tutor": tutor, "admin": admin, "finding": finding}


@pytest.fixture
def source(empty_source):
    """A SQLite portal with rows in every table, tokens, findings and audit rows included."""
    people = populate(empty_source)
    return empty_source, people


def sqlite_tables(url):
    conn = cysqlite.Connection(url[len("sqlite:///") :])
    try:
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
    finally:
        conn.close()


def rows_by_model(url):
    """Every row of every model (and the migration history), read through the ORM of a
    portal on ``url``: peewee gives the same Python values on SQLite and PostgreSQL."""
    _portal(url)
    try:
        tables = {
            model._meta.table_name: [
                tuple(row.values())
                for row in model.select().order_by(*_pk(model)).dicts().iterator()
            ]
            for model in TABLES
        }
        history = runner().History
        tables["schema_migration"] = list(
            history.select(history.id, history.name, history.applied).order_by(history.id).tuples()
        )
        return tables
    finally:
        _release_pool()


def _pk(model):
    return [model._meta.primary_key]


def pg_state(url):
    """Row counts of every table of a PostgreSQL database, and one user's name."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            names = sorted(r[0] for r in cur.fetchall())
            counts = {}
            for name in names:
                cur.execute(f'SELECT count(*) FROM "{name}"')
                counts[name] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def run_copy(app, target):
    result = app.test_cli_runner().invoke(args=["portal", "copy-database", "--to", target])
    _release_pool()
    return result


def test_every_table_is_copied_and_the_portal_runs_on_the_copy(source, sqlite_url, new_pg):
    app, people = source
    tutor, finding = people["tutor"], people["finding"]
    connection = ZoomConnection.get(ZoomConnection.tutor == tutor)
    settings = gateway(app).settings
    access_token = unseal(
        connection.access_token_enc,
        tutor_id=tutor.id,
        zoom_user_id=connection.zoom_user_id,
        settings=settings,
    )
    # Every table is non-empty: the registry's, the slots', and any other a migration made.
    in_sqlite = sqlite_tables(sqlite_url)
    assert {m._meta.table_name for m in TABLES} | {"schema_migration"} <= set(in_sqlite)
    assert [name for name, count in in_sqlite.items() if count == 0] == []
    before = rows_by_model(sqlite_url)

    target = new_pg()
    result = run_copy(app, target)
    assert result.exit_code == 0, result.output
    assert "every count and checksum matches" in result.output
    for name, count in in_sqlite.items():
        line = next(line for line in result.output.splitlines() if line.startswith(name + " "))
        assert line.split()[1:3] == [str(count), str(count)] and line.endswith("ok"), line

    # Every row matches, value for value (booleans, times, JSON, unicode, ids).
    assert pg_state(target) == in_sqlite
    assert rows_by_model(target) == before

    # The portal runs on the copy with the same keys.
    copy = _portal(target)
    try:
        # New rows continue after the copied ids, in every table with a sequence (the
        # migration history too: the next init-db records its migrations there).
        sequenced = 0
        for model in [*TABLES, runner().History]:
            pk = model._meta.primary_key
            if pk.field_type != "AUTO":
                continue
            table = model._meta.table_name
            top = model.select(pk).order_by(pk.desc()).scalar()
            following = dbmod.database.execute_sql(
                f"SELECT nextval(pg_get_serial_sequence('\"{table}\"', '{pk.column_name}'))"
            ).fetchone()[0]
            assert following == top + 1, table
            sequenced += 1
        assert sequenced == len(TABLES)  # every table but web_session (hashes as keys), + history
        copied = ZoomConnection.get(ZoomConnection.tutor == tutor.id)
        assert copied.access_token_enc == connection.access_token_enc
        copy_settings = gateway(copy).settings
        assert (
            unseal(
                copied.access_token_enc,
                tutor_id=tutor.id,
                zoom_user_id=copied.zoom_user_id,
                settings=copy_settings,
            )
            == access_token
        )
        client = copy.test_client()
        auth = Auth(client)
        auth.login("admin@x.edu")
        page = auth.get(f"/admin/health/findings/{finding.id}")
        assert page.status_code == 200
        assert "personal room" in page.get_data(as_text=True)
        auth.logout()
        auth.login("tutor@x.edu")
        page = auth.get("/tutor/preferences")
        assert page.status_code == 200 and "Tomás Tutor" in page.get_data(as_text=True)

        # And through the portal's own writes: a center (with its audit row) and a user.
        center = accounts.create_center("New Center", "UTC")
        user = accounts.create_user(
            "new@x.edu", "New Tutor", "tutor", "a-long-password-1", [center]
        )
        audit = AuditEntry.select().order_by(AuditEntry.id.desc()).first()
        assert center.id > max(row[0] for row in before["center"])
        assert user.id > max(row[0] for row in before["user"])
        assert audit.action == "user.create" and audit.id > max(r[0] for r in before["audit_entry"])
    finally:
        _release_pool()


def test_a_target_with_rows_is_refused_and_left_unchanged(source, sqlite_url, new_pg):
    app, _people = source
    target = new_pg()
    assert run_copy(app, target).exit_code == 0
    # Someone used the copy meanwhile: a new user there.
    _portal(target)
    make_user("meanwhile@x.edu", "tutor", [Center.get(Center.name == "Math Center")])
    _release_pool()
    state = pg_state(target)
    rows = rows_by_model(target)

    again = run_copy(app, target)
    assert again.exit_code == 1, again.output
    assert "is not empty" in again.output and "nothing was copied" in again.output
    assert "Traceback" not in again.output
    assert pg_state(target) == state
    assert rows_by_model(target) == rows


def test_a_database_with_tables_but_one_row_is_refused_before_migrating(empty_source, new_pg):
    target = new_pg()
    conn = psycopg2.connect(target)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (id serial PRIMARY KEY, body text)")
        cur.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()
    result = run_copy(empty_source, target)
    assert result.exit_code == 1
    assert "not empty (table 'notes' has rows)" in result.output
    assert pg_state(target) == {"notes": 1}  # no migration ran, nothing was added


def test_a_checksum_mismatch_rolls_the_copy_back(source, sqlite_url, new_pg, monkeypatch):
    app, people = source

    def tamper(cur):  # what a lossy conversion would do: one value changes on the way
        cur.execute('UPDATE "user" SET name = %s WHERE id = %s', ("Mallory", people["tutor"].id))

    monkeypatch.setattr(
        copydb, "copy_database", partial(copydb.copy_database, before_verify=tamper)
    )
    target = new_pg()
    result = run_copy(app, target)
    assert result.exit_code == 1, result.output
    mismatched = [line for line in result.output.splitlines() if line.endswith("MISMATCH")]
    assert [line.split()[0] for line in mismatched] == ["user"]
    assert "does not match the SQLite database in user" in result.output
    assert "rolled back" in result.output
    # Nothing was committed: the target has the migrated tables and no rows, so it can be
    # copied into again.
    state = pg_state(target)
    assert state and all(count == 0 for name, count in state.items() if name != "schema_migration")
    monkeypatch.undo()
    assert run_copy(app, target).exit_code == 0


def test_a_value_that_does_not_fit_its_column_is_refused_plainly(source, sqlite_url, new_pg):
    app, people = source
    conn = cysqlite.Connection(sqlite_url[len("sqlite:///") :])
    conn.execute("UPDATE tutor_device SET seen_at = 'yesterday'")
    conn.close()
    target = new_pg()
    result = run_copy(app, target)
    assert result.exit_code == 1
    assert "Table 'tutor_device', column 'seen_at'" in result.output
    assert "is not a timestamp" in result.output and "Traceback" not in result.output
    state = pg_state(target)
    assert all(count == 0 for name, count in state.items() if name != "schema_migration")


def test_a_connection_lost_midway_is_answered_plainly(source, new_pg):
    app, _people = source

    def lose_connection(cur):  # the server goes away after the rows were written
        cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    target = new_pg()
    with pytest.raises(copydb.CopyError, match="PostgreSQL refused the copy .*nothing was copied"):
        copydb.copy_database(app.config["DATABASE_URL"], target, before_verify=lose_connection)
    state = pg_state(target)
    assert state["user"] == 0
    assert all(count == 0 for name, count in state.items() if name != "schema_migration")


def test_a_lost_row_is_detected(source, new_pg):
    app, _people = source

    def lose(cur):
        cur.execute("DELETE FROM tutor_device")

    # Small batches: every table of more than two rows is read and written in several.
    result = copydb.copy_database(app.config["DATABASE_URL"], new_pg(), batch=2, before_verify=lose)
    assert not result.committed
    assert result.mismatched == ["tutor_device"]
    assert max(t.source_rows for t in result.tables) > 2
    device = next(t for t in result.tables if t.name == "tutor_device")
    assert (device.source_rows, device.target_rows) == (1, 0)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://root@127.0.0.1/portal", "--to must be a PostgreSQL database URL"),
        ("not a url", "--to must be a PostgreSQL database URL"),
        ("postgresql://postgres@127.0.0.1:port/portal", "--to is not a valid URL"),
        ("postgresql://postgres@127.0.0.1:5432", "--to names no database"),
        (
            "postgresql://postgres:s3cret-pw@127.0.0.1:1/portal",
            "Could not connect to PostgreSQL at postgresql://postgres:***@127.0.0.1:1/portal",
        ),
    ],
)
def test_bad_target_urls_are_answered_plainly(empty_source, url, words):
    result = run_copy(empty_source, url)
    assert result.exit_code == 1
    assert words in result.output
    assert "Traceback" not in result.output and "s3cret-pw" not in result.output


def test_a_database_that_does_not_exist_is_named(empty_source, pg_server):
    url = urlparse(pg_server[0])._replace(path="/copydb_no_such_database").geturl()
    result = run_copy(empty_source, url)
    assert result.exit_code == 1
    assert 'database "copydb_no_such_database" does not exist' in result.output
    assert "createdb copydb_no_such_database" in result.output


def test_the_source_must_be_sqlite(new_pg):
    target = new_pg()
    app = _portal(target)  # a portal already on PostgreSQL
    result = run_copy(app, new_pg())
    assert result.exit_code == 1
    assert "copies from SQLite, but DATABASE_URL is a postgresql database" in result.output


def test_a_source_behind_on_migrations_is_refused(empty_source, sqlite_url, new_pg):
    path = sqlite_url[len("sqlite:///") :]
    conn = cysqlite.Connection(path)
    conn.execute("DELETE FROM schema_migration WHERE name = '0005_notifications'")
    conn.close()
    target = new_pg()
    result = run_copy(empty_source, target)
    assert result.exit_code == 1
    assert "lacks migration(s) 0005_notifications" in result.output
    assert "init-db" in result.output
    assert pg_state(target) == {}


def test_a_sqlite_file_without_the_portal_is_refused(tmp_path, new_pg):
    url = "sqlite:///" + str(tmp_path / "other" / "portal.db")
    app = create_app(_config(url))  # the factory's start-up check makes an empty file
    target = new_pg()
    result = run_copy(app, target)
    assert result.exit_code == 1
    assert "is not a database of this portal" in result.output
    assert pg_state(target) == {}
    with pytest.raises(copydb.CopyError, match="There is no SQLite database at"):
        copydb.copy_database("sqlite:///" + str(tmp_path / "nowhere.db"), target)
    assert not (tmp_path / "nowhere.db").exists()


def test_a_wrong_key_cannot_read_the_copied_tokens(source, new_pg):
    """The ciphertexts are copied as they are: only TOKEN_ENCRYPTION_KEYS open them."""
    app, people = source
    target = new_pg()
    assert run_copy(app, target).exit_code == 0
    _portal(target)
    try:
        copied = ZoomConnection.get(ZoomConnection.tutor == people["tutor"].id)
        other_keys = Fernet.generate_key().decode()
        wrong = gateway(
            create_app(dict(_config(target), TOKEN_ENCRYPTION_KEYS=other_keys))
        ).settings

        with pytest.raises(TokenBindingError):
            unseal(
                copied.access_token_enc,
                tutor_id=people["tutor"].id,
                zoom_user_id=copied.zoom_user_id,
                settings=wrong,
            )
    finally:
        _release_pool()


@pytest.mark.parametrize(
    ("kind", "sqlite_value", "pg_value"),
    [
        ("bool", 1, True),
        ("bool", 0, False),
        (
            "timestamp",
            "2026-12-01 14:00:00.123456",
            datetime.datetime(2026, 12, 1, 14, 0, 0, 123456),
        ),
        ("timestamp", "2026-12-01 14:00:00", datetime.datetime(2026, 12, 1, 14)),
        ("timestamp", "2026-12-01 09:00:00-05:00", datetime.datetime(2026, 12, 1, 14)),
        ("date", "2026-12-01", datetime.date(2026, 12, 1)),
        ("int", 3542471135, 3542471135),
        ("text", "Zoë 日本", "Zoë 日本"),
        ("bytes", b"\x00\xff", memoryview(b"\x00\xff")),
        ("text", None, None),
    ],
)
def test_values_hash_alike_on_both_sides(kind, sqlite_value, pg_value):
    assert copydb._canonical(kind, sqlite_value) == copydb._canonical(kind, pg_value)


@pytest.mark.parametrize(
    ("kind", "one", "other"),
    [
        ("bool", 1, False),
        ("timestamp", "2026-12-01 14:00:00.000001", datetime.datetime(2026, 12, 1, 14)),
        ("text", "", None),
        ("int", 1, None),
    ],
)
def test_different_values_hash_differently(kind, one, other):
    assert copydb._digest([kind], [one]) != copydb._digest([kind], [other])
