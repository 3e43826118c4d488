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
"""

import datetime
import threading
import time

import requests

from ..models import utcnow
from ..zoom.errors import ZoomRateLimited
from ..zoom.responses import error_from_response

PER_SECOND_PAUSE = 1.0


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
                        raise AccountPaused(
                            message=f"Zoom's rate limit for this account resets in {int(wait)} s",
                            retry_after=wait,
                            reset_at=utcnow() + datetime.timedelta(seconds=wait),
                        )
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
