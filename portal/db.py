"""The peewee database: one proxy, initialized by the factory from DATABASE_URL.

Connections come from a per-process pool (``POOL``): each request takes one and gives
it back at teardown.

SQLite (the default) runs through cysqlite, which bundles SQLite >= 3.51.3 and
so avoids the WAL-reset corruption bug of older builds (RELIABILITY §4.1).
Every connection gets WAL, foreign keys, a 5 s busy timeout and synchronous=FULL.
Transactions that read before they write use ``write_tx()`` (BEGIN IMMEDIATE on
SQLite), so two workers never deadlock on a read-to-write upgrade.
"""

import atexit
import contextlib
import fcntl
import os
import random
import threading
import time
from urllib.parse import unquote, urlparse

from peewee import DatabaseProxy, OperationalError
from playhouse.cysqlite_ext import CySqliteDatabase, PooledCySqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

from .config import ConfigError

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 5000,
    "synchronous": "full",
}
MIN_BUSY_TIMEOUT_MS = 5000  # what the startup check demands, whatever SQLITE_PRAGMAS says
# Connections are pooled per process: a request "closes" its connection back into the
# pool, so the pragmas (SQLite) or the TCP and auth handshake (PostgreSQL) are paid once
# per connection, not per request, and SQLite does not checkpoint the WAL on every close.
POOL = {"max_connections": 32, "stale_timeout": 300, "timeout": 10}


class DatabaseConfigError(RuntimeError):
    """DATABASE_URL cannot be used."""


def make_database(url, synchronous="full"):
    """Build (not connect) a peewee database for a sqlite:/// or postgresql:// URL.

    ``synchronous`` (SQLite): ``full`` syncs every commit to disk; ``normal`` (in WAL
    mode) keeps every committed transaction through a crash of the process, but a
    power cut or OS crash can lose the last ones (BENCHMARKS.md measures the cost).
    """
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ""
        if not path:
            raise DatabaseConfigError("DATABASE_URL must look like sqlite:///path/to/portal.db")
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if synchronous not in ("full", "normal"):
            raise DatabaseConfigError("SQLITE_SYNCHRONOUS must be 'full' or 'normal'.")
        pragmas = dict(SQLITE_PRAGMAS, synchronous=synchronous)
        return PooledCySqliteDatabase(path, pragmas=pragmas, **POOL)
    if parsed.scheme in {"postgres", "postgresql"}:
        return PooledPostgresqlDatabase(
            (parsed.path or "/").lstrip("/") or "postgres",
            **POOL,
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or None,
            port=parsed.port or None,
        )
    raise DatabaseConfigError(f"DATABASE_URL scheme {parsed.scheme!r} is not supported.")


def is_sqlite():
    """True when the configured database is SQLite."""
    return isinstance(database.obj, CySqliteDatabase)


_writer = threading.local()  # this thread's nesting depth
_writer_threads = threading.RLock()  # threads of this process, one writer at a time
_writer_files = {}  # (pid, database path) -> the lock file, open for the process's life


@atexit.register
def _close_writer_files():
    for handle in _writer_files.values():
        handle.close()
    _writer_files.clear()


@contextlib.contextmanager
def _writer_lock():
    """Queue this thread's SQLite write behind the others of every process on the machine.

    SQLite's own busy handler sleeps in coarse steps (1, 2, 5, 10 … 100 ms) while
    another connection holds the write lock, so under load two workers that write a
    row each wait far longer than the writes take. Here the threads of a process take
    turns on a lock, and processes on an exclusive ``flock`` of a file beside the
    database, which the kernel grants the moment the holder lets go. A nested
    transaction keeps the lock its thread already holds.
    """
    path = database.obj.database
    depth = getattr(_writer, "depth", 0)
    if path == ":memory:" or depth:
        _writer.depth = depth + 1
        try:
            yield
        finally:
            _writer.depth = depth
        return
    with _writer_threads:
        key = (os.getpid(), path)
        handle = _writer_files.get(key)
        if handle is None:
            handle = _writer_files[key] = open(path + "-writer.lock", "a+b")  # noqa: SIM115
        fcntl.flock(handle, fcntl.LOCK_EX)
        _writer.depth = 1
        try:
            yield
        finally:
            _writer.depth = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def write_tx():
    """A transaction that may write after reading: BEGIN IMMEDIATE on SQLite."""
    if not is_sqlite():
        with database.atomic():
            yield
        return
    with _writer_lock(), database.atomic("IMMEDIATE"):
        yield


def retry_locked(fn, attempts=3):
    """Run fn(); on SQLite 'database is locked' wait with jitter and try again."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    return None


def sqlite_runtime_version():
    """The SQLite library version the portal's connections use, as a tuple."""
    return tuple(CySqliteDatabase.server_version[:3])


def check_sqlite_settings():
    """Return the pragmas of the live connection, for the startup check."""
    db = database.obj
    return {
        "journal_mode": db.execute_sql("PRAGMA journal_mode").fetchone()[0],
        "foreign_keys": db.execute_sql("PRAGMA foreign_keys").fetchone()[0],
        "busy_timeout": db.execute_sql("PRAGMA busy_timeout").fetchone()[0],
        "synchronous": db.execute_sql("PRAGMA synchronous").fetchone()[0],
    }


def verify_sqlite_settings():
    """Open one connection at start; raise ConfigError unless WAL, foreign keys and
    busy_timeout took (a pragma that cannot apply is silently ignored by SQLite)."""
    if not is_sqlite():
        return None
    db = database.obj
    opened_here = db.is_closed()
    if opened_here:
        db.connect()
    try:
        settings = check_sqlite_settings()
    finally:
        if opened_here:
            db.close()
    problems = []
    if str(settings["journal_mode"]).lower() != "wal" and db.database != ":memory:":
        problems.append(
            f"journal_mode is {settings['journal_mode']!r}, not 'wal' "
            "(keep the database on a local disk the portal can write, with its folder writable)"
        )
    if settings["foreign_keys"] != 1:
        problems.append("foreign_keys is off")
    if (settings["busy_timeout"] or 0) < MIN_BUSY_TIMEOUT_MS:
        problems.append(
            f"busy_timeout is {settings['busy_timeout']} ms, not at least {MIN_BUSY_TIMEOUT_MS}"
        )
    if problems:
        raise ConfigError(
            "SQLite settings did not take, so the portal will not serve: " + "; ".join(problems)
        )
    return settings
