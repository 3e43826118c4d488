"""The health-scan lock is a heartbeat-renewed lease (issue 15, item 8).

A scan's process that dies frees the lock one lease later (60 s by default, not
10 minutes); a live scan keeps it however long it runs; a scan that lost its lease
stops without writing; center admins see figures only of their own centers' scans.
"""

import datetime
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.health import connect, health_config
from support.zoom import sim_state

from portal.health import runs
from portal.models import Finding, HealthScan, utcnow

ROOT = Path(__file__).resolve().parents[2]
LEASE = 1.5

# A scan process: claims and executes a scan whose work never ends, as a long scan
# would, with the real lease and heartbeat; the test SIGKILLs it.
SCAN_PROCESS = """
import sys, time
from portal import create_app
from portal.health import runs, scanner

app = create_app({
    "TESTING": True, "SECRET_KEY": "x" * 40, "DATABASE_URL": sys.argv[1],
    "ZOOM_SIMULATOR": False, "HEALTH_SCAN_LEASE_SECONDS": LEASE,
    "HEALTH_SCAN_HEARTBEAT_SECONDS": LEASE / 5,
})
scanner.run_scan = lambda *a, **k: time.sleep(600)
with app.app_context():
    scan = runs.claim(trigger="schedule", lease=LEASE)
    print(scan.id, flush=True)
    runs.execute(app, scan.id)
""".replace("LEASE", repr(LEASE))


@pytest.fixture
def app_config(app_config):
    return health_config(
        app_config, HEALTH_SCAN_LEASE_SECONDS=LEASE, HEALTH_SCAN_HEARTBEAT_SECONDS=LEASE / 5
    )


def wait_for(predicate, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_killed_scan_frees_the_lock_one_lease_later(app, database_url):
    process = subprocess.Popen(
        [sys.executable, "-c", SCAN_PROCESS, database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        scan_id = int(process.stdout.readline())
        started = HealthScan.get_by_id(scan_id).created_at
        # alive: the heartbeat keeps renewing it well past one lease
        lease = datetime.timedelta(seconds=LEASE)
        assert wait_for(lambda: HealthScan.get_by_id(scan_id).heartbeat_at > started + 2 * lease)
        with pytest.raises(runs.ScanBusy):
            runs.claim(lease=LEASE)
        assert HealthScan.get_by_id(scan_id).status == "running"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()
    last_beat = HealthScan.get_by_id(scan_id).heartbeat_at
    # dead: still held until its lease runs out, then the next claim takes over
    half = datetime.timedelta(seconds=0.5)
    assert runs.expire_stale(now=last_beat + lease - half, lease=LEASE) == 0
    assert runs.expire_stale(now=last_beat + lease + half, lease=LEASE) == 1
    dead = HealthScan.get_by_id(scan_id)
    assert dead.status == "failed" and dead.lock is None and "interrupted" in dead.error
    assert runs.claim(lease=LEASE).id != scan_id


def test_the_default_lease_is_about_a_minute(app):
    app.config.pop("HEALTH_SCAN_LEASE_SECONDS")
    busy = runs.claim()
    HealthScan.update(status="running", heartbeat_at=utcnow()).execute()  # as execute() does
    now = utcnow()
    assert runs.expire_stale(now=now + datetime.timedelta(seconds=45)) == 0
    assert runs.expire_stale(now=now + datetime.timedelta(seconds=75)) == 1
    assert runs.start(app)[0].id != busy.id  # the next scan starts at once


def test_a_scan_that_lost_its_lease_stops_and_writes_nothing(app, world):
    connect(app, world["tutor_a"], "licensed")
    app.config["HEALTH_SCAN_CONCURRENCY"] = 1
    sim_state(app).set_latency(0.4)  # each Zoom call is slow: the scan is still asking
    old = runs.claim(lease=LEASE)
    done = {}

    def run():
        with app.app_context():
            from portal.db import database

            database.connect(reuse_if_open=True)
            try:
                done["report"] = runs.execute(app, old.id)
            finally:
                database.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert wait_for(lambda: HealthScan.get_by_id(old.id).status == "running")
    # another process decides the scan is dead (as if it had stalled past its lease)
    runs.expire_stale(now=utcnow() + datetime.timedelta(seconds=LEASE * 2), lease=LEASE)
    newer = runs.claim(lease=LEASE)
    thread.join(timeout=30)
    sim_state(app).set_latency(0)
    assert done == {"report": None}  # it stopped
    gone = HealthScan.get_by_id(old.id)
    assert gone.status == "failed" and gone.lock is None  # and did not overwrite the takeover
    assert HealthScan.get_by_id(newer.id).lock == "active"
    assert gone.snapshots.count() == 0  # it never reached its last phases
    assert Finding.select().count() == 0


# --- who sees which scan's figures ------------------------------------------------------


def test_center_admin_sees_figures_of_own_centers_scans_only(app, auth, login_as, world):
    everyone = runs.claim(None, None, "schedule", lease=LEASE)
    HealthScan.update(status="running", total=10, done=4, heartbeat_at=utcnow()).execute()
    login_as("admin_a")
    html = auth.get(f"/admin/health/scans/{everyone.id}", htmx=True).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html and "Health check running" in html
    assert "4 of 10" not in html and "every center, yours included" in html
    # finished: the "last health check" line has no other centers' figures either
    HealthScan.update(status="done", lock=None, finished_at=utcnow(), calls=77).execute()
    html = auth.get("/admin/health").get_data(as_text=True)
    assert "Last health check:" in html and "77 calls" not in html
    auth.logout()

    login_as("account_admin")
    html = auth.get("/admin/health").get_data(as_text=True)
    assert "(10 tutors checked with Zoom, 77 calls)" in html
    auth.logout()

    own = runs.claim(world["admin_a"], [world["a"].id], lease=LEASE)
    HealthScan.update(status="running", total=3, done=1, heartbeat_at=utcnow()).where(
        HealthScan.id == own.id
    ).execute()
    login_as("admin_a")
    html = auth.get(f"/admin/health/scans/{own.id}", htmx=True).get_data(as_text=True)
    assert "1 of 3 connected tutors checked with Zoom" in html
