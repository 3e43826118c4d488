"""copy-database timing (issue 16): how long the move from SQLite to PostgreSQL keeps
the portal down, for a large institution.

Seeds the health benchmark's institution (``health_seed.seed_database``: tutors,
students, memberships, Zoom connections, Daily Sessions, appointments, Join events)
into a temporary SQLite file, creates a new PostgreSQL database on the server of
``--server`` (default: this machine's, as postgres), and times ``portal.copydb``
(the code ``portal copy-database`` runs): migrations, the copy, the verification
of every table's count and checksum, and the sequences. The database is dropped
afterwards.

    .venv/bin/python bench/copy_bench.py [--tutors 20000] [--server URL] [--no-write]

Results replace the copy block of BENCHMARKS.md (between its markers).
"""

import argparse
import datetime
import logging
import os
import platform
import sys
import tempfile
import time
from urllib.parse import urlparse

import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from health_seed import seed_database  # noqa: E402

from portal import copydb, create_app  # noqa: E402
from portal.db import database  # noqa: E402
from portal.migrate import upgrade  # noqa: E402

RESULTS = os.path.join(ROOT, "BENCHMARKS.md")
START, END = "<!-- bench:copy:start -->", "<!-- bench:copy:end -->"


def main():
    logging.getLogger("portal").setLevel(logging.WARNING)
    logging.getLogger("peewee.migrations").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutors", type=int, default=20_000)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    name = f"copy_bench_{os.getpid()}"
    admin = psycopg2.connect(args.server)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0].split()[0]
    target = urlparse(args.server)._replace(path="/" + name).geturl()
    try:
        with tempfile.TemporaryDirectory(prefix="vmp-copy-bench-") as tmp:
            url = f"sqlite:///{tmp}/portal.db"
            app = create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "copy-bench-secret-key-0123456789abcdef",
                    "DATABASE_URL": url,
                    "ZOOM_SIMULATOR": False,
                }
            )
            with app.app_context(), database.connection_context():
                upgrade()
                t0 = time.perf_counter()
                seed_database(args.tutors)
                print(f"seeded {args.tutors} tutors in {time.perf_counter() - t0:.1f} s")
            size = os.path.getsize(f"{tmp}/portal.db")
            database.obj.close_all()
            result = copydb.copy_database(url, target)
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    assert result.committed, f"the copy did not verify: {result.mismatched}"
    largest = sorted(result.tables, key=lambda t: -t.source_rows)[:4]
    text = "\n".join(
        [
            f"Last run: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · "
            f"{os.cpu_count()} CPUs · Python {platform.python_version()} · "
            f"PostgreSQL {pg_version} on the same machine · load average "
            f"{os.getloadavg()[0]:.1f} (the machine is shared)",
            "",
            f"Database: {args.tutors:,} tutors, {result.rows:,} rows in {len(result.tables)} "
            f"tables ({', '.join(f'{t.name} {t.source_rows:,}' for t in largest)}), "
            f"{size / 1e6:.1f} MB of SQLite.",
            "",
            "| step | time | notes |",
            "|---|---:|---|",
            f"| `portal copy-database` | {result.seconds:.1f} s | migrations, copy in batches "
            f"of {copydb.BATCH:,}, count and checksum of every table on both sides, sequences; "
            f"{result.rows / result.seconds:,.0f} rows/s |",
        ]
    )
    print()
    print(text)
    if not args.no_write:
        write_results(text)


def write_results(text):
    block = f"{START}\n{text}\n{END}"
    current = open(RESULTS).read() if os.path.exists(RESULTS) else "# Benchmarks\n"
    if START in current and END in current:
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        new = head + block + tail
    else:
        new = current.rstrip() + "\n\n## Moving from SQLite to PostgreSQL (issue 16)\n\n"
        new += block + "\n"
    with open(RESULTS, "w") as fh:
        fh.write(new)


if __name__ == "__main__":
    main()
