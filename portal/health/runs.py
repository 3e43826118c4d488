"""Running a scan: one at a time, in the background, with its progress in the database.

``start(app, user, centers)`` inserts a ``HealthScan`` row whose UNIQUE ``lock`` is
'active' (a second request while one is queued or running gets that one back) and
hands it to the runner chosen by ``HEALTH_SCAN_RUNNER``:

- ``"thread"`` (the default in debug, so ``make run`` needs no worker): a daemon
  thread in this process, with its own database connection;
- ``"huey"`` (the default otherwise): the ``run_health_scan`` task of ``make
  worker`` (with ``HUEY_IMMEDIATE`` it runs at once, as in tests);
- ``"inline"``: right here, before returning (tests, the CLI).

No web worker waits for Zoom either way. A row whose heartbeat stopped for
``STALE`` (its process died) is marked failed, which frees the lock.
"""

import datetime
import logging
import threading

from peewee import IntegrityError

from ..db import database, retry_locked, write_tx
from ..models import HealthScan, utcnow
from . import scanner

log = logging.getLogger("portal.health")

STALE = datetime.timedelta(minutes=10)
RUNNERS = ("thread", "huey", "inline")


class ScanBusy(Exception):
    """Another scan holds the lock; ``scan`` is that one."""

    def __init__(self, scan):
        super().__init__(f"health scan {scan.id} is {scan.status}")
        self.scan = scan


def active():
    """The queued or running scan, or None."""
    return HealthScan.get_or_none(HealthScan.lock == "active")


def expire_stale(now=None):
    """Fail scans whose process stopped reporting; returns how many."""
    now = now or utcnow()
    cutoff = now - STALE
    return retry_locked(
        lambda: (
            HealthScan.update(
                status="failed", lock=None, finished_at=now, error="interrupted (no progress)"
            )
            .where(
                HealthScan.lock == "active",
                ((HealthScan.heartbeat_at.is_null()) & (HealthScan.created_at < cutoff))
                | (HealthScan.heartbeat_at < cutoff),
            )
            .execute()
        )
    )


def claim(user=None, centers=None, trigger="manual"):
    """Insert the one active scan row, or raise ScanBusy with the one already active."""
    expire_stale()
    now = utcnow()
    try:
        with write_tx():
            return HealthScan.create(
                status="queued",
                lock="active",
                trigger=trigger,
                requested_by=getattr(user, "id", user),
                centers=sorted(centers) if centers is not None else None,
                created_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        busy = active()
        if busy is None:  # finished in between: try once more
            return claim(user, centers, trigger)
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
        scan = claim(user, centers, trigger)
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
        from ..jobs import huey_for

        huey_for(app).portal_tasks["run_health_scan"](scan.id)
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


def execute(app, scan_id):
    """Run the scan of this row to the end, recording the outcome; returns the Report."""
    scan = HealthScan.get_or_none(HealthScan.id == scan_id, HealthScan.lock == "active")
    if scan is None:
        return None
    try:
        report = scanner.run_scan(app, scan=scan, centers=scan.centers)
    except Exception as exc:
        log.exception("health scan %s failed", scan_id)
        _finish(scan_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    _finish(
        scan_id,
        status="done",
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
    scan = claim(user, centers, trigger)
    report = execute(app, scan.id)
    return HealthScan.get_by_id(scan.id), report


def _finish(scan_id, **fields):
    now = utcnow()
    fields.update(lock=None, finished_at=now, heartbeat_at=now)
    retry_locked(lambda: HealthScan.update(**fields).where(HealthScan.id == scan_id).execute())


def visible(scan, centers):
    """True if an admin of ``centers`` (None = every center) may see this scan."""
    if centers is None or scan.centers is None:
        return True
    return bool(set(scan.centers) & set(centers))


def last_finished(centers=None):
    """The newest finished scan this admin may see (its time is the "last scan")."""
    for scan in HealthScan.finished().limit(20):
        if visible(scan, centers):
            return scan
    return None
