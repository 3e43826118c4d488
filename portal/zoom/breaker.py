"""A circuit breaker per Zoom host: after repeated failures, skip the calls for a while.

When Zoom stops answering, every page that needs it would otherwise wait out its
whole time budget, one after another. After ``threshold`` failures in a row (no
answer, or a 5xx) on a host, calls to it fail at once with ``ZoomUnavailable`` for
``cool_down`` seconds; then one call is let through, and its answer closes the
breaker again or keeps it open. Per process (each worker learns on its own), shared
by its threads.
"""

import threading
import time
from urllib.parse import urlsplit

from .errors import ZoomUnavailable


class Breaker:
    def __init__(self, threshold=5, cool_down=30.0, clock=time.monotonic):
        self.threshold = threshold
        self.cool_down = cool_down
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = {}
        self._open_until = {}

    @staticmethod
    def _host(url):
        return urlsplit(url).netloc.lower()

    def check(self, url):
        """Raise ZoomUnavailable (nothing sent) while the host's breaker is open."""
        host = self._host(url)
        with self._lock:
            until = self._open_until.get(host)
            if until is None:
                return
            now = self.clock()
            if now < until:
                raise ZoomUnavailable(
                    message=(
                        f"Zoom has not answered the portal's last {self.threshold} calls, so "
                        f"it pauses calls for {self.cool_down:.0f} seconds."
                    ),
                    sent=False,
                )
            # Half open: let this one call through; hold the others until it answers.
            self._open_until[host] = now + self.cool_down

    def failed(self, url):
        host = self._host(url)
        with self._lock:
            count = self._failures.get(host, 0) + 1
            self._failures[host] = count
            if count >= self.threshold:
                self._open_until[host] = self.clock() + self.cool_down

    def succeeded(self, url):
        host = self._host(url)
        with self._lock:
            self._failures.pop(host, None)
            self._open_until.pop(host, None)

    def is_open(self, url):
        with self._lock:
            until = self._open_until.get(self._host(url))
            return until is not None and self.clock() < until
