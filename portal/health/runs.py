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
"""

import datetime
import logging
import threading

from peewee import IntegrityError, OperationalError, fn

from ..db import database, retry_locked, write_tx
from ..enqueue import enqueue
from ..models import HealthScan, utcnow
from . import scanner

log = logging.getLogger("portal.health")

LEASE_SECONDS = 60.0
HEARTBEAT_SECONDS = 15.0
QUEUE_GRACE = datetime.timedelta(minutes=5)  # a queued scan waiting behind other jobs
RUNNERS = ("thread", "huey", "inline")


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
    """Fail scans whose lease lapsed (their process died); returns how many."""
    now = now or utcnow()
    running_cutoff = now - datetime.timedelta(seconds=lease)
    queued_cutoff = now - QUEUE_GRACE
    last_sign = fn.COALESCE(HealthScan.heartbeat_at, HealthScan.created_at)
    return retry_locked(
        lambda: (
            HealthScan.update(
                status=HealthScan.FAILED,
                lock=None,
                finished_at=now,
                error="interrupted (no progress)",
            )
            .where(
                HealthScan.lock == HealthScan.LOCKED,
                ((HealthScan.status != HealthScan.QUEUED) & (last_sign < running_cutoff))
                | ((HealthScan.status == HealthScan.QUEUED) & (last_sign < queued_cutoff)),
            )
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

    def __init__(self, scan_id, every=HEARTBEAT_SECONDS):
        self.scan_id = scan_id
        self.every = every
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"health-lease-{scan_id}", daemon=True
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
                    renewed = renew(self.scan_id)
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
        enqueue(app, "run_health_scan", scan.id)
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
    every = float(app.config.get("HEALTH_SCAN_HEARTBEAT_SECONDS") or HEARTBEAT_SECONDS)
    try:
        with Heartbeat(scan_id, every) as beat:
            report = scanner.run_scan(app, scan=scan, centers=scan.centers, alive=beat.alive)
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
