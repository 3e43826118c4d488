"""Backup and restore timing (issue 15, item 7) for a 100,000-tutor SQLite database.

Seeds the health benchmark's institution (``health_seed.seed_database``: tutors,
students, memberships, Zoom connections, Daily Sessions, appointments, Join events)
into a temporary SQLite file, then times, through the CLI code path
(``portal.backup``):

1. ``portal backup`` with the database idle;
2. ``portal backup`` while a writer thread keeps committing (as the portal would),
   reporting the writes made during the backup;
3. ``portal restore`` of that backup into a fresh database file, checked table by
   table against the backup's row counts.

The restore time is the recovery time (RTO) for the database step; the schedule
(``BACKUP_EVERY_HOURS``) sets the worst-case data loss (RPO).

    .venv/bin/python bench/backup_bench.py [--tutors 100000] [--no-write]

Results replace the backup block of BENCHMARKS.md (between its markers).
"""

import argparse
import datetime
import logging
import os
import platform
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from health_seed import seed_database  # noqa: E402

from portal import backup, create_app  # noqa: E402
from portal.db import database, sqlite_runtime_version, write_tx  # noqa: E402
from portal.migrate import upgrade  # noqa: E402
from portal.models import LoginAttempt  # noqa: E402

RESULTS = os.path.join(ROOT, "BENCHMARKS.md")
START, END = "<!-- bench:backup:start -->", "<!-- bench:backup:end -->"


def writer(stop, counter, slowest):
    """Commit one small row at a time until told to stop (the portal at work)."""
    with database.connection_context():
        while not stop.is_set():
            t0 = time.perf_counter()
            with write_tx():
                LoginAttempt.create(email=f"w{counter[0]}@bench.edu", ip="192.0.2.1")
            slowest[0] = max(slowest[0], time.perf_counter() - t0)
            counter[0] += 1


def main():
    logging.getLogger("portal").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutors", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vmp-backup-bench-") as tmp:
        url = f"sqlite:///{tmp}/live.db"
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "backup-bench-secret-key-0123456789abcdef",
                "DATABASE_URL": url,
                "ZOOM_SIMULATOR": False,
            }
        )
        with app.app_context(), database.connection_context():
            upgrade()
            t0 = time.perf_counter()
            seed_database(args.tutors)
            seed = time.perf_counter() - t0
        print(f"seeded {args.tutors} tutors in {seed:.1f} s", flush=True)

        idle = backup.backup(url, f"{tmp}/idle.db")
        print(f"backup (idle): {idle.seconds:.2f} s, {idle.size / 1e6:.1f} MB", flush=True)

        stop, counter, slowest = threading.Event(), [0], [0.0]
        thread = threading.Thread(target=writer, args=(stop, counter, slowest), daemon=True)
        thread.start()
        time.sleep(0.5)
        before, slowest[0] = counter[0], 0.0
        busy = backup.backup(url, f"{tmp}/busy.db")
        during, worst = counter[0] - before, slowest[0]
        stop.set()
        thread.join()
        print(
            f"backup (writes going on): {busy.seconds:.2f} s, {during} commits meanwhile, "
            f"slowest {worst * 1000:.0f} ms"
        )

        fresh = f"sqlite:///{tmp}/restored/portal.db"
        restored = backup.restore(fresh, busy.path, confirmed=True)
        assert restored.rows == busy.rows, "restored row counts differ from the backup's"
        print(f"restore into a fresh database: {restored.seconds:.2f} s", flush=True)

    rows = sum(busy.rows.values())
    largest = sorted(busy.rows.items(), key=lambda kv: -kv[1])[:4]
    text = "\n".join(
        [
            f"Last run: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · "
            f"{os.cpu_count()} CPUs · Python {platform.python_version()} · SQLite "
            f"{'.'.join(map(str, sqlite_runtime_version()))} (cysqlite, WAL, synchronous=FULL)",
            "",
            f"Database: {args.tutors:,} tutors, {rows:,} rows in {len(busy.rows)} tables "
            f"({', '.join(f'{t} {n:,}' for t, n in largest)}), {busy.size / 1e6:.1f} MB.",
            "",
            "| step | time | notes |",
            "|---|---:|---|",
            f"| `portal backup`, idle | {idle.seconds:.2f} s | checked: integrity_check, "
            "foreign_key_check |",
            f"| `portal backup`, while writing | {busy.seconds:.2f} s | {during} commits by "
            f"another connection during the backup, the slowest {worst * 1000:.0f} ms |",
            f"| `portal restore` into a fresh database | {restored.seconds:.2f} s | row counts "
            "equal the backup's, table by table |",
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
        new = current.rstrip() + "\n\n## Backup and restore (issue 15)\n\n" + block + "\n"
    with open(RESULTS, "w") as fh:
        fh.write(new)


if __name__ == "__main__":
    main()
