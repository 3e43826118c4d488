"""Helpers for the health tests (imported by the other test_health_* modules), and their units:
the per-account token bucket and the CSV cell escaping.
"""

import datetime

import pytest
from zoom_flow import sim_state, simulator_config

from portal import daily
from portal.health import scanner
from portal.health.demo import connect_via_simulator
from portal.health.export import cell
from portal.health.ratelimit import AccountPaused, TokenBucket
from portal.models import Finding
from portal.zoom.wiring import client_for


def health_config(app_config, **extra):
    """A test config with the simulator mounted and scans that run inline, without pauses."""
    config = simulator_config(app_config)
    config.update(
        {
            "HEALTH_SCAN_RUNNER": "inline",
            "HEALTH_RECHECK_SECONDS": 0,
            "HEALTH_SCAN_CONCURRENCY": 4,
            "HEALTH_ZOOM_RATE": 1000,
            "HEALTH_ZOOM_BURST": 1000,
        }
    )
    config.update(extra)
    return config


def no_sleep(_seconds):
    """The Zoom client's backoff, skipped."""


def scan(app, **kwargs):
    """One scan (every tutor unless told otherwise) with the client's retries not sleeping."""
    kwargs.setdefault("sleep", no_sleep)
    return scanner.run_scan(app, **kwargs)


def connect(app, tutor, user_key, session=True):
    """Connect ``tutor`` as simulated ``user_key`` (real OAuth path); prepare today's session."""
    connection = connect_via_simulator(app, tutor, user_key)
    if session:
        daily.ensure_daily_session(tutor, lambda t: client_for(app, t))
    return connection


def today_meeting(tutor):
    return daily.today_session(tutor).zoom_meeting_id


def opened(check=None, tutor=None):
    """Open findings (of one check / one tutor)."""
    query = Finding.open()
    if check is not None:
        query = query.where(Finding.check == check)
    if tutor is not None:
        query = query.where(Finding.tutor == tutor.id)
    return list(query.order_by(Finding.id))


def checks_open(tutor=None):
    return {f.check for f in opened(tutor=tutor)}


__all__ = [
    "checks_open",
    "connect",
    "health_config",
    "opened",
    "scan",
    "sim_state",
    "today_meeting",
]


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_spaces_calls_per_account_but_not_across_accounts():
    clock = FakeClock()
    bucket = TokenBucket(rate=5, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire("acct-a")
    assert clock.slept == pytest.approx([0.2, 0.2])
    bucket.acquire("acct-b")  # another Zoom account has its own budget
    assert len(clock.slept) == 2


def test_a_429_pauses_only_that_account_until_its_reset():
    clock = FakeClock()
    bucket = TokenBucket(rate=100, burst=10, clock=clock, sleep=clock.sleep, max_wait=5)
    bucket.pause("acct-a", 2.0)
    bucket.acquire("acct-b")
    assert clock.slept == []
    bucket.acquire("acct-a")
    assert sum(clock.slept) == pytest.approx(2.0, abs=0.02)
    bucket.pause("acct-a", 3600)  # a daily limit: callers are told at once, nobody waits
    with pytest.raises(AccountPaused) as info:
        bucket.acquire("acct-a")
    assert info.value.reset_at > datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("plain, with comma", "plain, with comma"),
        (None, ""),
        (datetime.datetime(2026, 3, 1, 9, 30), "2026-03-01T09:30:00Z"),
    ],
)
def test_csv_cells_never_start_a_formula(value, expected):
    assert cell(value) == expected


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


def test_connect_helper_goes_through_the_simulator(app, world):
    connection = connect(app, world["tutor_a"], "licensed")
    assert connection.status == "active" and connection.zoom_user_id
    assert sim_state(app).meeting(today_meeting(world["tutor_a"])).topic.startswith("Daily")
