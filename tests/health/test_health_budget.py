"""The Zoom rate budget shared through Redis: several buckets, threads and processes draw from
one bucket per Zoom account; a 429 seen by one pauses the others; without Redis each process
keeps its own."""

import json
import logging
import os
import subprocess
import sys
import threading
import time

import pytest
from support import make_user
from support.health import FakeClock, connect, health_config, opened, scan, sim_state
from support.shared_redis import REDIS_TEST_URL, delete_prefix, prefix, require_redis

from portal.health import ratelimit
from portal.health.ratelimit import (
    AccountPaused,
    RedisTokenBucket,
    TokenBucket,
    bucket_for,
    redis_client,
)


@pytest.fixture
def app_config(app_config):
    return health_config(app_config)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNREACHABLE = "redis://127.0.0.1:1/0"


@pytest.fixture
def shared():
    """``make(rate, burst, **kw)`` → a new RedisTokenBucket (own client) under this test's keys."""
    client = require_redis()
    key_prefix = prefix()
    made = []

    def make(rate, burst, **kwargs):
        bucket = RedisTokenBucket(
            redis_client(REDIS_TEST_URL), rate, burst, prefix=key_prefix, **kwargs
        )
        made.append(bucket)
        return bucket

    make.prefix = key_prefix
    make.client = client
    yield make
    for bucket in made:
        bucket.client.close()
    delete_prefix(client, key_prefix)
    client.close()


def most_in_one_second(stamps):
    """The most grants inside any window of one second (sliding)."""
    stamps = sorted(stamps)
    most, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def drain(bucket, account, until, stamps, lock):
    while time.time() < until:
        bucket.acquire(account)
        with lock:
            stamps.append(time.time())


def test_two_buckets_share_one_budget_per_account(shared):
    rate = 20
    a, b = shared(rate, 1), shared(rate, 1)
    stamps, lock = [], threading.Lock()
    until = time.time() + 2.0
    threads = [
        threading.Thread(target=drain, args=(bucket, "acct-1", until, stamps, lock))
        for bucket in (a, a, b, b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # A bucket each would grant 2 x 20 per second; one shared bucket grants 20 (+1 saved, +1
    # for a grant stamped late on the client side).
    assert most_in_one_second(stamps) <= rate + 2
    assert len(stamps) >= rate  # and it did grant: both drew from it
    assert a.waited > 0 and b.waited > 0


def test_accounts_have_their_own_budget(shared):
    a, b = shared(0.5, 2), shared(0.5, 2)
    slept = []
    b.sleep = slept.append  # a wait would be recorded, and B would spin instead of sleeping
    a.acquire("acct-1")
    a.acquire("acct-1")
    b.acquire("acct-2")
    b.acquire("acct-2")
    assert slept == []
    b.sleep = time.sleep
    b.acquire("acct-1")  # A took acct-1's two saved tokens: B waits for the next
    assert 0.5 < b.waited <= 2.01  # two seconds at 0.5/s, less the time since A's calls


PROCESS = """
import json, sys, time
from portal.health.ratelimit import RedisTokenBucket, redis_client
bucket = RedisTokenBucket(redis_client(sys.argv[1]), 10, 1, prefix=sys.argv[2])
print("ready", flush=True)
start, until = map(float, sys.stdin.readline().split())
while time.time() < start:
    time.sleep(0.005)
stamps = []
while time.time() < until:
    bucket.acquire("acct-proc")
    stamps.append(time.time())
print(json.dumps(stamps), flush=True)
"""


def test_two_processes_share_one_budget(shared):
    rate = 10
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS, REDIS_TEST_URL, shared.prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        start = time.time() + 0.2
        for proc in procs:
            proc.stdin.write(f"{start} {start + 2.0}\n")
            proc.stdin.flush()
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(results), "both processes were granted tokens"
    stamps = [s for result in results for s in result]
    assert most_in_one_second(stamps) <= rate + 2


def test_a_429_reported_by_one_pauses_the_other(shared):
    a, b = shared(100, 10, max_wait=5), shared(100, 10, max_wait=5)
    a.pause("acct-1", 3600)  # a daily limit seen by A
    assert b.paused_for("acct-1") == pytest.approx(3600, abs=2)
    with pytest.raises(AccountPaused) as info:
        b.acquire("acct-1")
    assert "resets in" in str(info.value)
    with pytest.raises(AccountPaused):
        b.acquire("acct-1")
    assert shared.client.ttl(b.key("acct-1")) > 3600  # asking again keeps the pause stored
    b.acquire("acct-2")  # other accounts go on
    assert b.paused_for("acct-2") == 0

    a.pause("acct-3", 2.0)  # a short pause: B waits for it, then goes on
    b.acquire("acct-3")
    assert b.waited >= 1.0
    assert a.pauses == 2 and b.pauses == 0


def test_without_redis_the_bucket_falls_back_and_warns_once(caplog):
    clock = FakeClock()
    local = TokenBucket(rate=5, burst=1, clock=clock, sleep=clock.sleep)
    bucket = RedisTokenBucket(redis_client(UNREACHABLE), 5, 1, fallback=local)
    with caplog.at_level(logging.WARNING, logger="portal.health"):
        for _ in range(3):
            bucket.acquire("acct-1")  # no exception: the per-process budget answers
        bucket.pause("acct-1", 2.0)
        assert bucket.paused_for("acct-1") == pytest.approx(2.0, abs=0.01)
    assert clock.slept == pytest.approx([0.2, 0.2])  # the local bucket kept the rate
    warnings = [r for r in caplog.records if "Redis did not answer" in r.getMessage()]
    assert len(warnings) == 1
    assert "127.0.0.1:1" not in caplog.text  # the URL (it may hold a password) is not logged
    assert bucket.shared is False


def test_the_shared_budget_comes_back_when_redis_answers(shared, monkeypatch):
    bucket = shared(100, 10)
    real = bucket._acquire
    calls = []

    def broken(**kwargs):
        calls.append("redis")
        raise ratelimit.redis.ConnectionError("down")

    bucket._acquire = broken
    bucket.acquire("acct-1")
    bucket.acquire("acct-1")
    assert calls == ["redis"]  # asked once, then the fallback for a while
    now = [bucket.clock()]
    monkeypatch.setattr(bucket, "clock", lambda: now[0] + ratelimit.RETRY_REDIS_SECONDS + 1)
    bucket._acquire = real
    bucket.acquire("acct-1")
    assert bucket.shared is True
    assert shared.client.exists(bucket.key("acct-1"))


def test_bucket_for_chooses_one_budget_per_process(app):
    app.config.update(REDIS_URL="", HUEY_REDIS_URL="")
    local = bucket_for(app)
    assert type(local) is TokenBucket
    assert bucket_for(app) is local  # every scan and batch of the process shares it
    app.config["HUEY_REDIS_URL"] = "redis://127.0.0.1:6379/9"
    queue_redis = bucket_for(app)
    assert isinstance(queue_redis, RedisTokenBucket)
    assert queue_redis.client.connection_pool.connection_kwargs["db"] == 9
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/8"  # REDIS_URL wins
    assert bucket_for(app).client.connection_pool.connection_kwargs["db"] == 8
    app.config["HEALTH_ZOOM_RATE"] = 3
    assert bucket_for(app).rate == 3.0


def _tutors(app, world, count, account):
    state = sim_state(app)
    tutors = []
    for n in range(count):
        key = f"budget{n}"
        state.add_user(key, f"{key}@zoom.example", "Budget", str(n), account_id=account)
        tutor = make_user(f"{key}@x.edu", "tutor", [world["a"]], name=f"Budget {n}")
        connect(app, tutor, key)
        tutors.append(tutor)
    return tutors


@pytest.mark.parametrize("redis_setting", ["REDIS_URL", "HUEY_REDIS_URL"])
def test_a_scan_draws_from_the_shared_budget(app, world, redis_setting):
    client = require_redis()
    key_prefix = prefix()
    app.config.update({redis_setting: REDIS_TEST_URL, "REDIS_KEY_PREFIX": key_prefix})
    app.config.update(HEALTH_ZOOM_RATE=0.01, HEALTH_ZOOM_BURST=100)  # next to no refill
    try:
        _tutors(app, world, 2, "budget-account")
        report = scan(app)
        assert report.checked == 2 and opened() == []
        key = f"{key_prefix}zoom-budget:budget-account"
        tokens = float(client.hget(key, "tokens"))
        assert tokens == pytest.approx(100 - report.calls, abs=0.5)  # taken from Redis
    finally:
        delete_prefix(client, key_prefix)
        client.close()


def test_a_scan_with_redis_down_still_checks_every_tutor(app, world, caplog):
    app.config["REDIS_URL"] = UNREACHABLE
    _tutors(app, world, 2, "budget-account")
    with caplog.at_level(logging.WARNING, logger="portal.health"):
        report = scan(app)
    assert report.checked == 2 and report.unchecked == 0 and opened() == []
    assert sum("Redis did not answer" in r.getMessage() for r in caplog.records) == 1
