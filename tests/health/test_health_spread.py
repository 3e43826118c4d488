"""A health scan spread over job consumers in batches of tutors: the same findings as one
process's scan, one conclusion once every batch is done, and a batch whose consumer died
taken over by the next sweep."""

import datetime

import pytest
from support import make_user
from support.health import connect, health_config, opened, scan, sim_state

from portal.health import runs
from portal.models import (
    Finding,
    HealthScan,
    HealthScanBatch,
    HealthSnapshot,
    User,
    ZoomConnection,
    utcnow,
)


@pytest.fixture
def app_config(app_config):
    config = health_config(
        app_config,
        HEALTH_SCAN_RUNNER="huey",
        HUEY_IMMEDIATE=True,
        HEALTH_SCAN_BATCH_SIZE=2,
        HEALTH_SCAN_LEASE_SECONDS=5,
    )
    # Two scans back to back within one second would meet the free account's 2 calls/s
    # at the simulator, and its retried 429 would make the call counts differ.
    config["ZOOM_SIM_OPTIONS"] = {**config["ZOOM_SIM_OPTIONS"], "rate_limits": False}
    return config


def _center_with_problems(app, world):
    """Seven connected tutors in Center A, four of them with something a scan finds."""
    state = sim_state(app)
    kinds = {
        "fine1": {},
        "fine2": {},
        "fine3": {},
        "free": {"type": 1},  # a Basic (free) Zoom account
        "social": {"login_types": [1]},  # signs in to Zoom with Google
        "gone": {},  # its Daily Session is deleted in Zoom behind the portal's back
        "stale": {},  # its Connect Link still points at Zoom
    }
    tutors = {}
    for key, fields in kinds.items():
        state.add_user(key, f"{key}@zoom.example", "Spread", key.title(), **fields)
        tutor = make_user(f"{key}@x.edu", "tutor", [world["a"]], name=f"Spread {key.title()}")
        connect(app, tutor, key)
        tutors[key] = tutor
    for meeting in state.meetings_of("gone"):
        state.zoom_delete_meeting(meeting.id, notify=False)
    User.update(connect_link="https://zoom.us/j/81234567890").where(
        User.id == tutors["stale"].id
    ).execute()
    make_user("unconnected@x.edu", "tutor", [world["a"]], name="Spread Unconnected")
    return tutors


def _open_findings():
    return sorted((f.check, f.key, f.severity, f.tutor_id, f.center_id, f.detail) for f in opened())


def _forget_findings():
    Finding.delete().execute()
    HealthSnapshot.delete().execute()


def test_a_spread_scan_finds_what_one_process_finds(app, world):
    _center_with_problems(app, world)
    single = scan(app)
    expected = _open_findings()
    checks = {row[0] for row in expected}
    assert {"free_account", "social_login", "session_mismatch", "stale_connect_link"} <= checks
    _forget_findings()

    row, started = runs.start(app, world["admin_a"], None)  # huey runner, immediate mode
    assert started
    done = HealthScan.get_by_id(row.id)
    assert done.status == "done" and done.lock is None and done.error is None
    assert done.batches == 4  # 7 tutors asked of Zoom, 2 per batch
    assert _open_findings() == expected
    assert (done.total, done.done, done.calls, done.unchecked) == (
        single.tutors,
        single.tutors,
        single.calls,
        single.unchecked,
    )
    assert done.opened == single.opened == len(expected)
    batches = list(HealthScanBatch.select().where(HealthScanBatch.scan == row.id))
    assert sorted(b.number for b in batches) == [1, 2, 3, 4]
    assert all(b.status == "done" and b.attempt == 1 for b in batches)
    assert sum(len(b.tutor_ids) for b in batches) == 7
    assert sum(b.calls for b in batches) == done.calls
    (snapshot,) = HealthSnapshot.select().where(HealthSnapshot.scan == row.id)
    assert (snapshot.center_id, snapshot.tutors) == (world["a"].id, 9)  # tutor_a + 8 above


def test_a_second_spread_scan_refreshes_instead_of_duplicating(app, world):
    _center_with_problems(app, world)
    first, _ = runs.start(app)
    second, _ = runs.start(app)
    first, second = HealthScan.get_by_id(first.id), HealthScan.get_by_id(second.id)
    assert first.opened > 0 and second.opened == 0 and second.refreshed == first.opened
    assert Finding.select().count() == first.opened


def test_a_scan_of_one_center_spreads_only_its_tutors(app, world):
    _center_with_problems(app, world)
    connect(app, world["tutor_b"], "licensed")  # Center B: out of scope
    row, _ = runs.start(app, world["admin_a"], [world["a"].id])
    done = HealthScan.get_by_id(row.id)
    assert done.status == "done" and done.total == 7
    in_batches = {t for b in HealthScanBatch.select() for t in b.tutor_ids}
    assert world["tutor_b"].id not in in_batches


def test_a_scan_with_nobody_to_ask_zoom_about_concludes_at_once(app, world):
    connect(app, world["tutor_a"], "licensed")
    ZoomConnection.update(status="revoked").execute()  # Zoom is not asked; the database is
    row, _ = runs.start(app)
    done = HealthScan.get_by_id(row.id)
    assert done.status == "done" and done.batches == 0 and done.total == 0
    assert {f.check for f in opened()} == {"connection_broken"}


@pytest.fixture
def queue(monkeypatch):
    """Batches are queued, not run: a list of (task, args) the test hands out itself."""
    queued = []
    monkeypatch.setattr(runs, "enqueue", lambda app, task, *args, **kw: queued.append(args[0]))
    return queued


def test_a_batch_whose_consumer_died_is_taken_over_and_the_scan_completes(app, world, queue):
    _center_with_problems(app, world)
    single = scan(app)
    expected = _open_findings()
    _forget_findings()

    scan_row = runs.claim(trigger="schedule", lease=5)
    batch_ids = runs.execute_spread(app, scan_row.id)
    assert queue == batch_ids and len(batch_ids) == 4
    first, *others = batch_ids
    # A consumer takes the first batch and dies with it (no heartbeat any more).
    dead_attempt = runs._take_batch(first)
    assert dead_attempt == 1
    for batch_id in others:
        assert runs.execute_batch(app, batch_id) is not None
    running = HealthScan.get_by_id(scan_row.id)
    assert running.status == "running" and running.lock == "active"
    assert running.finishing_at is None  # one batch is not done: nobody concludes yet
    assert running.done == single.tutors - 2  # progress counts the finished batches

    # Not yet lapsed: the sweep leaves it alone (its consumer may only be slow).
    assert runs.sweep(app) == []
    later = utcnow() + datetime.timedelta(seconds=6)
    assert runs.sweep(app, now=later) == [first]
    assert queue[-1] == first
    # The dead taker can no longer renew or write: its lease is gone.
    assert runs._renew_batch(first, dead_attempt, scan_row.id) is False
    # ...and a new scan still waits for this one: its batch is queued again, not stale.
    with pytest.raises(runs.ScanBusy):
        runs.claim(lease=5)

    assert runs.execute_batch(app, first) is not None  # the next consumer takes it over
    done = HealthScan.get_by_id(scan_row.id)
    assert done.status == "done" and done.lock is None
    assert HealthScanBatch.get_by_id(first).attempt == 2
    assert _open_findings() == expected
    assert (done.total, done.calls) == (single.tutors, single.calls)


def test_a_batch_runs_once_however_often_it_is_queued(app, world, queue):
    _center_with_problems(app, world)
    scan_row = runs.claim(lease=5)
    first, *others = runs.execute_spread(app, scan_row.id)
    assert runs.execute_batch(app, first) is not None
    assert runs.execute_batch(app, first) is None  # a duplicate task: already done
    calls = HealthScan.get_by_id(scan_row.id).calls
    for batch_id in others:
        runs.execute_batch(app, batch_id)
    assert runs.execute_batch(app, others[0]) is None
    done = HealthScan.get_by_id(scan_row.id)
    assert done.status == "done" and done.calls >= calls
    assert HealthScanBatch.select().where(HealthScanBatch.attempt != 1).count() == 0


def test_a_batch_lost_by_the_queue_is_queued_again_after_the_grace(app, world, queue):
    _center_with_problems(app, world)
    scan_row = runs.claim(lease=5)
    batch_ids = runs.execute_spread(app, scan_row.id)
    queue.clear()
    assert runs.sweep(app) == []
    later = utcnow() + runs.QUEUE_GRACE + datetime.timedelta(seconds=1)
    assert sorted(runs.sweep(app, now=later)) == sorted(batch_ids)
    assert sorted(queue) == sorted(batch_ids)


def test_a_batch_that_keeps_dying_fails_the_scan(app, world, queue):
    _center_with_problems(app, world)
    scan_row = runs.claim(lease=5)
    first = runs.execute_spread(app, scan_row.id)[0]
    for _ in range(runs.MAX_BATCH_ATTEMPTS):
        assert runs._take_batch(first) is not None
        runs.sweep(app, now=utcnow() + datetime.timedelta(seconds=6))
    failed = HealthScan.get_by_id(scan_row.id)
    assert failed.status == "failed" and failed.lock is None
    assert "interrupted 3 times" in failed.error
    assert HealthScanBatch.get_by_id(first).status == "failed"
    assert runs.claim(lease=5).id != scan_row.id  # the next scan may start


def test_a_spread_scan_whose_consumers_all_died_expires_after_the_grace(app, world, queue):
    _center_with_problems(app, world)
    scan_row = runs.claim(lease=5)
    runs.execute_spread(app, scan_row.id)
    soon = utcnow() + datetime.timedelta(seconds=30)
    assert runs.expire_stale(now=soon, lease=5) == 0  # its batches wait for a consumer
    late = utcnow() + runs.QUEUE_GRACE + datetime.timedelta(seconds=30)
    assert runs.expire_stale(now=late, lease=5) == 1
    assert HealthScan.get_by_id(scan_row.id).status == "failed"


def test_a_batch_of_tutors_who_disconnected_meanwhile_is_simply_smaller(app, world, queue):
    tutors = _center_with_problems(app, world)
    scan_row = runs.claim(lease=5)
    batch_ids = runs.execute_spread(app, scan_row.id)
    ZoomConnection.update(status="revoked").where(
        ZoomConnection.tutor == tutors["fine1"].id
    ).execute()
    for batch_id in batch_ids:
        runs.execute_batch(app, batch_id)
    done = HealthScan.get_by_id(scan_row.id)
    assert done.status == "done" and done.total == 6
    assert "connection_broken" in {f.check for f in opened(tutor=tutors["fine1"])}
