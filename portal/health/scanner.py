"""A health scan: every check, for every tutor in scope, then the finding lifecycle.

1. Zoom (``zoomcheck``): the tutors with a working connection are handed to a
   bounded pool of ``HEALTH_SCAN_CONCURRENCY`` worker threads; each call goes
   through the per-account budget of ``ratelimit.bucket_for`` (``HEALTH_ZOOM_RATE``
   calls/s per Zoom account, shared by every process through Redis when one is
   configured; a 429 pauses that account until Zoom's reset). Workers hold their own
   database connection and only read; the scan's thread writes the refreshed
   profile fields afterwards, in one transaction.
2. Database: each database check is one SQL query over the scope.
3. Lifecycle (``findings.apply``): open new, refresh seen, resolve gone, except
   where Zoom could not be asked. 4. A readiness snapshot per center.

Progress (tutors done, calls) goes to the ``HealthScan`` row every half second,
which is what the dashboard polls. ``alive`` (the lease's heartbeat, ``runs``) is
asked between phases and while Zoom is being asked: once it says the scan was taken
over, no more tutors are started and ``ScanTakenOver`` ends the scan unwritten.

Spread over job consumers (``runs.execute_spread``), step 1 runs per batch of tutors
(``scan_batch``, which also writes the batch's profiles) and steps 2-4 run once, in
``conclude``, over every batch's observations; ``run_scan`` is both in one process.
"""

import datetime
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from peewee import JOIN, Case, fn

from ..db import database, retry_locked, write_tx
from ..models import (
    Center,
    Finding,
    HealthScan,
    HealthSnapshot,
    Membership,
    User,
    ZoomConnection,
    utcnow,
)
from ..zoom.wiring import gateway
from . import findings, zoomcheck
from .checks import BY_NAME, DATABASE, could_not_check, session_mismatch
from .checks._common import Context
from .ratelimit import GatedSession, bucket_for

log = logging.getLogger("portal.health")

DEFAULTS = {
    "HEALTH_SCAN_CONCURRENCY": 8,
    "HEALTH_ZOOM_RATE": 10.0,  # calls per second per Zoom account (Pro "Medium" is 20/s)
    "HEALTH_ZOOM_BURST": 10,
    "HEALTH_RECHECK_SECONDS": 2.0,
    "HEALTH_RECENT_HOURS": 24,
    "HEALTH_MAX_PAUSE_SECONDS": 30.0,
}


class ScanTakenOver(Exception):
    """The scan's lease lapsed and another scan took over: stop without writing."""


def _still_ours(alive):
    if alive is not None and not alive():
        raise ScanTakenOver()


def setting(app, name):
    """A health setting from the app config, or its default."""
    value = app.config.get(name)
    return DEFAULTS[name] if value is None else value


@dataclass
class Report:
    """What a scan did, for the CLI, the progress row and the benchmark."""

    tutors: int = 0
    checked: int = 0
    unchecked: int = 0
    calls: int = 0
    opened: int = 0
    refreshed: int = 0
    resolved: int = 0
    open_by_check: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)


def scope_for(centers=None, tutor_ids=None):
    """A query of the tutor ids in scope, or None for everyone."""
    if tutor_ids is not None:
        return User.select(User.id).where(User.id.in_(list(tutor_ids)))
    if centers is not None:
        return Membership.select(Membership.user).where(Membership.center.in_(list(centers)))
    return None


def http_for(app, bucket, account):
    """A gated requests.Session for one tutor's calls (the simulator mounted when in use)."""
    zoom = gateway(app)
    return zoom.mount(GatedSession(bucket, account, zoom.settings.api_base_url))


def ask_zoom(app, targets, *, progress=None, sleep=time.sleep, bucket=None, alive=None):
    """Run ``zoomcheck.check`` for every target on the bounded pool; returns the outcomes."""
    concurrency = max(1, int(setting(app, "HEALTH_SCAN_CONCURRENCY")))
    bucket = bucket or bucket_for(app)
    settings = gateway(app).settings
    recheck = float(setting(app, "HEALTH_RECHECK_SECONDS"))
    work = queue.Queue()
    for target in targets:
        work.put(target)
    outcomes, lock = [], threading.Lock()
    workers = min(concurrency, len(targets))
    finished = threading.Semaphore(0)

    def worker():
        database.connect(reuse_if_open=True)
        try:
            while True:
                try:
                    target = work.get_nowait()
                except queue.Empty:
                    return
                outcome = _one(app, bucket, settings, target, recheck, sleep)
                with lock:
                    outcomes.append(outcome)
        finally:
            if not database.is_closed():
                database.close()
            finished.release()

    for i in range(workers):
        threading.Thread(target=worker, name=f"health-{i}", daemon=True).start()
    remaining = workers
    while remaining:
        if finished.acquire(timeout=0.5):
            remaining -= 1
        if progress is not None:
            with lock:
                done, calls = len(outcomes), sum(o.calls for o in outcomes)
            progress(done, calls)
        if alive is not None and not alive():
            _drain(work)  # taken over: the workers stop after their current tutor
    return outcomes


def _drain(work):
    while True:
        try:
            work.get_nowait()
        except queue.Empty:
            return


def _one(app, bucket, settings, target, recheck, sleep):
    """One tutor's Zoom calls on a gated session; an unexpected error is "could not check"."""
    http = http_for(app, bucket, target.account)
    try:
        return zoomcheck.check(target, settings, http, recheck, sleep)
    except Exception as exc:  # noqa: BLE001 - one tutor must not stop the scan
        log.exception("health check of tutor %s failed", target.tutor_id)
        return zoomcheck.Outcome(target, reasons=(f"an error ({type(exc).__name__})",))
    finally:
        http.close()


def run_scan(
    app,
    *,
    scan=None,
    centers=None,
    tutor_ids=None,
    now=None,
    bucket=None,
    snapshot=None,
    sleep=time.sleep,
    alive=None,
):
    """Run every check in scope and apply the finding lifecycle; returns a Report."""
    app = getattr(app, "_get_current_object", lambda: app)()  # worker threads need the app
    now = now or utcnow()
    report = Report()
    tutors = scope_for(centers, tutor_ids)
    started = time.perf_counter()
    targets = zoomcheck.targets(tutors, now)
    report.tutors = len(targets)
    if scan is not None:
        _progress_row(scan, total=len(targets), status=HealthScan.RUNNING, started_at=utcnow())

    def progress(done, calls):
        if scan is not None:
            _progress_row(scan, done=done, calls=calls)

    outcomes = (
        ask_zoom(app, targets, progress=progress, bucket=bucket, sleep=sleep, alive=alive)
        if targets
        else []
    )
    _still_ours(alive)
    report.timings["zoom"] = time.perf_counter() - started
    report.calls = sum(o.calls for o in outcomes)

    observations, unchecked = _zoom_findings(outcomes, report)
    _save_profiles(outcomes)
    return conclude(
        app,
        report,
        observations,
        unchecked,
        scan=scan,
        centers=centers,
        tutor_ids=tutor_ids,
        now=now,
        snapshot=snapshot,
        alive=alive,
        started=started,
    )


def scan_batch(app, tutor_ids, *, now, progress=None, bucket=None, sleep=time.sleep, alive=None):
    """The Zoom part of a scan for one batch of tutors (``runs.execute_batch``).

    Asks Zoom about those of ``tutor_ids`` that still have a working connection and writes
    their refreshed profiles; returns (Report, observations, unchecked pairs) for
    ``conclude``, which runs once every batch of the scan is done.
    """
    app = getattr(app, "_get_current_object", lambda: app)()
    report = Report()
    started = time.perf_counter()
    targets = zoomcheck.targets(scope_for(tutor_ids=tutor_ids), now)
    report.tutors = len(targets)
    outcomes = (
        ask_zoom(app, targets, progress=progress, bucket=bucket, sleep=sleep, alive=alive)
        if targets
        else []
    )
    _still_ours(alive)
    report.calls = sum(o.calls for o in outcomes)
    observations, unchecked = _zoom_findings(outcomes, report)
    _save_profiles(outcomes)
    report.timings["zoom"] = time.perf_counter() - started
    return report, observations, unchecked


def conclude(
    app,
    report,
    observations,
    unchecked,
    *,
    scan=None,
    centers=None,
    tutor_ids=None,
    now,
    snapshot=None,
    alive=None,
    started=None,
):
    """After Zoom was asked: the database checks, the finding lifecycle, the snapshot."""
    started = time.perf_counter() if started is None else started
    tutors = scope_for(centers, tutor_ids)
    for tutor_id in _broken(tutors):
        unchecked.add((session_mismatch.NAME, tutor_id))

    t0 = time.perf_counter()
    ctx = Context(
        now=now, tutors=tutors, recent=datetime.timedelta(hours=setting(app, "HEALTH_RECENT_HOURS"))
    )
    ran = [session_mismatch.NAME, could_not_check.NAME]
    for module in DATABASE:
        if hasattr(module, "available") and not module.available():
            report.skipped.append(module.NAME)
            continue
        observations.extend(module.run(ctx))
        ran.append(module.NAME)
    report.timings["database_checks"] = time.perf_counter() - t0

    _still_ours(alive)
    t0 = time.perf_counter()
    applied = findings.apply(
        observations,
        ran,
        tutors=tutors,
        unchecked=unchecked,
        keep=lambda check, evidence: (
            check == session_mismatch.NAME and session_mismatch.keep(evidence)
        ),
        now=now,
        resolutions={name: BY_NAME[name].RESOLVED for name in ran},
    )
    report.timings["lifecycle"] = time.perf_counter() - t0
    report.opened, report.refreshed, report.resolved = (
        applied.opened,
        applied.refreshed,
        applied.resolved,
    )
    for obs in observations:
        report.open_by_check[obs.check] = report.open_by_check.get(obs.check, 0) + 1

    if snapshot is None:
        snapshot = scan is not None and tutor_ids is None
    if snapshot:
        _still_ours(alive)
        t0 = time.perf_counter()
        take_snapshot(scan, centers)
        report.timings["snapshot"] = time.perf_counter() - t0
    report.timings["total"] = time.perf_counter() - started
    return report


def _zoom_findings(outcomes, report):
    """Observations (mismatches, could-not-check) and the pairs left unchecked."""
    observations, unchecked = [], set()
    for outcome in outcomes:
        target = outcome.target
        if outcome.broken:
            unchecked.add((session_mismatch.NAME, target.tutor_id))
            continue
        if outcome.reasons:
            report.unchecked += 1
            observations.append(could_not_check.observation(target, "; ".join(outcome.reasons)))
            if outcome.verdict is None:
                unchecked.add((session_mismatch.NAME, target.tutor_id))
        else:
            report.checked += 1
        if outcome.verdict is not None:
            found = session_mismatch.observation(target, outcome.verdict)
            if found is not None:
                observations.append(found)
    return observations, unchecked


def _save_profiles(outcomes):
    """Write the refreshed profile fields Zoom returned (only rows that changed)."""
    changes = [
        (o.target.connection_id, zoomcheck.profile_changes(o.target, o.profile))
        for o in outcomes
        if o.profile
    ]
    changes = [(conn_id, fields) for conn_id, fields in changes if fields]
    if not changes:
        return

    def write():
        with write_tx():
            for conn_id, fields in changes:
                ZoomConnection.update(**fields, updated_at=utcnow()).where(
                    ZoomConnection.id == conn_id, ZoomConnection.is_current()
                ).execute()

    retry_locked(write)


def _broken(tutors):
    """Tutors (in scope) whose current connection is not usable: their sessions are unknown."""
    query = ZoomConnection.select(ZoomConnection.tutor).where(ZoomConnection.is_broken())
    if tutors is not None:
        query = query.where(ZoomConnection.tutor.in_(tutors))
    return [row[0] for row in query.tuples()]


def readiness(centers=None):
    """Per Virtual Meetings center: (center id, tutors, ready tutors, open findings).

    Ready = active tutor with a working Zoom connection and no open critical finding.
    """
    critical = Finding.select(Finding.id).where(
        Finding.tutor == User.id, Finding.is_open(), Finding.severity == "critical"
    )
    ready = Case(None, [(ZoomConnection.id.is_null(False) & ~fn.EXISTS(critical), User.id)], None)
    query = (
        Membership.select(
            Membership.center, fn.COUNT(fn.DISTINCT(User.id)), fn.COUNT(fn.DISTINCT(ready))
        )
        .join(User, on=(Membership.user == User.id))
        .switch(Membership)
        .join(Center, on=(Membership.center == Center.id))
        .join(
            ZoomConnection,
            JOIN.LEFT_OUTER,
            on=((ZoomConnection.tutor == User.id) & ZoomConnection.is_usable()),
        )
        .where(
            User.is_active_tutor(),
            Center.is_virtual(),
        )
        .group_by(Membership.center)
    )
    opened = Finding.select(Finding.center, fn.COUNT(Finding.id)).where(
        Finding.is_open(), Finding.center.is_null(False)
    )
    if centers is not None:
        query = query.where(Membership.center.in_(list(centers)))
        opened = opened.where(Finding.center.in_(list(centers)))
    counts = dict(opened.group_by(Finding.center).tuples())
    return [(c, total, ok, counts.get(c, 0)) for c, total, ok in query.tuples()]


def take_snapshot(scan, centers=None):
    """Store each center's readiness for the dashboard's "12 of 14 tutors ready" line."""
    rows = readiness(centers)
    if scan is None or not rows:
        return rows
    now = utcnow()
    retry_locked(
        lambda: HealthSnapshot.insert_many(
            [
                {
                    "scan": scan.id,
                    "center": c,
                    "tutors": t,
                    "ready": r,
                    "open_findings": o,
                    "created_at": now,
                }
                for c, t, r, o in rows
            ]
        ).execute()
    )
    return rows


def _progress_row(scan, **fields):
    fields["heartbeat_at"] = utcnow()
    retry_locked(
        lambda: (
            HealthScan.update(**fields)
            .where(
                HealthScan.id == scan.id, HealthScan.lock == HealthScan.LOCKED
            )  # not once taken over
            .execute()
        )
    )
