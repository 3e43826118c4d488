"""Zoom's rate limits (ZOOM_API.md §5, §9.5), counted in fixed windows on the simulated clock.

- Per account and label, per second (Light/Medium/Heavy): Free 4/2/1, Pro 30/20/10,
  Business 80/60/40.
  Breach → 429 `{"code":429,"message":"You have reached the maximum per-second rate ..."}` with
  `X-RateLimit-Type: QPS`, `X-RateLimit-Remaining: 0`.
- Free accounts, per label per UTC day: 6,000 / 2,000 / 1,000. Breach → 429 daily message with
  `X-RateLimit-Type: Daily-limit` and `Retry-After: <next 00:00 UTC, ISO-8601>`.
- Per user: 100 meeting creates+updates per UTC day. Breach → 429 with Zoom's observed per-user
  message and, like Zoom, no `X-RateLimit-Type`/`Retry-After` (unless configured).
Normal responses carry `X-RateLimit-Category`, `X-RateLimit-Type: QPS`, `X-RateLimit-Limit`,
`X-RateLimit-Remaining`. Requests answered 429 are not counted.
"""

from datetime import datetime, time, timedelta

from .errors import ZoomError
from .users import iso

QPS = {
    "free": {"Light": 4, "Medium": 2, "Heavy": 1},
    "pro": {"Light": 30, "Medium": 20, "Heavy": 10},
    "business": {"Light": 80, "Medium": 60, "Heavy": 40},
}
FREE_DAILY = {"Light": 6000, "Medium": 2000, "Heavy": 1000}
PER_SECOND_MESSAGE = (
    "You have reached the maximum per-second rate limit for this API. Try again later."
)
DAILY_MESSAGE = (
    "You have reached the maximum daily rate limit for this API. "
    "Refer to the response header for details on when you can make another request."
)
USER_DAILY_MESSAGE = (
    "You have exceeded the daily rate limit ({limit}) of Meeting Create/Update API requests "
    "permitted for this particular user. You may resume these requests at GMT 00:00:00."
)


def next_utc_midnight(now):
    """Return the next 00:00 UTC after `now`."""
    return datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=now.tzinfo)


class RateLimiter:
    """Counters only; the caller holds the state lock."""

    def __init__(self):
        self._second = {}  # (account, label) → (epoch second, count)
        self._daily = {}  # (account, label) → (date, count)
        self._user = {}  # user id → (date, count)

    def hit(self, account, plan, label, now, *, enabled=True):
        """Count one call; return the response headers or raise a 429 `ZoomError`."""
        limit = QPS.get(plan, QPS["pro"])[label]
        second = int(now.timestamp())
        window, used = self._second.get((account, label), (second, 0))
        if window != second:
            used = 0
        headers = {"X-RateLimit-Category": label, "X-RateLimit-Type": "QPS"}
        if enabled and used >= limit:
            headers.update({"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0"})
            raise ZoomError(429, 429, PER_SECOND_MESSAGE, headers=headers)
        if enabled and plan == "free":
            day, used_today = self._daily.get((account, label), (now.date(), 0))
            if day != now.date():
                used_today = 0
            if used_today >= FREE_DAILY[label]:
                raise ZoomError(
                    429,
                    429,
                    DAILY_MESSAGE,
                    headers={
                        "X-RateLimit-Category": label,
                        "X-RateLimit-Type": "Daily-limit",
                        "X-RateLimit-Limit": str(FREE_DAILY[label]),
                        "X-RateLimit-Remaining": "0",
                        "Retry-After": iso(next_utc_midnight(now)),
                    },
                )
            self._daily[(account, label)] = (now.date(), used_today + 1)
        self._second[(account, label)] = (second, used + 1)
        headers.update(
            {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(limit - used - 1, 0)),
            }
        )
        return headers

    def hit_user_quota(self, user_id, now, limit, headers, *, retry_after=False):
        """Count one meeting create/update for the user or raise the per-user 429."""
        if limit is None:
            return
        day, used = self._user.get(user_id, (now.date(), 0))
        if day != now.date():
            used = 0
        if used >= limit:
            extra = {k: v for k, v in headers.items() if k != "X-RateLimit-Type"}
            if retry_after:
                extra["Retry-After"] = iso(next_utc_midnight(now))
                extra["X-RateLimit-Type"] = "Daily-limit"
            raise ZoomError(429, 429, USER_DAILY_MESSAGE.format(limit=limit), headers=extra)
        self._user[user_id] = (now.date(), used + 1)

    def user_quota_used(self, user_id, now):
        """Return how many creates/updates the user made today (UTC)."""
        day, used = self._user.get(user_id, (now.date(), 0))
        return used if day == now.date() else 0
