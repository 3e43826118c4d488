"""What a cluster spends at the simulated Zoom: API requests per account, their peak per second,
the 429s answered, and the calls to `POST /oauth/token`.

`GET /control/stats` answers (JSON, the contract the cluster tests and benchmark read)::

    {"accounts": {"<zoom account id>": {"requests": int, "peak_per_second": int,
                                        "rate_limited": int}},
     "requests": int, "rate_limited": int, "token_calls": int}

- an account's `requests` counts every authenticated `/v2` call of its users (the ones answered
  429 too: they are what the cluster spent); calls refused before the simulator knew the account
  (401, injected failures) are not anyone's;
- `peak_per_second` is the most of those requests that fell into one second of the simulator's
  clock (the same fixed windows its rate limiter counts in);
- `rate_limited` counts the 429s answered to the account (per-second, daily and per-user quota);
- the top-level `requests` and `rate_limited` are the sums over the accounts; `token_calls` counts
  every `POST /oauth/token`, answered or not.

`POST /control/stats/reset` sets every counter back to zero. The counters live in the
`SimulatorState` and, like everything else there, are changed under `state.lock`.
"""


class AccountStats:
    """The counters of one Zoom account."""

    __slots__ = ("requests", "peak_per_second", "rate_limited", "_second", "_in_second")

    def __init__(self):
        self.requests = 0
        self.peak_per_second = 0
        self.rate_limited = 0
        self._second = None
        self._in_second = 0

    def count(self, second):
        self.requests += 1
        if second != self._second:
            self._second, self._in_second = second, 0
        self._in_second += 1
        self.peak_per_second = max(self.peak_per_second, self._in_second)

    def as_dict(self):
        return {
            "requests": self.requests,
            "peak_per_second": self.peak_per_second,
            "rate_limited": self.rate_limited,
        }


class Stats:
    """Counters only; the caller holds the state lock."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.accounts = {}
        self.token_calls = 0

    def _account(self, account_id):
        stats = self.accounts.get(account_id)
        if stats is None:
            stats = self.accounts[account_id] = AccountStats()
        return stats

    def api_request(self, account_id, now):
        """Count one API request of the account at `now` (aware datetime)."""
        self._account(account_id).count(int(now.timestamp()))

    def rate_limited(self, account_id):
        """Count one 429 answered to the account."""
        self._account(account_id).rate_limited += 1

    def token_call(self):
        """Count one `POST /oauth/token`."""
        self.token_calls += 1

    def as_dict(self):
        accounts = {key: value.as_dict() for key, value in self.accounts.items()}
        return {
            "accounts": accounts,
            "requests": sum(a["requests"] for a in accounts.values()),
            "rate_limited": sum(a["rate_limited"] for a in accounts.values()),
            "token_calls": self.token_calls,
        }
