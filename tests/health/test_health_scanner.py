"""The scanner: Zoom calls run concurrently on a bounded pool, within each account's rate limit."""

import threading
import time

import pytest
from support import make_user
from support.health import connect, health_config, opened, scan, sim_state

from portal.health import scanner
from portal.health.ratelimit import TokenBucket
from portal.models import ZoomConnection


@pytest.fixture
def app_config(app_config):
    return health_config(app_config, HEALTH_SCAN_CONCURRENCY=8)


def _tutors(app, world, count, account=None):
    """``count`` tutors in Center A, each connected to their own simulated Zoom user."""
    state = sim_state(app)
    tutors = []
    for n in range(count):
        key = f"scan{n}"
        fields = {"account_id": account} if account else {}
        state.add_user(key, f"{key}@zoom.example", "Scan", str(n), **fields)
        tutor = make_user(f"{key}@x.edu", "tutor", [world["a"]], name=f"Scan {n}")
        connect(app, tutor, key)
        tutors.append(tutor)
    return tutors


def test_calls_run_concurrently_on_a_bounded_pool(app, world):
    _tutors(app, world, 8)
    state = sim_state(app)
    state.set_latency(0.15)
    inside, peak, lock = [0], [0], threading.Lock()
    original = scanner.zoomcheck.check

    def counting(*args, **kwargs):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    scanner.zoomcheck.check = counting
    try:
        app.config["HEALTH_SCAN_CONCURRENCY"] = 4
        started = time.monotonic()
        report = scan(app)
        elapsed = time.monotonic() - started
    finally:
        scanner.zoomcheck.check = original
        state.set_latency(0)
    assert report.tutors == 8 and report.calls == 24 and report.checked == 8
    assert peak[0] == 4  # bounded: never more workers than configured
    assert elapsed < 24 * 0.15 / 2  # far below a sequential scan (3.6 s)
    assert opened() == []


def test_one_accounts_rate_limit_is_respected(app, world):
    _tutors(app, world, 3, account="shared-account")
    app.config.update(HEALTH_ZOOM_RATE=10, HEALTH_ZOOM_BURST=1)
    stamps, lock = [], threading.Lock()
    original = scanner.GatedSession.request

    def stamped(self, method, url, *args, **kwargs):
        response = original(self, method, url, *args, **kwargs)
        if "/v2/" in url:
            with lock:
                stamps.append(time.monotonic())
        return response

    scanner.GatedSession.request = stamped
    try:
        report = scan(app)
    finally:
        scanner.GatedSession.request = original
    assert report.calls == 9
    stamps.sort()
    assert stamps[-1] - stamps[0] >= 0.7  # 9 calls at 10/s with no burst: at least 0.8 s apart


def test_a_429_pauses_the_account_then_the_scan_goes_on(app, world):
    _tutors(app, world, 1)
    sim_state(app).fail_next(count=1, status=429)
    bucket = TokenBucket(1000, 1000)
    report = scan(app, bucket=bucket)
    assert bucket.pauses == 1 and report.checked == 1 and opened() == []


def test_a_daily_limit_is_could_not_check_without_waiting(app, world):
    (tutor,) = _tutors(app, world, 1)
    bucket = TokenBucket(1000, 1000, max_wait=5)
    account = ZoomConnection.get().account_id
    bucket.pause(account, 6 * 3600)
    started = time.monotonic()
    report = scan(app, bucket=bucket)
    assert time.monotonic() - started < 5 and report.unchecked == 1
    (finding,) = opened("could_not_check")
    assert finding.tutor_id == tutor.id and "rate limit" in finding.detail


def test_zoom_never_called_for_tutors_without_a_working_connection(app, world):
    (tutor,) = _tutors(app, world, 1)
    ZoomConnection.update(status="revoked").execute()
    report = scan(app)
    assert report.tutors == 0 and report.calls == 0
    assert {f.check for f in opened()} == {"connection_broken"}
    assert tutor.id == opened()[0].tutor_id
