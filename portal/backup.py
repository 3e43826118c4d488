"""Backups and restores: `portal backup PATH`, `portal restore PATH`, the periodic job.

SQLite: SQLite's online backup API, through the portal's own SQLite (cysqlite, not
Debian's older `sqlite3`), copying every page in one step. That step is one read
transaction, so the copy is a consistent snapshot, and in WAL mode the portal keeps
reading and writing meanwhile. The copy goes to a temporary file next to PATH, is
checked (`integrity_check`, `foreign_key_check`), made self-contained
(`journal_mode=delete`), fsynced, made private (0600: it holds password hashes and
encrypted tokens) and renamed into place, so PATH is never a half-written file.

PostgreSQL: `pg_dump --format=custom` (the password goes through PGPASSWORD, never
the command line), restored with `pg_restore --clean --if-exists --single-transaction`.

Restore overwrites the database, so it refuses unless told the portal is stopped
(`--yes-the-portal-is-stopped`), and even then while another process still has the
database open: on SQLite, leaving WAL mode needs the only connection; on PostgreSQL,
`pg_stat_activity` lists the others. The SQLite database it replaces is kept beside
it as `<name>.before-restore-<time>`.

The periodic job (``BACKUP_DIR`` set) writes ``portal-<UTC time>.db`` (``.dump`` on
PostgreSQL) every ``BACKUP_EVERY_HOURS`` and keeps the newest ``BACKUP_KEEP``.
"""

import datetime
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

import cysqlite
import psycopg2

BACKUP_NAME = re.compile(r"^portal-\d{8}-\d{6}-\d{6}\.(db|dump)$")
STOP_FIRST = (
    "Stop the portal first (its web server and job consumer, e.g. "
    "`sudo systemctl stop portal-web portal-jobs`), then run this again with "
    "--yes-the-portal-is-stopped."
)


class BackupError(Exception):
    """A backup or restore could not be done; the message says why and what to do."""


@dataclass
class Result:
    """What a backup or restore did."""

    path: str
    seconds: float
    size: int
    rows: dict = field(default_factory=dict)  # table -> row count (SQLite)
    replaced: str | None = None  # restore: where the previous database was kept


def sqlite_path(url):
    """The file of a sqlite:/// DATABASE_URL, or None for another database."""
    if urlparse(url).scheme != "sqlite":
        return None
    return unquote(url[len("sqlite:///") :])


def backup(url, dest):
    """Back up the database of ``url`` to the new file ``dest``; returns a Result."""
    dest = os.path.abspath(dest)
    if os.path.isdir(dest):
        dest = os.path.join(dest, stamped_name(url))
    if os.path.exists(dest):
        raise BackupError(f"{dest} already exists: give a new file name (or a folder).")
    if not os.path.isdir(os.path.dirname(dest)):
        raise BackupError(f"The folder {os.path.dirname(dest)} does not exist.")
    started = time.perf_counter()
    path = sqlite_path(url)
    if path is not None:
        rows = _sqlite_backup(path, dest)
    else:
        rows = {}
        _pg_dump(url, dest)
    return Result(dest, time.perf_counter() - started, os.path.getsize(dest), rows)


def stamped_name(url, now=None):
    """portal-YYYYmmdd-HHMMSS-micro.db (or .dump): sorts by time."""
    now = now or datetime.datetime.now(datetime.UTC)
    ext = "db" if sqlite_path(url) is not None else "dump"
    return f"portal-{now:%Y%m%d-%H%M%S-%f}.{ext}"


def _connect(path, timeout=5.0):
    return cysqlite.Connection(path, timeout=timeout)


def _check(conn, what):
    """integrity_check and foreign_key_check of conn, or BackupError; returns row counts."""
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
    except cysqlite.exceptions.SqliteError as exc:
        raise BackupError(f"{what} is not a SQLite database ({exc}).") from None
    if [tuple(r) for r in result] != [("ok",)]:
        raise BackupError(f"{what} failed SQLite's integrity check: {result[:3]}")
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise BackupError(f"{what} has {len(broken)} broken foreign key(s).")
    return row_counts(conn)


def row_counts(conn):
    """{table: rows} for every table of a SQLite connection."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        ).fetchall()
    ]
    return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sqlite_backup(path, dest):
    if not os.path.exists(path):
        raise BackupError(f"There is no database at {path}.")
    tmp = f"{dest}.partial-{os.getpid()}"
    source = _connect(path)
    try:
        source.backup_to_file(tmp)  # every page in one step: one consistent snapshot
    except cysqlite.exceptions.SqliteError as exc:
        _remove(tmp)
        raise BackupError(f"SQLite could not back up {path}: {exc}") from None
    finally:
        source.close()
    try:
        copy = _connect(tmp)
        try:
            copy.execute("PRAGMA journal_mode=delete")  # one self-contained file
            rows = _check(copy, "The backup")
        finally:
            copy.close()
        os.chmod(tmp, 0o600)
        _fsync(tmp)
        os.replace(tmp, dest)
        _fsync(os.path.dirname(dest))
    except BaseException:
        _remove(tmp)
        raise
    return rows


def _remove(path):
    for name in (path, path + "-journal", path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.remove(name)


def restore(url, src, confirmed=False):
    """Replace the database of ``url`` with the backup ``src``; returns a Result."""
    if not confirmed:
        raise BackupError("Restoring replaces the portal's database. " + STOP_FIRST)
    src = os.path.abspath(src)
    if not os.path.isfile(src):
        raise BackupError(f"There is no backup file at {src}.")
    started = time.perf_counter()
    path = sqlite_path(url)
    if path is not None:
        rows, replaced = _sqlite_restore(path, src)
    else:
        rows, replaced = {}, None
        _pg_restore(url, src)
    return Result(path or url, time.perf_counter() - started, os.path.getsize(src), rows, replaced)


def _sqlite_restore(path, src):
    backup_conn = _connect(src)
    try:
        rows = _check(backup_conn, f"{src}")
        if "schema_migration" not in rows or "user" not in rows:
            raise BackupError(f"{src} is not a backup of this portal (no portal tables).")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        replaced = None
        live = _connect(path, timeout=0.5)
        try:
            _take_sole_use(live, path)
            if row_counts(live):
                replaced = (
                    f"{path}.before-restore-{datetime.datetime.now(datetime.UTC):%Y%m%d-%H%M%S}"
                )
                live.backup_to_file(replaced)
                os.chmod(replaced, 0o600)
            backup_conn.backup(live)  # page by page into the live file, in one transaction
            live.execute("PRAGMA journal_mode=wal")
            restored = _check(live, "The restored database")
        finally:
            live.close()
    finally:
        backup_conn.close()
    if restored != rows:
        raise BackupError("The restored database does not match the backup's row counts.")
    _fsync(path)
    return rows, replaced


def _take_sole_use(live, path):
    """Refuse while another process has the database open (leaving WAL needs sole use)."""
    try:
        mode = live.execute("PRAGMA journal_mode=delete").fetchone()[0]
    except cysqlite.exceptions.SqliteError:
        mode = None
    if str(mode).lower() != "delete":
        raise BackupError(
            f"{path} is still open in another process, so the portal is running. " + STOP_FIRST
        )


# --- PostgreSQL ----------------------------------------------------------------------------


def _pg_env(url):
    """libpq settings for the URL (the password in PGPASSWORD, never on a command line)."""
    parsed = urlparse(url)
    env = dict(os.environ)
    env.update(
        {
            "PGDATABASE": (parsed.path or "/").lstrip("/") or "postgres",
            "PGHOST": parsed.hostname or env.get("PGHOST", ""),
            "PGPORT": str(parsed.port or env.get("PGPORT", "5432")),
            "PGUSER": unquote(parsed.username) if parsed.username else env.get("PGUSER", ""),
        }
    )
    if parsed.password:
        env["PGPASSWORD"] = unquote(parsed.password)
    return {k: v for k, v in env.items() if v != ""}


def _tool(name):
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed. Install the PostgreSQL client tools of the server's "
            f"version (Debian: apt install postgresql-client), or run it yourself: "
            "pg_dump --format=custom --file=FILE DBNAME (restore: pg_restore --clean "
            "--if-exists --single-transaction --dbname=DBNAME FILE, with the portal stopped)."
        )
    return found


def _run(args, env):
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["failed"]
        raise BackupError(f"{os.path.basename(args[0])}: {detail[0]}")


def _pg_dump(url, dest):
    env = _pg_env(url)
    tmp = f"{dest}.partial-{os.getpid()}"
    try:
        _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={tmp}"], env)
        os.chmod(tmp, 0o600)
        _fsync(tmp)
        os.replace(tmp, dest)
    except BaseException:
        _remove(tmp)
        raise


def _pg_others(url):
    """Connections to the URL's database other than ours (the portal, a psql, …)."""
    env = _pg_env(url)
    conn = psycopg2.connect(
        dbname=env["PGDATABASE"],
        host=env.get("PGHOST"),
        port=env.get("PGPORT"),
        user=env.get("PGUSER"),
        password=env.get("PGPASSWORD"),
    )
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def _pg_restore(url, src):
    tool = _tool("pg_restore")
    if _pg_others(url):
        raise BackupError(
            "The database has other connections, so the portal is running. " + STOP_FIRST
        )
    args = [tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error"]
    _run([*args, f"--dbname={_pg_env(url)['PGDATABASE']}", src], _pg_env(url))


# --- the periodic job ------------------------------------------------------------------


def periodic_backup(config, now=None):
    """The scheduled backup into BACKUP_DIR, then retention; None when BACKUP_DIR is unset."""
    folder = config.get("BACKUP_DIR")
    if not folder:
        return None
    os.makedirs(folder, mode=0o700, exist_ok=True)
    url = config["DATABASE_URL"]
    result = backup(url, os.path.join(folder, stamped_name(url, now)))
    removed = prune(folder, int(config.get("BACKUP_KEEP") or 1))
    return {"path": result.path, "seconds": round(result.seconds, 2), "removed": removed}


def prune(folder, keep):
    """Delete all but the newest ``keep`` portal backups in folder; returns their names."""
    names = sorted(n for n in os.listdir(folder) if BACKUP_NAME.match(n))
    old = names[: max(0, len(names) - max(1, keep))]
    for name in old:
        os.remove(os.path.join(folder, name))
    return old
