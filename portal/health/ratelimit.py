"""Zoom's rate limits, kept per Zoom account on the portal's side (ZOOM_API §5).

Zoom counts calls per *account* (all of its users and apps together), per second,
and answers 429 when over. The scanner therefore sends every API call through a
``TokenBucket`` keyed by the connection's Zoom account: ``rate`` calls per second
with bursts of ``burst``. A 429 pauses that account (only that one) until Zoom's
reset: ``Retry-After``/the daily reset when Zoom gives one, a second for a
per-second breach. A caller that would have to wait longer than ``max_wait`` gets
``AccountPaused`` at once (recorded as "could not check"), so a daily limit never
holds a worker.

``GatedSession`` is the ``requests.Session`` the scanner's Zoom clients use: it takes
a token before each call to the API base URL and reports 429s to the bucket. OAuth
calls (token refresh) are not API calls and pass straight through.

Several processes (web workers, job consumers on several hosts) share one budget per
account when Redis is configured: ``REDIS_URL``, or else ``HUEY_REDIS_URL``.
``RedisTokenBucket`` keeps each account's bucket in one Redis hash and takes a token
with one Lua script (atomic, on Redis's own clock, so hosts' clocks do not matter); a
429 reported by any process pauses the account for all of them until the reset.
``bucket_for(app)`` is the one place that chooses: the shared bucket when a Redis URL is
set, today's per-process ``TokenBucket`` otherwise, one instance per process.

Redis unreachable: the shared bucket falls back to a per-process bucket with the same
rate, with one warning per outage, and asks Redis again after ``RETRY_REDIS_SECONDS``.
Each process then still keeps to the rate itself and a 429 still pauses its own callers,
so the scan goes on (tutors are checked, not reported "could not check" because a
cache went away); only the sharing across processes is lost until Redis answers again.
"""

import datetime
import logging
import threading
import time

import redis
import requests

from ..models import utcnow
from ..zoom.errors import ZoomRateLimited
from ..zoom.responses import error_from_response

log = logging.getLogger("portal.health")

PER_SECOND_PAUSE = 1.0
RETRY_REDIS_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 1.0
DEFAULT_KEY_PREFIX = "vmp:"


class AccountPaused(ZoomRateLimited):
    """The account is paused by a 429 for longer than the caller may wait."""


class TokenBucket:
    """Tokens per Zoom account: ``rate``/s, at most ``burst`` saved; 429 pauses an account."""

    def __init__(self, rate, burst=None, *, clock=time.monotonic, sleep=time.sleep, max_wait=30.0):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.burst = float(burst or max(1.0, rate))
        self.clock = clock
        self.sleep = sleep
        self.max_wait = max_wait
        self._lock = threading.Lock()
        self._accounts = {}  # account -> [tokens, updated, paused_until]
        self.waited = 0.0
        self.pauses = 0

    def _state(self, account, now):
        state = self._accounts.get(account)
        if state is None:
            state = self._accounts[account] = [self.burst, now, 0.0]
        tokens, updated, _ = state
        state[0] = min(self.burst, tokens + (now - updated) * self.rate)
        state[1] = now
        return state

    def acquire(self, account):
        """Take one token for ``account``, sleeping as needed; AccountPaused if too long."""
        while True:
            with self._lock:
                now = self.clock()
                state = self._state(account, now)
                if state[2] > now:
                    wait = state[2] - now
                    if wait > self.max_wait:
                        raise _paused_error(wait)
                elif state[0] >= 1.0:
                    state[0] -= 1.0
                    return
                else:
                    wait = (1.0 - state[0]) / self.rate
                self.waited += wait
            self.sleep(wait)

    def pause(self, account, seconds):
        """Stop handing out tokens for ``account`` for ``seconds`` (after a 429)."""
        with self._lock:
            now = self.clock()
            state = self._state(account, now)
            state[0] = 0.0
            state[2] = max(state[2], now + max(0.0, seconds))
            self.pauses += 1

    def paused_for(self, account):
        """Seconds until ``account`` may call again (0 when not paused)."""
        with self._lock:
            state = self._accounts.get(account)
            return max(0.0, state[2] - self.clock()) if state else 0.0


def _paused_error(wait):
    return AccountPaused(
        message=f"Zoom's rate limit for this account resets in {int(wait)} s",
        retry_after=wait,
        reset_at=utcnow() + datetime.timedelta(seconds=wait),
    )


# KEYS[1]: the account's hash {tokens, updated, paused_until}; ARGV: rate, burst, ttl.
# Returns {0, 0} when a token was taken, {1, wait_us} when the next one is due in
# wait_us microseconds, {2, wait_us} while the account is paused by a 429.
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'updated', 'paused_until')
local tokens = tonumber(s[1]) or burst
local updated = tonumber(s[2]) or now
local paused = tonumber(s[3]) or 0
if now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
local status, wait = 0, 0
if paused > now then
  status, wait = 2, paused - now
elseif tokens >= 1 then
  tokens = tokens - 1
else
  status, wait = 1, (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
  'updated', string.format('%.6f', updated), 'paused_until', string.format('%.6f', paused))
redis.call('EXPIRE', KEYS[1], math.ceil(ttl + math.max(0, paused - now)))
return {status, math.ceil(wait * 1000000)}
"""

# KEYS[1] as above; ARGV: seconds, ttl. Empties the bucket and pauses it until now+seconds.
PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
paused = math.max(paused, now + seconds)
redis.call('HSET', KEYS[1], 'tokens', '0', 'updated', string.format('%.6f', now),
  'paused_until', string.format('%.6f', paused))
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(ttl, seconds + ttl)))
return 1
"""

# KEYS[1] as above. Microseconds until the account may call again.
PAUSED_FOR = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
return math.max(0, math.ceil((paused - now) * 1000000))
"""


class RedisTokenBucket:
    """``TokenBucket``'s interface, with every account's bucket in Redis (shared by processes).

    ``fallback`` is the per-process bucket used while Redis cannot be reached.
    """

    def __init__(
        self,
        client,
        rate,
        burst=None,
        *,
        prefix=DEFAULT_KEY_PREFIX,
        sleep=time.sleep,
        max_wait=30.0,
        fallback=None,
        clock=time.monotonic,
    ):
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.client = client
        self.rate = float(rate)
        self.burst = float(burst or max(1.0, rate))
        self.prefix = prefix + "zoom-budget:"
        self.sleep = sleep
        self.max_wait = max_wait
        self.clock = clock
        self.fallback = fallback or TokenBucket(rate, burst, sleep=sleep, max_wait=max_wait)
        # Long enough to outlive a full refill; a pause extends it (see PAUSE).
        self.ttl = int(max(60, 2 * self.burst / self.rate + 1))
        self._acquire = client.register_script(ACQUIRE)
        self._pause = client.register_script(PAUSE)
        self._paused_for = client.register_script(PAUSED_FOR)
        self._lock = threading.Lock()
        self._down_until = None  # clock() before which Redis is not asked again
        self.waited = 0.0
        self.pauses = 0

    def key(self, account):
        return f"{self.prefix}{account}"

    @property
    def shared(self):
        """False while the fallback is in use (Redis did not answer)."""
        with self._lock:
            return self._down_until is None or self.clock() >= self._down_until

    def _redis(self, script, keys, args):
        """Run a script; None (and the fallback from now on, for a while) if Redis is down."""
        with self._lock:
            if self._down_until is not None and self.clock() < self._down_until:
                return None
        try:
            result = script(keys=keys, args=args)
        except redis.RedisError as exc:
            with self._lock:
                first = self._down_until is None
                self._down_until = self.clock() + RETRY_REDIS_SECONDS
            if first:
                log.warning(
                    "Zoom rate budget: Redis did not answer (%s); each process keeps its own "
                    "budget until it does",
                    type(exc).__name__,
                )
            return None
        with self._lock:
            if self._down_until is not None:
                self._down_until = None
                log.info("Zoom rate budget: Redis answers again; the budget is shared")
        return result

    def acquire(self, account):
        """Take one token for ``account``, sleeping as needed; AccountPaused if too long."""
        while True:
            result = self._redis(
                self._acquire, [self.key(account)], [self.rate, self.burst, self.ttl]
            )
            if result is None:
                self.fallback.acquire(account)
                return
            status, wait = int(result[0]), int(result[1]) / 1_000_000
            if status == 0:
                return
            if status == 2 and wait > self.max_wait:
                raise _paused_error(wait)
            with self._lock:
                self.waited += wait
            self.sleep(wait)

    def pause(self, account, seconds):
        """Stop handing out tokens for ``account`` for ``seconds``, in every process."""
        seconds = max(0.0, float(seconds))
        self.fallback.pause(account, seconds)  # also holds this process if Redis is down
        self._redis(self._pause, [self.key(account)], [seconds, self.ttl])
        with self._lock:
            self.pauses += 1

    def paused_for(self, account):
        """Seconds until ``account`` may call again (0 when not paused)."""
        result = self._redis(self._paused_for, [self.key(account)], [])
        if result is None:
            return self.fallback.paused_for(account)
        return int(result) / 1_000_000


def redis_url(config):
    """The Redis URL shared state uses: ``REDIS_URL``, else ``HUEY_REDIS_URL``, else ""."""
    return (config.get("REDIS_URL") or config.get("HUEY_REDIS_URL") or "").strip()


def redis_client(url):
    """A Redis client with short timeouts (a slow Redis must not hold Zoom calls)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


def bucket_for(app):
    """The Zoom rate budget of this process: shared through Redis when a URL is set.

    One instance per app and settings, so every scan and batch this process runs at
    once draws from the same budget.
    """
    from .scanner import setting  # the health settings and their defaults

    rate = float(setting(app, "HEALTH_ZOOM_RATE"))
    burst = setting(app, "HEALTH_ZOOM_BURST")
    max_wait = float(setting(app, "HEALTH_MAX_PAUSE_SECONDS"))
    url = redis_url(app.config)
    prefix = app.config.get("REDIS_KEY_PREFIX") or DEFAULT_KEY_PREFIX
    key = (rate, burst, max_wait, url, prefix)
    with _BUCKETS_LOCK:
        cached = app.extensions.get("zoom_budget")
        if cached is not None and cached[0] == key:
            return cached[1]
        local = TokenBucket(rate, burst, max_wait=max_wait)
        if url:
            bucket = RedisTokenBucket(
                redis_client(url), rate, burst, prefix=prefix, max_wait=max_wait, fallback=local
            )
        else:
            bucket = local
        app.extensions["zoom_budget"] = (key, bucket)
        return bucket


_BUCKETS_LOCK = threading.Lock()


class GatedSession(requests.Session):
    """A requests.Session whose Zoom API calls go through ``bucket`` for ``account``."""

    def __init__(self, bucket, account, api_base_url):
        super().__init__()
        self.bucket = bucket
        self.account = account
        self.api_base_url = api_base_url.rstrip("/") + "/"
        self.calls = 0

    def request(self, method, url, *args, **kwargs):
        gated = str(url).startswith(self.api_base_url)
        if gated:
            self.bucket.acquire(self.account)
            self.calls += 1
        response = super().request(method, url, *args, **kwargs)
        if gated and response.status_code == 429:
            error = error_from_response(response, now=utcnow())
            if error.reset_at is not None:
                seconds = (error.reset_at - utcnow()).total_seconds()
            else:
                seconds = error.retry_after or PER_SECOND_PAUSE
            self.bucket.pause(self.account, max(seconds, PER_SECOND_PAUSE))
        return response
