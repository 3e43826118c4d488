"""The JoinEvent: one row per press of Join, written off the redirect; and the listing.

Why a background writer: on SQLite every committed INSERT costs an fsync (WAL,
synchronous=FULL), and a request connection that closes last after a write
also checkpoints the WAL. Measured under gunicorn (BENCHMARKS.md) that halved
Join's throughput. ``EventWriter.put`` only queues the row; one daemon thread
per process (started on first use, so after gunicorn forks) waits ``interval``
for more rows and inserts them in one short transaction on its own, long-lived
connection. A row is lost only if the process dies within that interval; a
normal exit flushes (atexit). If the database stays down, the queue stops
growing at ``limit`` rows and later rows are dropped with a warning.
Tests (``app.testing``) write synchronously through the same INSERT.
"""

import atexit
import datetime
import logging
import os
import queue
import threading
import time

from peewee import JOIN

from ..db import database, retry_locked, write_tx
from ..models import JoinEvent, User, utcnow
from .targets import Prepared

log = logging.getLogger("portal.join.events")

_INSERT_EVENT = Prepared(
    lambda **row: JoinEvent.insert(**row),
    student=-7_000_000_011,
    appointment=-7_000_000_012,
    tutor=-7_000_000_013,
    center=-7_000_000_014,
    destination="\x00destination",
    meeting_id=-7_000_000_015,
    reason="\x00reason",
    device_id="\x00device",
    created_at=datetime.datetime(1901, 1, 1, 0, 0, 1),
)


def event_row(target, decision, device_id, now=None):
    """The JoinEvent row for one Join."""
    return {
        "student": target.student_id,
        "appointment": target.appointment_id,
        "tutor": target.tutor_id,
        "center": target.center_id,
        "destination": decision.destination,
        "meeting_id": decision.meeting_id,
        "reason": decision.reason,
        "device_id": device_id,
        "created_at": now or utcnow(),
    }


def write_rows(rows):
    """Insert JoinEvent rows in one transaction (retried once or twice if SQLite is busy)."""

    def write():
        with write_tx():
            for row in rows:
                _INSERT_EVENT.execute(**row)

    retry_locked(write)


def record(target, decision, device_id, now=None, writer=None):
    """Record one Join: queued on the writer when given, else written now."""
    row = event_row(target, decision, device_id, now)
    if writer is not None:
        writer.put(row)
    else:
        write_rows([row])


class EventWriter:
    """Batches JoinEvent INSERTs on a background thread (see the module docstring)."""

    def __init__(self, interval=0.02, limit=10_000, batch=500):
        self.interval = interval
        self.limit = limit
        self.batch = batch
        self.dropped = 0
        self._queue = queue.SimpleQueue()
        self._pending = 0
        self._done = threading.Condition()
        self._thread = None
        self._pid = None
        self._atexit = False

    def put(self, row):
        """Queue one row; never blocks the request on the database."""
        with self._done:
            if self._pending >= self.limit:
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("JoinEvent queue full: %d rows dropped so far", self.dropped)
                return
            self._pending += 1
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._start()
        self._queue.put(row)

    def _start(self):
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="join-events", daemon=True)
        self._thread.start()
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True

    def _run(self):
        try:
            while True:
                row = self._queue.get()
                if row is None:
                    break
                time.sleep(self.interval)  # let the batch grow under load
                rows, stop = [row], False
                while len(rows) < self.batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    rows.append(more)
                self._write(rows)
                if stop:
                    break
        finally:
            if not database.is_closed():
                database.close()

    def _write(self, rows):
        try:
            database.connect(reuse_if_open=True)
            write_rows(rows)
        except Exception:  # noqa: BLE001 - the writer must outlive a database hiccup
            log.exception("could not write %d JoinEvents", len(rows))
            if not database.is_closed():
                database.close()
        finally:
            with self._done:
                self._pending -= len(rows)
                self._done.notify_all()

    def flush(self, timeout=5.0):
        """Wait until every row queued so far is written; False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self._pending <= 0, timeout)

    def stop(self, timeout=5.0):
        """Write what is queued and end the thread (atexit calls this)."""
        thread = self._thread
        if thread is not None and self._pid == os.getpid() and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)


def events(center_id, start, end, tutor_id=None, limit=500):
    """JoinEvents of a center (or one tutor) in [start, end), newest first, with names."""
    Student = User.alias("student")
    Tutor = User.alias("tutor")
    query = (
        JoinEvent.select(JoinEvent, Student, Tutor)
        .join(Student, on=(JoinEvent.student == Student.id))
        .switch(JoinEvent)
        .join(Tutor, JOIN.LEFT_OUTER, on=(JoinEvent.tutor == Tutor.id))
        .where(JoinEvent.created_at >= start, JoinEvent.created_at < end)
        .order_by(JoinEvent.created_at.desc(), JoinEvent.id.desc())
        .limit(limit)
    )
    if center_id is not None:
        query = query.where(JoinEvent.center == center_id)
    if tutor_id is not None:
        query = query.where(JoinEvent.tutor == tutor_id)
    return query
