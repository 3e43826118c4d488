"""The simulator's whole world, in memory: `SimulatorState`, one per app in
`app.extensions["zoom_sim"]`.

Everything mutable sits behind `state.lock` (a re-entrant `threading.RLock`, so a public method may
call another); webhook HTTP deliveries and injected latency always happen outside it.
Time comes from an injectable clock (a callable returning an aware UTC datetime) plus an offset
that `advance()` moves, so tests and the control page can jump past code, token, zak, page-token,
meeting and quota expiry without sleeping.
"""

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .faults import FaultsMixin
from .meetings import MeetingsMixin
from .ratelimit import RateLimiter
from .stats import Stats
from .tokens import CLASSIC_SCOPES, GRANULAR_SCOPES, TokensMixin
from .users import SimUser, seed_users
from .webhooks import WebhookSender


def system_clock():
    """Return the real current time (aware, UTC)."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told: `clock()` → now, `clock.advance(seconds=...)`."""

    def __init__(self, start=None):
        start = start or datetime.now(UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            return self._now

    def advance(self, seconds=0, **kwargs):
        """Move the clock forward by `seconds` (and/or any `timedelta` keyword)."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, when):
        """Jump to an aware datetime."""
        with self._lock:
            self._now = when.astimezone(UTC)


@dataclass
class SimConfig:
    """Settings of the simulated Zoom app and account; every field is a test knob."""

    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"
    app_name: str = "Virtual Meetings Portal"
    # Exact URIs, or patterns: "{host_url}/path" (the host the authorize request came to) and
    # "{loopback}/path" (http(s)://localhost|127.0.0.1|[::1] on any port).
    redirect_uris: list = field(default_factory=lambda: ["{host_url}/zoom/callback"])
    scope_mode: str = "classic"  # or "granular"
    scopes: tuple | None = None  # granted scopes; None → all of scope_mode's
    plan: str = "pro"  # free | pro | business (type-1 users always count as free accounts)
    code_lifetime: int = 300
    access_token_lifetime: int = 3600  # expires_in reports one second less (3599)
    refresh_token_lifetime: int = 90 * 24 * 3600
    zak_lifetime: int = 7200
    meeting_expiry_days: int = 30
    page_token_lifetime: int = 900
    rate_limits: bool = True  # per-second buckets and free daily caps
    user_daily_limit: int | None = 100  # meeting create+update per user per UTC day
    user_limit_retry_after: bool = False  # add Retry-After to the per-user 429 (Zoom does not)
    require_passcode: bool = True  # generate a 6-character password when none is sent
    webhook_url: str | None = None
    webhook_secret: str = "sim-webhook-secret"
    webhook_timeout: float = 3.0
    legacy_deauth_fields: bool = False  # add "user_data_retention": "false" to app_deauthorized
    localized_errors: bool = False  # answer some API error messages in Russian, as Zoom can
    # Where join_url/start_url/personal_meeting_url point: None → Zoom's real
    # https://<cluster>web.zoom.us/...; a URL (the simulator's own base, e.g.
    # http://127.0.0.1:5000/zoom-sim) → {base}/j/<id>?pwd=... and {base}/s/<id>?zak=..., served
    # by the simulator's meeting pages so links work offline.
    meeting_url_base: str | None = None

    def granted_scopes(self):
        """Return the scopes a new grant carries."""
        if self.scopes is not None:
            return tuple(self.scopes)
        return GRANULAR_SCOPES if self.scope_mode == "granular" else CLASSIC_SCOPES


class SimulatorState(TokensMixin, MeetingsMixin, FaultsMixin):
    """Users, OAuth codes and grants, meetings, faults, rate limits and webhook deliveries."""

    def __init__(self, config=None, *, clock=None, users=None, http=None):
        self.config = config or SimConfig()
        self.clock = clock or system_clock
        self.lock = threading.RLock()
        self._offset = timedelta(0)
        self.users = {}
        for user in seed_users() if users is None else users:
            self.users[user.id] = user
        self.codes = {}
        self.grants = []
        self._by_access = {}
        self._by_refresh = {}
        self.meetings = {}
        self.page_tokens = {}
        self.zaks = {}
        self.limiter = RateLimiter()
        self.stats = Stats()
        self.webhooks = WebhookSender(self, http=http)
        self._init_faults()
        self._meeting_counter = 0

    # time -------------------------------------------------------------------------------------

    def now(self):
        """Return the simulated current time (aware UTC)."""
        return (self.clock() + self._offset).astimezone(UTC)

    def advance(self, seconds=0, **kwargs):
        """Move simulated time forward; returns the new now."""
        with self.lock:
            self._offset += timedelta(seconds=seconds, **kwargs)
        return self.now()

    # users ------------------------------------------------------------------------------------

    def user(self, ref):
        """Return the user with this key, id or email; raise KeyError if there is none."""
        with self.lock:
            for user in self.users.values():
                if user.key == ref or user.matches(ref):
                    return user
        raise KeyError(ref)

    def add_user(self, key, email, first_name="Sim", last_name="User", **fields):
        """Add a simulated Zoom user (fields as in `SimUser`) and return it."""
        user = SimUser(key=key, email=email, first_name=first_name, last_name=last_name, **fields)
        with self.lock:
            self.users[user.id] = user
        return user

    def active_users(self):
        """Return the users that can sign in, in seed order."""
        with self.lock:
            return [u for u in self.users.values() if not u.deleted]

    def plan_for(self, user):
        """Return the rate-limit plan of the user's account."""
        return "free" if user.type == 1 else self.config.plan

    def close(self):
        """Release what the state holds (nothing but an optional HTTP session)."""
        self.webhooks.close()
