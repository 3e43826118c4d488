"""Units of the health package: the per-account token bucket and the CSV cell escaping,
and the suite's own connect helper."""

import datetime

import pytest
from support.health import FakeClock, connect, health_config, today_meeting
from support.zoom import sim_state

from portal.health.export import cell
from portal.health.ratelimit import AccountPaused, TokenBucket


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
