"""`portal copy-database --to postgresql://…`: move a SQLite installation to PostgreSQL.

What it copies: every table of the SQLite database (read from its schema, so every
model table, ``appointment_slot``, and whatever tables later migrations add), and
the ``schema_migration`` history as it is (names and the times they were applied).
The job queue is not copied: it lives in its own file (``instance/huey.db``) or in
Redis, and holds only work the portal derives again from the database (hourly
provisioning, the webhook sweep over ``webhook_delivery``, the health scan).

How:

1. Refuse a source that is not a ``sqlite:///`` file of this portal at the latest
   migration, and a target that is not a reachable ``postgresql://`` database.
2. Refuse a target with any row in any table (other than the migration history),
   then apply the migrations to it (the same numbered scripts as ``init-db``).
3. Read the SQLite database in one read transaction (one consistent snapshot, even
   while another process writes) and write into PostgreSQL in one transaction,
   with every table locked, parents before children (its foreign keys), in batches
   through ``COPY``.
   Ids are copied as they are; encrypted Zoom tokens too, so the same
   ``TOKEN_ENCRYPTION_KEYS`` decrypt them.
4. Verify, before committing: per table, the row count and a checksum of the row
   values, computed the same way on both sides (each value normalized by the
   column's PostgreSQL type: SQLite's ``0``/``1`` and PostgreSQL's booleans hash
   alike, SQLite's time text and PostgreSQL's timestamps too). The checksum is the
   sum of the rows' SHA-256 digests modulo 2**256, so row order does not matter.
   Any mismatch rolls the copy back.
5. Set every sequence past the largest copied id, then commit.
"""

import datetime
import decimal
import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import cysqlite
import psycopg2
from psycopg2 import sql

from .backup import sqlite_path
from .db import make_database
from .migrate import MIGRATIONS_DIR

HISTORY = "schema_migration"  # peewee's migration runner's table
BATCH = 1000
MOD = 2**256


class CopyError(Exception):
    """The copy could not be done; the message says why and what to do."""


@dataclass
class TableCheck:
    """One table's row counts and checksums on both sides."""

    name: str
    source_rows: int = 0
    target_rows: int = 0
    source_sum: int = 0
    target_sum: int = 0

    @property
    def ok(self):
        return self.source_rows == self.target_rows and self.source_sum == self.target_sum

    @property
    def source_checksum(self):
        return f"{self.source_sum:064x}"

    @property
    def target_checksum(self):
        return f"{self.target_sum:064x}"


@dataclass
class Result:
    """What a copy did: per-table checks, the migrations it applied, whether it committed."""

    tables: list = field(default_factory=list)
    migrated: list = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0

    @property
    def mismatched(self):
        return [t.name for t in self.tables if not t.ok]

    @property
    def rows(self):
        return sum(t.source_rows for t in self.tables)


def safe_url(url):
    """The URL with its password hidden, for messages."""
    try:
        parsed = urlparse(url)
        if parsed.password is None:
            return url
        netloc = parsed.netloc.rsplit("@", 1)[1]
        user = parsed.username or ""
        return parsed._replace(netloc=f"{user}:***@{netloc}").geturl()
    except ValueError:
        return "(the --to URL)"


# --- values: one normalization for both sides ------------------------------------------------

_INTEGER = {"smallint", "integer", "bigint"}
_FLOAT = {"real", "double precision"}
_TIMESTAMP = {"timestamp without time zone", "timestamp with time zone"}


def _kind(pg_type):
    if pg_type == "boolean":
        return "bool"
    if pg_type in _INTEGER:
        return "int"
    if pg_type in _FLOAT:
        return "float"
    if pg_type == "numeric":
        return "numeric"
    if pg_type in _TIMESTAMP:
        return "timestamp"
    if pg_type == "date":
        return "date"
    if pg_type.startswith("time"):
        return "time"
    if pg_type == "bytea":
        return "bytes"
    return "text"


def _to_python(kind, value):
    """A SQLite (or PostgreSQL) value as the Python value of a column of ``kind``."""
    if value is None:
        return None
    if kind == "bool":
        if isinstance(value, str):
            if value.lower() not in {"0", "1", "t", "f", "true", "false"}:
                raise ValueError(value)
            return value.lower() in {"1", "t", "true"}
        return bool(value)
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "numeric":
        return decimal.Decimal(str(value))
    if kind == "timestamp":
        if not isinstance(value, datetime.date):
            value = datetime.datetime.fromisoformat(str(value))
        elif not isinstance(value, datetime.datetime):
            value = datetime.datetime.combine(value, datetime.time())
        if value.tzinfo is not None:  # the portal's times are naive UTC
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value
    if kind == "date":
        if isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value))
    if kind == "time":
        if isinstance(value, datetime.time):
            return value
        return datetime.time.fromisoformat(str(value))
    if kind == "bytes":
        return bytes(value)
    return value if isinstance(value, str) else str(value)


def _text(kind, value):
    """The text of a Python value of a column of ``kind`` (None stays None)."""
    if value is None:
        return None
    if kind == "bool":
        return "t" if value else "f"
    if kind == "float":
        return repr(value)
    if kind == "numeric":
        return format(value.normalize(), "f")
    if kind in {"timestamp", "date", "time"}:
        return value.isoformat(sep=" ") if kind == "timestamp" else value.isoformat()
    if kind == "bytes":
        return value.hex()
    return str(value)


def _canonical(kind, value):
    """The text a value hashes as: equal values of either database give equal text."""
    return _text(kind, _to_python(kind, value))


def _digest_texts(texts):
    data = json.dumps(texts, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(data).digest(), "big")


def _digest(kinds, row):
    """One row's SHA-256 (as a number) from its type-normalized values."""
    return _digest_texts([_canonical(k, v) for k, v in zip(kinds, row, strict=True)])


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_field(kind, text):
    """One field of PostgreSQL's COPY text format."""
    if text is None:
        return "\\N"
    if kind == "bytes":
        return "\\\\x" + text  # bytea hex input, its backslash escaped for COPY
    return text.translate(_COPY_ESCAPES)


# --- the two databases -----------------------------------------------------------------------


def _open_source(url):
    path = sqlite_path(url)
    if path is None:
        scheme = urlparse(url).scheme or "unknown"
        raise CopyError(
            f"copy-database copies from SQLite, but DATABASE_URL is a {scheme} database. "
            "Set DATABASE_URL to the sqlite:/// database to copy and run it again."
        )
    if not os.path.isfile(path):
        raise CopyError(f"There is no SQLite database at {path}; check DATABASE_URL.")
    try:
        conn = cysqlite.Connection(path, timeout=5.0)
        conn.execute("BEGIN")  # the snapshot: every read below is in this one transaction
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
    except cysqlite.exceptions.SqliteError as exc:
        raise CopyError(f"{path} could not be read as a SQLite database ({exc}).") from None
    if HISTORY not in tables or "user" not in tables:
        conn.execute("ROLLBACK")
        conn.close()
        raise CopyError(f"{path} is not a database of this portal (it has no portal tables).")
    return conn, tables


def _check_source_migrations(conn):
    applied = {row[0] for row in conn.execute(f'SELECT name FROM "{HISTORY}"')}
    files = {
        name[:-3]
        for name in os.listdir(MIGRATIONS_DIR)
        if name.endswith(".py") and name[:4].isdigit()
    }
    if files - applied:
        raise CopyError(
            "The SQLite database lacks migration(s) "
            f"{', '.join(sorted(files - applied))}: run `flask --app wsgi portal init-db` "
            "on it first, then copy-database."
        )
    if applied - files:
        raise CopyError(
            f"The SQLite database has migration(s) this version does not know "
            f"({', '.join(sorted(applied - files))}): copy with the portal version that made it."
        )


def target_params(url):
    """psycopg2's connect() arguments for a postgresql:// URL, or CopyError."""
    try:
        parsed = urlparse(url)
        port = parsed.port
    except ValueError:
        raise CopyError(
            "--to is not a valid URL (check the port); use postgresql://user:password@host:5432/name."
        ) from None
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise CopyError(
            "--to must be a PostgreSQL database URL, like "
            "postgresql://user:password@host:5432/portal."
        )
    name = (parsed.path or "/").lstrip("/")
    if not name or "/" in name:
        raise CopyError(
            "--to names no database: add it after the host, like "
            "postgresql://user:password@host:5432/portal."
        )
    return {
        "dbname": name,
        "user": parsed.username or None,
        "password": parsed.password or None,
        "host": parsed.hostname or None,
        "port": port,
    }


def _open_target(url):
    params = target_params(url)
    try:
        conn = psycopg2.connect(connect_timeout=10, **params)
    except psycopg2.Error as exc:
        detail = (str(exc).strip().splitlines() or ["connection failed"])[0].rstrip(".")
        hint = ""
        if "does not exist" in detail:
            hint = f" Create it first: createdb {params['dbname']}."
        raise CopyError(
            f"Could not connect to PostgreSQL at {safe_url(url)}: {detail}.{hint}"
        ) from None
    with conn.cursor() as cur:
        cur.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


def _target_tables(cur):
    cur.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
    )
    return [row[0] for row in cur.fetchall()]


def _rows_in(cur, tables):
    """The first table (other than the history) that has a row, or None."""
    for table in tables:
        if table == HISTORY:
            continue
        cur.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table)))
        if cur.fetchone()[0]:
            return table
    return None


def _refuse_if_not_empty(cur, url, tables):
    table = _rows_in(cur, tables)
    if table is not None:
        raise CopyError(
            f"The PostgreSQL database {safe_url(url)} is not empty (table {table!r} has rows), "
            "so nothing was copied. Copy into a new, empty database "
            "(e.g. `createdb portal`)."
        )


def _migrate_target(url):
    from playhouse.migrations import Runner

    db = make_database(url)
    try:
        return Runner(db, directory=MIGRATIONS_DIR).up()
    except Exception as exc:  # noqa: BLE001 - reported as one line
        raise CopyError(f"Applying the migrations to {safe_url(url)} failed: {exc}") from None
    finally:
        db.close_all()


def _columns(cur):
    """{table: [(column, kind), ...]} of the target, in column order."""
    cur.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    columns = {}
    for table, column, data_type in cur.fetchall():
        columns.setdefault(table, []).append((column, _kind(data_type)))
    return columns


def _source_columns(conn, table):
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _parents_first(cur, tables):
    """The tables ordered so every foreign key points at an earlier table."""
    cur.execute(
        "SELECT child.relname, parent.relname FROM pg_constraint c "
        "JOIN pg_class child ON child.oid = c.conrelid "
        "JOIN pg_class parent ON parent.oid = c.confrelid "
        "JOIN pg_namespace n ON n.oid = child.relnamespace "
        "WHERE c.contype = 'f' AND n.nspname = current_schema()"
    )
    parents = {t: set() for t in tables}
    for child, parent in cur.fetchall():
        if child in parents and parent != child:
            parents[child].add(parent)
    ordered, done = [], set()
    while len(ordered) < len(tables):
        ready = sorted(t for t in tables if t not in done and parents[t] <= done)
        if not ready:
            stuck = sorted(set(tables) - done)
            raise CopyError(f"The foreign keys of {', '.join(stuck)} form a cycle.")
        ordered.extend(ready)
        done.update(ready)
    return ordered


def _compare_schemas(source, tables, columns):
    missing = sorted(set(tables) - set(columns))
    extra = sorted(set(columns) - set(tables))
    if missing or extra:
        raise CopyError(
            "The PostgreSQL tables do not match the SQLite ones after migrating "
            f"(only in SQLite: {', '.join(missing) or 'none'}; "
            f"only in PostgreSQL: {', '.join(extra) or 'none'}); nothing was copied."
        )
    for table in tables:
        ours = set(_source_columns(source, table))
        theirs = {c for c, _k in columns[table]}
        if ours != theirs:
            raise CopyError(
                f"Table {table!r} has other columns in SQLite than in PostgreSQL "
                f"(only in SQLite: {', '.join(sorted(ours - theirs)) or 'none'}; "
                f"only in PostgreSQL: {', '.join(sorted(theirs - ours)) or 'none'})."
            )


# --- the copy --------------------------------------------------------------------------------


def _copy_table(source, cur, table, cols, check, batch):
    """Stream one table from SQLite into PostgreSQL (COPY, ``batch`` rows at a time)."""
    names = [c for c, _k in cols]
    kinds = [k for _c, k in cols]
    select = 'SELECT {} FROM "{}"'.format(", ".join(f'"{c}"' for c in names), table)
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    copy = copy.as_string(cur)
    reader = source.execute(select)
    while True:
        rows = reader.fetchmany(batch)
        if not rows:
            break
        lines = []
        for row in rows:
            texts = []
            for name, kind, value in zip(names, kinds, row, strict=True):
                try:
                    texts.append(_text(kind, _to_python(kind, value)))
                except (ValueError, TypeError, ArithmeticError):
                    raise CopyError(
                        f"Table {table!r}, column {name!r} (row {names[0]} = {row[0]!r}) holds "
                        f"a value that is not a {kind}; fix that row in SQLite, then copy "
                        "again. Nothing was copied."
                    ) from None
            check.source_rows += 1
            check.source_sum = (check.source_sum + _digest_texts(texts)) % MOD
            lines.append("\t".join(_copy_field(k, t) for k, t in zip(kinds, texts, strict=True)))
        cur.copy_expert(copy, io.StringIO("\n".join(lines) + "\n"))


def _verify_table(conn, table, cols, check, batch):
    kinds = [k for _c, k in cols]
    query = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(sql.Identifier(c) for c, _k in cols), sql.Identifier(table)
    )
    with conn.cursor(name=f"verify_{table}") as reader:  # server-side: read in batches
        reader.itersize = batch
        reader.execute(query)
        for row in reader:
            check.target_rows += 1
            check.target_sum = (check.target_sum + _digest(kinds, row)) % MOD


def _reset_sequences(cur, columns):
    """Every sequence continues after the largest copied value of its column."""
    for table, cols in columns.items():
        for column, _kind in cols:
            cur.execute(
                "SELECT pg_get_serial_sequence(%s, %s)",
                (sql.Identifier(table).as_string(cur), column),
            )
            sequence = cur.fetchone()[0]
            if sequence is None:
                continue
            cur.execute(
                sql.SQL("SELECT setval(%s, COALESCE(MAX({}), 0) + 1, false) FROM {}").format(
                    sql.Identifier(column), sql.Identifier(table)
                ),
                (sequence,),
            )


def _rollback(target):
    """Undo the target transaction; a connection already lost has nothing to undo."""
    if target is None:
        return
    try:
        target.rollback()
    except psycopg2.Error:
        pass


def copy_database(source_url, target_url, batch=BATCH, before_verify=None):
    """Copy the SQLite database of ``source_url`` into the empty PostgreSQL ``target_url``.

    Returns a Result (``committed`` False when a check failed and the copy was rolled
    back); raises CopyError when it cannot start. ``before_verify(cursor)`` runs in the
    target transaction after the rows are written (the tests tamper there).
    """
    started = time.perf_counter()
    target_params(target_url)  # a bad --to is refused before anything is opened
    source, tables = _open_source(source_url)
    target = None
    try:
        _check_source_migrations(source)
        target = _open_target(target_url)
        with target.cursor() as cur:
            _refuse_if_not_empty(cur, target_url, _target_tables(cur))
        target.commit()
        result = Result(migrated=_migrate_target(target_url))
        with target.cursor() as cur:
            columns = _columns(cur)
            _compare_schemas(source, tables, columns)
            # One transaction: lock every table, look again (nobody wrote meanwhile), copy.
            cur.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.SQL(", ").join(map(sql.Identifier, tables))
                )
            )
            _refuse_if_not_empty(cur, target_url, tables)
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(HISTORY)))
            order = _parents_first(cur, tables)
            checks = {t: TableCheck(t) for t in order}
            for table in order:
                _copy_table(source, cur, table, columns[table], checks[table], batch)
            if before_verify is not None:
                before_verify(cur)
        for table in order:
            _verify_table(target, table, columns[table], checks[table], batch)
        result.tables = [checks[t] for t in order]
        if result.mismatched:
            target.rollback()
        else:
            with target.cursor() as cur:
                _reset_sequences(cur, columns)
            target.commit()
            result.committed = True
    except psycopg2.Error as exc:
        _rollback(target)
        detail = (str(exc).strip().splitlines() or ["failed"])[0].rstrip(".")
        raise CopyError(
            f"PostgreSQL refused the copy ({detail}); nothing was copied, so the "
            "PostgreSQL database has no rows. Fix that, then run copy-database again."
        ) from None
    except cysqlite.exceptions.SqliteError as exc:
        _rollback(target)
        raise CopyError(
            f"Reading the SQLite database failed ({exc}); nothing was copied."
        ) from None
    except BaseException:
        _rollback(target)
        raise
    finally:
        if target is not None and not target.closed:
            target.close()
        try:
            source.execute("ROLLBACK")  # the snapshot only read
        finally:
            source.close()
    result.seconds = time.perf_counter() - started
    return result


def report_lines(result):
    """The table of counts and checksums the command prints."""
    width = max([len("table"), *(len(t.name) for t in result.tables)])
    lines = [
        f"{'table':<{width}}  {'SQLite rows':>11}  {'PostgreSQL rows':>15}  "
        f"{'SQLite checksum':<16}  {'PostgreSQL checksum':<19}  result"
    ]
    for t in result.tables:
        lines.append(
            f"{t.name:<{width}}  {t.source_rows:>11}  {t.target_rows:>15}  "
            f"{t.source_checksum[:16]:<16}  {t.target_checksum[:16]:<19}  "
            f"{'ok' if t.ok else 'MISMATCH'}"
        )
    return lines
