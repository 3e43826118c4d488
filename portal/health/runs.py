"""Running a scan: one at a time, in the background, with its progress in the database.

``start(app, user, centers)`` inserts a ``HealthScan`` row whose UNIQUE ``lock`` is
'active' (a second request while one is queued or running gets that one back) and
hands it to the runner chosen by ``HEALTH_SCAN_RUNNER``:

- ``"thread"`` (the default in debug, so ``make run`` needs no worker): a daemon
  thread in this process, with its own database connection;
- ``"huey"`` (the default otherwise): the ``run_health_scan`` task of ``make
  worker`` (with ``HUEY_IMMEDIATE`` it runs at once, as in tests);
- ``"inline"``: right here, before returning (tests, the CLI).

No web worker waits for Zoom either way.

The lock is a lease: while a scan runs, a ``Heartbeat`` thread (its own database
connection) renews ``heartbeat_at`` every ``HEALTH_SCAN_HEARTBEAT_SECONDS`` (15),
whatever phase the scan is in. A running scan whose lease was not renewed for
``HEALTH_SCAN_LEASE_SECONDS`` (60: its process died) is marked failed by the next
claim, which frees the lock, so a crash blocks scans for about a minute. A queued
scan waits up to ``QUEUE_GRACE`` for a worker. A scan that finds its lease gone
(it was taken over while stalled) stops and writes nothing more.

Spread over job consumers (the ``huey`` runner, the schedule, ``health-scan --spread``):
``execute_spread`` splits the scan's tutors into ``HealthScanBatch`` rows of
``HEALTH_SCAN_BATCH_SIZE`` (50) and queues one ``run_health_scan_batch`` task each, so N
consumers ask Zoom about N batches at once. The scan keeps its one lock (two scans never
run at once, of the same center or any other). Each batch has its own lease: whoever
takes it bumps its ``attempt``, renews its ``heartbeat_at`` (and the scan's) from a
``Heartbeat`` thread and writes progress and its result only while ``attempt`` is still
its own. The batch that finds every batch done claims the conclusion (``finishing_at``,
set once) and runs the database checks, the finding lifecycle and the snapshot over all
the batches' results; only then is the scan ``done``. ``sweep`` (every minute, and after
each batch) re-queues a running batch whose lease lapsed (its consumer died) and a queued
batch no consumer took within ``QUEUE_GRACE``; after ``MAX_BATCH_ATTEMPTS`` takers the
scan fails. A spread scan counts as stale only when none of its unfinished batches showed
a sign of life for ``QUEUE_GRACE``. Without a consumer (``thread`` and ``inline``
runners, the CLI) the scan runs in one process as before.
"""

import dataclasses
import datetime
import logging
import threading
import time

from peewee import IntegrityError, OperationalError, fn

from ..db import database, retry_locked, write_tx
from ..enqueue import enqueue
from ..models import HealthScan, HealthScanBatch, utcnow
from . import scanner, zoomcheck
from .observations import Observation

log = logging.getLogger("portal.health")

LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 15.0
QUEUE_GRACE = datetime.timedelta(minutes=5)  # a queued scan waiting behind other jobs
RUNNERS = ("thread", "huey", "inline")
BATCH_SIZE = 50  # tutors per batch of a spread scan (HEALTH_SCAN_BATCH_SIZE)
MAX_BATCH_ATTEMPTS = 3  # takers of one batch before the scan is given up


class ScanBusy(Exception):
    """Another scan holds the lock; ``scan`` is that one."""

    def __init__(self, scan):
        super().__init__(f"health scan {scan.id} is {scan.status}")
        self.scan = scan


def active():
    """The queued or running scan, or None."""
    return HealthScan.get_or_none(HealthScan.lock == HealthScan.LOCKED)


def lease_seconds(app):
    """How long a running scan's lease lasts without a heartbeat."""
    return float(app.config.get("HEALTH_SCAN_LEASE_SECONDS") or LEASE_SECONDS)


def expire_stale(now=None, lease=LEASE_SECONDS):
    """Fail scans whose lease lapsed (their process died); returns how many.

    A spread scan is kept while one of its unfinished batches was queued or renewed
    within ``QUEUE_GRACE``: its batches wait for a consumer, or ``sweep`` re-queues them.
    """
    now = now or utcnow()
    running_cutoff = now - datetime.timedelta(seconds=lease)
    queued_cutoff = now - QUEUE_GRACE
    last_sign = fn.COALESCE(HealthScan.heartbeat_at, HealthScan.created_at)
    lapsed = (
        HealthScan.lock == HealthScan.LOCKED,
        ((HealthScan.status != HealthScan.QUEUED) & (last_sign < running_cutoff))
        | ((HealthScan.status == HealthScan.QUEUED) & (last_sign < queued_cutoff)),
    )
    candidates = [row.id for row in HealthScan.select(HealthScan.id).where(*lapsed)]
    if not candidates:
        return 0
    waiting = {
        row.scan_id
        for row in HealthScanBatch.select(HealthScanBatch.scan).where(
            HealthScanBatch.scan.in_(candidates),
            HealthScanBatch.status.in_([HealthScanBatch.QUEUED, HealthScanBatch.RUNNING]),
            (HealthScanBatch.queued_at >= queued_cutoff)
            | (HealthScanBatch.heartbeat_at >= queued_cutoff),
        )
    }
    stale = [scan_id for scan_id in candidates if scan_id not in waiting]
    if not stale:
        return 0
    return retry_locked(
        lambda: (
            HealthScan.update(
                status=HealthScan.FAILED,
                lock=None,
                finished_at=now,
                error="interrupted (no progress)",
            )
            .where(HealthScan.id.in_(stale), *lapsed)
            .execute()
        )
    )


def renew(scan_id):
    """Extend a scan's lease; False when it is no longer the active scan (taken over)."""
    updated = HealthScan.update(heartbeat_at=utcnow()).where(
        HealthScan.id == scan_id, HealthScan.lock == HealthScan.LOCKED
    )
    return retry_locked(updated.execute) == 1


class Heartbeat:
    """Renew a scan's lease from a thread of its own until the scan ends.

    ``alive()`` turns False once the lease was lost (another process took over).
    """

    def __init__(self, scan_id, every=HEARTBEAT_SECONDS, renew_lease=None, name=None):
        self.scan_id = scan_id
        self.every = every
        self._renew = renew_lease or (lambda: renew(scan_id))
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=name or f"health-lease-{scan_id}", daemon=True
        )

    def alive(self):
        return not self._lost.is_set()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                with database.connection_context():
                    renewed = self._renew()
            except OperationalError as exc:  # busy: the next beat tries again
                log.warning("health scan %s: lease not renewed (%s)", self.scan_id, exc)
                continue
            if not renewed:
                self._lost.set()
                return


def claim(user=None, centers=None, trigger="manual", lease=LEASE_SECONDS):
    """Insert the one active scan row, or raise ScanBusy with the one already active."""
    expire_stale(lease=lease)
    now = utcnow()
    try:
        with write_tx():
            return HealthScan.create(
                status=HealthScan.QUEUED,
                lock=HealthScan.LOCKED,
                trigger=trigger,
                requested_by=getattr(user, "id", user),
                centers=sorted(centers) if centers is not None else None,
                created_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        busy = active()
        if busy is None:  # finished in between: try once more
            return claim(user, centers, trigger, lease)
        raise ScanBusy(busy) from None


def runner(app):
    """The configured runner (see the module docstring)."""
    name = app.config.get("HEALTH_SCAN_RUNNER") or ("thread" if app.debug else "huey")
    if name not in RUNNERS:
        raise ValueError(f"HEALTH_SCAN_RUNNER must be one of {', '.join(RUNNERS)}")
    return name


def start(app, user=None, centers=None, trigger="manual"):
    """Start a scan in the background; returns (scan row, True) or (the active one, False)."""
    try:
        scan = claim(user, centers, trigger, lease_seconds(app))
    except ScanBusy as busy:
        return busy.scan, False
    how = runner(app)
    if how == "inline":
        execute(app, scan.id)
    elif how == "thread":
        threading.Thread(
            target=_in_thread, args=(app, scan.id), name=f"health-scan-{scan.id}", daemon=True
        ).start()
    else:
        enqueue(app, "run_health_scan", scan.id)  # the consumer spreads it (execute_spread)
    return HealthScan.get_by_id(scan.id), True


def _in_thread(app, scan_id):
    with app.app_context():
        database.connect(reuse_if_open=True)
        try:
            execute(app, scan_id)
        except Exception:  # noqa: BLE001 - already logged and recorded on the scan row
            pass
        finally:
            if not database.is_closed():
                database.close()


def _pick_up(scan_id):
    """Take the queued row (only one executor ever does), starting its lease."""
    now = utcnow()
    taken = HealthScan.update(status=HealthScan.RUNNING, started_at=now, heartbeat_at=now).where(
        HealthScan.id == scan_id,
        HealthScan.lock == HealthScan.LOCKED,
        HealthScan.status == HealthScan.QUEUED,
    )
    return retry_locked(taken.execute) == 1


def execute(app, scan_id):
    """Run the scan of this row to the end, recording the outcome; returns the Report."""
    if not _pick_up(scan_id):
        return None
    scan = HealthScan.get_by_id(scan_id)
    return _run_leased(
        app,
        scan_id,
        lambda alive: scanner.run_scan(app, scan=scan, centers=scan.centers, alive=alive),
    )


def _run_leased(app, scan_id, work):
    """Run ``work(alive)`` under the scan's heartbeat and record how it ended: done with
    its Report, failed with the error, or nothing when another process took the lease."""
    try:
        with Heartbeat(scan_id, _heartbeat_every(app)) as beat:
            report = work(beat.alive)
    except scanner.ScanTakenOver:
        log.warning("health scan %s lost its lease to another scan and stopped", scan_id)
        return None
    except Exception as exc:
        log.exception("health scan %s failed", scan_id)
        _finish(scan_id, status=HealthScan.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    _finish(
        scan_id,
        status=HealthScan.DONE,
        total=report.tutors,
        done=report.tutors,
        calls=report.calls,
        unchecked=report.unchecked,
        opened=report.opened,
        refreshed=report.refreshed,
        resolved=report.resolved,
    )
    return report


def run_now(app, user=None, centers=None, trigger="cli"):
    """Claim and run a scan here (CLI, schedule); returns (scan row, Report)."""
    scan = claim(user, centers, trigger, lease_seconds(app))
    report = execute(app, scan.id)
    return HealthScan.get_by_id(scan.id), report


def _finish(scan_id, **fields):
    now = utcnow()
    fields.update(lock=None, finished_at=now, heartbeat_at=now)
    retry_locked(
        lambda: (
            HealthScan.update(**fields)
            .where(
                HealthScan.id == scan_id, HealthScan.lock == HealthScan.LOCKED
            )  # not if taken over
            .execute()
        )
    )


def visible(scan, centers):
    """True if an admin of ``centers`` (None = every center) may see that this scan runs."""
    if centers is None or scan.centers is None:
        return True
    return bool(set(scan.centers) & set(centers))


def progress_visible(scan, centers):
    """True if the scan's figures (tutors, calls, findings) are all about ``centers``."""
    if centers is None:
        return True
    return scan.centers is not None and set(scan.centers) <= set(centers)


def last_finished(centers=None):
    """The newest finished scan this admin may see (its time is the "last scan")."""
    for scan in HealthScan.finished().limit(20):
        if visible(scan, centers):
            return scan
    return None


# --- spread over job consumers ------------------------------------------------------------


def batch_size(app):
    """Tutors per batch of a spread scan."""
    return max(1, int(app.config.get("HEALTH_SCAN_BATCH_SIZE") or BATCH_SIZE))


def _heartbeat_every(app):
    return float(app.config.get("HEALTH_SCAN_HEARTBEAT_SECONDS") or HEARTBEAT_SECONDS)


def start_spread(app, user=None, centers=None, trigger="cli"):
    """Claim a scan and queue it for the job consumers; returns the scan row.

    Raises ScanBusy with the active scan. ``wait(scan_id)`` (or polling the row until
    ``lock`` is NULL) tells when it is done.
    """
    scan = claim(user, centers, trigger, lease_seconds(app))
    try:
        enqueue(app, "run_health_scan", scan.id)
    except Exception as exc:
        # Nobody will ever take it: free the lock now rather than after QUEUE_GRACE.
        _finish(scan.id, status=HealthScan.FAILED, error=f"not queued ({type(exc).__name__})")
        raise
    return HealthScan.get_by_id(scan.id)


def wait(scan_id, timeout=3600.0, poll=0.5):
    """Poll a scan's row until it is no longer queued or running; returns the row."""
    deadline = time.monotonic() + timeout
    while True:
        row = HealthScan.get_by_id(scan_id)
        if row.lock is None or time.monotonic() >= deadline:
            return row
        time.sleep(poll)


def execute_spread(app, scan_id):
    """Split the queued scan into batches and queue them (``run_health_scan``).

    Returns the ids of the batches queued (``[]`` when the scan had no tutor to ask
    Zoom about and was concluded at once), or None when another executor took the scan.
    """
    if not _pick_up(scan_id):
        return None
    scan = HealthScan.get_by_id(scan_id)
    try:
        tutors = scanner.scope_for(scan.centers)
        ids = [t.tutor_id for t in zoomcheck.targets(tutors, scan.started_at)]
        size = batch_size(app)
        chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
        now = utcnow()

        def plan():
            with write_tx():
                if chunks:
                    HealthScanBatch.insert_many(
                        [
                            {
                                "scan": scan_id,
                                "number": number,
                                "tutor_ids": chunk,
                                "status": HealthScanBatch.QUEUED,
                                "queued_at": now,
                            }
                            for number, chunk in enumerate(chunks, start=1)
                        ]
                    ).execute()
                HealthScan.update(total=len(ids), batches=len(chunks), heartbeat_at=now).where(
                    HealthScan.id == scan_id, HealthScan.lock == HealthScan.LOCKED
                ).execute()

        retry_locked(plan)
    except Exception as exc:
        log.exception("health scan %s could not be split into batches", scan_id)
        _finish(scan_id, status=HealthScan.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    batch_ids = [
        row.id
        for row in HealthScanBatch.select(HealthScanBatch.id)
        .where(HealthScanBatch.scan == scan_id)
        .order_by(HealthScanBatch.number)
    ]
    if not batch_ids:
        if _claim_conclusion(scan_id):
            conclude_spread(app, scan_id)
        return []
    for batch_id in batch_ids:
        # A lost enqueue is not fatal: the sweep queues a batch nobody took in QUEUE_GRACE.
        enqueue(app, "run_health_scan_batch", batch_id, tolerate=True)
    return batch_ids


def _take_batch(batch_id):
    """Take a queued batch of a live scan (only one taker wins); returns its attempt or None."""
    now = utcnow()
    live = HealthScan.select(HealthScan.id).where(HealthScan.lock == HealthScan.LOCKED)
    row = HealthScanBatch.get_or_none(HealthScanBatch.id == batch_id)
    if row is None or row.status != HealthScanBatch.QUEUED:
        return None
    taken = HealthScanBatch.update(
        status=HealthScanBatch.RUNNING,
        attempt=HealthScanBatch.attempt + 1,
        heartbeat_at=now,
    ).where(
        HealthScanBatch.id == batch_id,
        HealthScanBatch.status == HealthScanBatch.QUEUED,
        HealthScanBatch.attempt == row.attempt,
        HealthScanBatch.scan.in_(live),
    )
    if retry_locked(taken.execute) != 1:
        return None
    return row.attempt + 1


def _mine(batch_id, attempt):
    return (
        HealthScanBatch.id == batch_id,
        HealthScanBatch.attempt == attempt,
        HealthScanBatch.status == HealthScanBatch.RUNNING,
    )


def _renew_batch(batch_id, attempt, scan_id):
    """Extend the batch's lease and its scan's; False once either was lost."""
    now = utcnow()
    mine = HealthScanBatch.update(heartbeat_at=now).where(*_mine(batch_id, attempt))
    if retry_locked(mine.execute) != 1:
        return False
    return renew(scan_id)


def _batch_progress(batch_id, attempt, scan_id, done, calls):
    """This batch's figures, then the scan's (the sums over its batches) for the dashboard."""
    now = utcnow()

    def write():
        mine = HealthScanBatch.update(done=done, calls=calls, heartbeat_at=now).where(
            *_mine(batch_id, attempt)
        )
        if mine.execute() != 1:
            return
        _scan_progress(scan_id, now)

    retry_locked(write)


def _scan_progress(scan_id, now=None):
    of_scan = HealthScanBatch.scan == scan_id
    HealthScan.update(
        done=HealthScanBatch.select(fn.COALESCE(fn.SUM(HealthScanBatch.done), 0)).where(of_scan),
        calls=HealthScanBatch.select(fn.COALESCE(fn.SUM(HealthScanBatch.calls), 0)).where(of_scan),
        heartbeat_at=now or utcnow(),
    ).where(HealthScan.id == scan_id, HealthScan.lock == HealthScan.LOCKED).execute()


def execute_batch(app, batch_id, *, sleep=time.sleep, bucket=None):
    """Ask Zoom about one batch's tutors (``run_health_scan_batch``); the last one concludes.

    Returns the batch's Report, or None when the batch was not this caller's to run (taken
    by another consumer, done already, its scan ended) or it lost its lease on the way.
    """
    attempt = _take_batch(batch_id)
    if attempt is None:
        return None
    batch = HealthScanBatch.get_by_id(batch_id)
    scan_id = batch.scan_id
    scan = HealthScan.get_by_id(scan_id)

    def progress(done, calls):
        _batch_progress(batch_id, attempt, scan_id, done, calls)

    try:
        with Heartbeat(
            scan_id,
            _heartbeat_every(app),
            renew_lease=lambda: _renew_batch(batch_id, attempt, scan_id),
            name=f"health-batch-{batch_id}",
        ) as beat:
            report, observations, unchecked = scanner.scan_batch(
                app,
                batch.tutor_ids,
                now=scan.started_at,
                progress=progress,
                alive=beat.alive,
                sleep=sleep,
                bucket=bucket,
            )
    except scanner.ScanTakenOver:
        log.warning("health scan %s: batch %s lost its lease and stopped", scan_id, batch_id)
        return None
    except Exception:
        log.exception("health scan %s: batch %s failed", scan_id, batch_id)
        _give_back(app, batch_id, attempt)
        return None
    result = {
        "tutors": report.tutors,
        "checked": report.checked,
        "unchecked": report.unchecked,
        "calls": report.calls,
        "observations": [dataclasses.asdict(o) for o in observations],
        "unchecked_pairs": sorted([check, tutor_id] for check, tutor_id in unchecked),
    }
    now = utcnow()

    def save():
        with write_tx():
            saved = (
                HealthScanBatch.update(
                    status=HealthScanBatch.DONE,
                    result=result,
                    tutors=report.tutors,
                    done=report.tutors,
                    calls=report.calls,
                    heartbeat_at=now,
                    finished_at=now,
                )
                .where(*_mine(batch_id, attempt))
                .execute()
            )
            if saved:
                _scan_progress(scan_id, now)
            return saved

    if retry_locked(save) != 1:
        log.warning(
            "health scan %s: batch %s was taken over; its result is dropped", scan_id, batch_id
        )
        return None
    if _claim_conclusion(scan_id):
        conclude_spread(app, scan_id)
    else:
        sweep(app, scan_id=scan_id)
    return report


def _give_back(app, batch_id, attempt):
    """After an unexpected error: queue the batch again, or fail the scan after the last try."""
    row = HealthScanBatch.get_by_id(batch_id)
    if attempt >= MAX_BATCH_ATTEMPTS:
        _fail_batch(row, attempt)
        return
    back = HealthScanBatch.update(status=HealthScanBatch.QUEUED, queued_at=utcnow()).where(
        *_mine(batch_id, attempt)
    )
    if retry_locked(back.execute) == 1:
        enqueue(app, "run_health_scan_batch", batch_id, tolerate=True)


def _fail_batch(row, attempt):
    failed = HealthScanBatch.update(status=HealthScanBatch.FAILED, finished_at=utcnow()).where(
        *_mine(row.id, attempt)
    )
    if retry_locked(failed.execute) == 1:
        _finish(
            row.scan_id,
            status=HealthScan.FAILED,
            error=f"batch {row.number} of tutors was interrupted {attempt} times",
        )


def _claim_conclusion(scan_id):
    """True for the one caller that may conclude the scan: every batch is done."""
    now = utcnow()
    pending = HealthScanBatch.select(HealthScanBatch.id).where(
        HealthScanBatch.scan == scan_id, HealthScanBatch.status != HealthScanBatch.DONE
    )
    claim_it = HealthScan.update(finishing_at=now, heartbeat_at=now).where(
        HealthScan.id == scan_id,
        HealthScan.lock == HealthScan.LOCKED,
        HealthScan.finishing_at.is_null(),
        ~fn.EXISTS(pending),
    )
    return retry_locked(claim_it.execute) == 1


def _observation(data):
    data = dict(data)
    if data.get("subject") is not None:
        data["subject"] = tuple(data["subject"])
    return Observation(**data)


def conclude_spread(app, scan_id):
    """Every batch is done: database checks, lifecycle and snapshot; the scan is then done."""
    scan = HealthScan.get_by_id(scan_id)
    rows = list(
        HealthScanBatch.select()
        .where(HealthScanBatch.scan == scan_id)
        .order_by(HealthScanBatch.number)
    )
    report = scanner.Report()
    observations, unchecked = [], set()
    for row in rows:
        result = row.result or {}
        report.tutors += result.get("tutors", 0)
        report.checked += result.get("checked", 0)
        report.unchecked += result.get("unchecked", 0)
        report.calls += result.get("calls", 0)
        observations.extend(_observation(o) for o in result.get("observations", ()))
        unchecked.update((check, tutor_id) for check, tutor_id in result.get("unchecked_pairs", ()))
    return _run_leased(
        app,
        scan_id,
        lambda alive: scanner.conclude(
            app,
            report,
            observations,
            unchecked,
            scan=scan,
            centers=scan.centers,
            now=scan.started_at,
            alive=alive,
        ),
    )


def sweep(app, scan_id=None, now=None):
    """Re-queue batches whose consumer died or whose task was lost; returns their ids.

    A running batch whose lease lapsed goes back to the queue (after ``MAX_BATCH_ATTEMPTS``
    takers its scan fails); a queued batch nobody took within ``QUEUE_GRACE`` is queued
    again (a second task for it is harmless: only one taker wins).
    """
    now = now or utcnow()
    lapsed_cutoff = now - datetime.timedelta(seconds=lease_seconds(app))
    live = HealthScan.select(HealthScan.id).where(HealthScan.lock == HealthScan.LOCKED)
    scope = [HealthScanBatch.scan.in_(live)]
    if scan_id is not None:
        scope.append(HealthScanBatch.scan == scan_id)
    lapsed = list(
        HealthScanBatch.select().where(
            HealthScanBatch.status == HealthScanBatch.RUNNING,
            HealthScanBatch.heartbeat_at < lapsed_cutoff,
            *scope,
        )
    )
    lost = list(
        HealthScanBatch.select().where(
            HealthScanBatch.status == HealthScanBatch.QUEUED,
            HealthScanBatch.queued_at < now - QUEUE_GRACE,
            *scope,
        )
    )
    again = []
    for row in lapsed:
        if row.attempt >= MAX_BATCH_ATTEMPTS:
            _fail_batch(row, row.attempt)
            continue
        back = HealthScanBatch.update(status=HealthScanBatch.QUEUED, queued_at=now).where(
            *_mine(row.id, row.attempt)
        )
        if retry_locked(back.execute) == 1:
            log.warning(
                "health scan %s: batch %s lost its consumer; queued again", row.scan_id, row.id
            )
            again.append(row.id)
    for row in lost:
        bump = HealthScanBatch.update(queued_at=now).where(
            HealthScanBatch.id == row.id,
            HealthScanBatch.status == HealthScanBatch.QUEUED,
            HealthScanBatch.attempt == row.attempt,
        )
        if retry_locked(bump.execute) == 1:
            again.append(row.id)
    for batch_id in again:
        enqueue(app, "run_health_scan_batch", batch_id, tolerate=True)
    return again
