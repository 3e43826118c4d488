"""Zoom REST API v2 client for one tutor's connection (user-level OAuth app).

External contract (ZOOM_API §2–§5, RELIABILITY §5.1):

- Base URL ``settings.api_base_url`` (``https://api.zoom.us/v2``); every call sends
  ``Authorization: Bearer <access token>`` and ``Accept: application/json``, has a
  ``(connect, read)`` timeout of ``settings.timeout`` and never follows redirects.
- ``GET /users/me`` → 200 profile; ``POST /users/me/meetings`` → 201 meeting;
  ``GET /meetings/{meetingId}`` → 200; ``PATCH /meetings/{meetingId}`` → 204 (returns
  None: GET again to read the result); ``DELETE /meetings/{meetingId}`` → 204, and
  404 code 3001 counts as success (returns False: it was already gone);
  ``GET /users/me/meetings?type=&page_size=300&next_page_token=`` followed until the
  token is ``""``. ``POST /oauth/revoke`` via ``revoke()``.
- Errors are ``{"code", "message"}``; we branch on the numeric code and the HTTP
  status, never on the (localized) message, and survive XML/HTML/text bodies.
- Retries: only idempotent calls, GET and DELETE (a repeated DELETE answers 3001,
  which is success), on connection errors, timeouts, 429, 500, 502, 503 and 504:
  at most 3 attempts, full-jitter exponential backoff (1 s, 2 s caps) or exactly
  the ``Retry-After`` (delay-seconds, HTTP-date or Zoom's ISO-8601 reset time),
  never more than 8 s of sleeping in total. A daily-limit 429 is never retried.
  POST (create) and PATCH (update) are never retried: both count towards Zoom's
  100-per-user daily quota, and a timeout or 5xx after sending raises
  ``ZoomAmbiguous`` so the caller reconciles (list meetings, look for its marker).
- 401 code 124: one refresh through the lease of ``tokens.TokenSource`` and one
  retry; a second 124 means the grant was revoked → ``needs_reauth``.
- Log lines carry the method, the path template and the status, nothing else.

Error mapping lives in ``responses.py``, disconnecting (``revoke``) in ``disconnect.py``;
both are re-exported here.
"""

import logging
import random
import time

import requests

from ..models import utcnow
from . import oauth
from ._safety import http_session, protect_library_loggers
from .disconnect import retry_pending_revocations, revoke
from .errors import (
    ZoomAmbiguous,
    ZoomAuthError,
    ZoomNotFound,
    ZoomRateLimited,
    ZoomReauthRequired,
    ZoomUnavailable,
)
from .responses import error_from_response, parse_retry_after
from .tokens import TokenSource, mark_needs_reauth

__all__ = [
    "ZoomClient",
    "error_from_response",
    "fetch_profile",
    "parse_retry_after",
    "retry_pending_revocations",
    "revoke",
]

log = logging.getLogger("portal.zoom.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 3
RETRY_BUDGET = 8.0  # seconds of sleeping per call, all retries together
BACKOFF_BASE = 1.0
BACKOFF_CAP = 4.0
PAGE_SIZE = 300
MAX_PAGES = 50


# --- the request engine ----------------------------------------------------------------------


class _StaticToken:
    """A bare access token (just after the code exchange): no DB, no refresh."""

    def __init__(self, access_token):
        self._token = access_token

    def __repr__(self):
        return "<StaticToken>"

    def acquire(self, stale_version=None, stale_id=None):
        if stale_version is not None:
            raise ZoomAuthError(124, "Zoom refused the new access token.", 401)
        return self._token, 0, None


def _meeting_id(value):
    if isinstance(value, bool):
        raise ValueError("meeting id must be a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise ValueError("meeting id must be a positive integer")
    return value


class _Api:
    def __init__(self, source, settings, http, *, sleep, clock, rng, budget=None, breaker=None):
        self.source = source
        self.settings = settings
        self.http = http
        self.sleep = sleep
        self.clock = clock
        self.rng = rng
        # A request's whole Zoom time (every call, retry and wait), well under the
        # worker timeout; None = no limit (jobs).
        self.deadline = None if budget is None else time.monotonic() + budget
        self.breaker = breaker

    def _remaining(self):
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _timeout(self):
        """This attempt's (connect, read) timeout, cut to what the budget has left."""
        remaining = self._remaining()
        if remaining is None:
            return self.settings.timeout
        if remaining <= 0.05:
            raise ZoomUnavailable(
                message="Zoom took longer than this request may wait; the portal tries again.",
                sent=False,
            )
        connect, read = self.settings.timeout
        return (min(connect, remaining), min(read, remaining))

    def request(
        self,
        method,
        template,
        *,
        path=None,
        params=None,
        body=None,
        ok=(200,),
        retry=False,
        quota=False,
        accept=None,
    ):
        """Send one logical call; returns the response whose status is in ok (or accept())."""
        url = self.settings.api_base_url + template.format(**(path or {}))
        failures, slept, stale = 0, 0.0, None
        while True:
            if self.breaker is not None:
                self.breaker.check(url)
            timeout = self._timeout()
            token, version, conn_id = self.source.acquire(*(stale or ()))
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                response = self.http.request(
                    method,
                    url,
                    params=params,
                    json=body,
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                )
            except requests.RequestException as exc:
                error = oauth.transport_error(exc)
                log.warning("zoom %s %s -> %s", method, template, type(exc).__name__)
                if self.breaker is not None:
                    self.breaker.failed(url)
                failures += 1
                if retry:
                    delay = self._backoff(failures)
                    if self._may_retry(failures, slept, delay):
                        self.sleep(delay)
                        slept += delay
                        continue
                elif error.sent:
                    raise ZoomAmbiguous(
                        message=f"Zoom may or may not have applied {method} {template}.",
                    ) from None
                raise error from None

            status = response.status_code
            log.info("zoom %s %s -> %s", method, template, status)
            if self.breaker is not None:
                if status >= 500:
                    self.breaker.failed(url)
                else:
                    self.breaker.succeeded(url)
            if status in ok:
                return response
            error = error_from_response(response, now=self.clock(), quota=quota)
            response.close()
            if accept is not None and accept(error):
                return None
            if status == 401 and error.code in (124, None):
                if stale is None:
                    stale = (version, conn_id)  # one refresh (through the lease), one retry
                    continue
                self._revoked(conn_id, version)
                raise error
            if retry and status in RETRY_STATUSES:
                daily = isinstance(error, ZoomRateLimited) and error.daily
                failures += 1
                if not daily:
                    delay = error.retry_after
                    if delay is None:
                        delay = self._backoff(failures)
                    if self._may_retry(failures, slept, delay):
                        self.sleep(delay)
                        slept += delay
                        continue
            if not retry and isinstance(error, ZoomUnavailable):
                raise ZoomAmbiguous(
                    error.code,
                    f"Zoom failed after receiving {method} {template}.",
                    status,
                    error.retry_after,
                    tracking_id=error.tracking_id,
                )
            raise error

    def _backoff(self, failures):
        return self.rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (failures - 1)))

    def _may_retry(self, failures, slept, delay):
        remaining = self._remaining()
        if remaining is not None and delay >= remaining - 0.5:
            return False  # the wait would leave no time for the call
        return failures < MAX_ATTEMPTS and slept + delay <= RETRY_BUDGET

    def _revoked(self, conn_id, version):
        if conn_id is None:
            return
        if mark_needs_reauth(
            conn_id,
            "Zoom refused a freshly refreshed access token (code 124): access revoked",
            version=version,
            clock=self.clock,
        ):
            raise ZoomReauthRequired(
                "Zoom no longer accepts this connection's tokens; the tutor must connect again.",
                connection_id=conn_id,
                code=124,
                status=401,
            )

    def json(self, response, *, write=False):
        try:
            data = response.json()
        except ValueError:
            if write:
                raise ZoomAmbiguous(message="Zoom's answer to a write could not be read.") from None
            raise ZoomUnavailable(message="Zoom's answer could not be read.") from None
        finally:
            response.close()
        return data


class ZoomClient:
    """The Zoom API as one tutor: ``ZoomClient(connection_or_tutor, settings, http=None)``.

    ``connection_or_tutor`` is a ZoomConnection (that row) or a tutor (their
    current row, looked up on every call). ``http`` is an optional
    requests.Session (the app mounts the simulator's transport on it); without
    it the client owns a session, closed by ``close()`` or ``with``.
    ``sleep`` and ``clock`` (naive UTC) are injectable for tests.
    """

    def __init__(
        self,
        connection_or_tutor,
        settings,
        http=None,
        sleep=time.sleep,
        clock=utcnow,
        rng=None,
        *,
        close_http=None,
        budget=None,
        breaker=None,
    ):
        protect_library_loggers()
        self.settings = settings
        # close() closes the session we made, or a given one when close_http=True.
        self._own_http = http is None if close_http is None else close_http
        self.http = http if http is not None else requests.Session()
        self.tokens = TokenSource(
            connection_or_tutor, settings, self.http, clock=clock, sleep=sleep
        )
        self._api = _Api(
            self.tokens,
            settings,
            self.http,
            sleep=sleep,
            clock=clock,
            rng=rng or random.Random(),
            budget=budget,
            breaker=breaker,
        )

    def __repr__(self):
        return f"<ZoomClient {self.tokens!r}>"

    def close(self):
        if self._own_http:
            self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def me(self):
        """GET /users/me: the connected Zoom user's profile."""
        return self._api.json(self._api.request("GET", "/users/me", retry=True))

    def create_meeting(self, body):
        """POST /users/me/meetings (never retried; ZoomAmbiguous if the outcome is unknown)."""
        response = self._api.request("POST", "/users/me/meetings", body=body, ok=(201,), quota=True)
        return self._api.json(response, write=True)

    def get_meeting(self, meeting_id, occurrence_id=None):
        """GET /meetings/{meetingId} (a fresh start_url each time: never store it)."""
        params = {"occurrence_id": occurrence_id} if occurrence_id else None
        response = self._api.request(
            "GET",
            "/meetings/{meetingId}",
            path={"meetingId": _meeting_id(meeting_id)},
            params=params,
            retry=True,
        )
        return self._api.json(response)

    def update_meeting(self, meeting_id, body, occurrence_id=None):
        """PATCH /meetings/{meetingId} → 204; returns None (not retried: counts to the quota)."""
        params = {"occurrence_id": occurrence_id} if occurrence_id else None
        response = self._api.request(
            "PATCH",
            "/meetings/{meetingId}",
            path={"meetingId": _meeting_id(meeting_id)},
            params=params,
            body=body,
            ok=(204, 200),
            quota=True,
        )
        response.close()
        return None

    def delete_meeting(self, meeting_id, occurrence_id=None, *, schedule_for_reminder=False):
        """DELETE /meetings/{meetingId}; True if deleted now, False if Zoom had no such meeting."""
        params = {"schedule_for_reminder": "true" if schedule_for_reminder else "false"}
        if occurrence_id:
            params["occurrence_id"] = occurrence_id
        response = self._api.request(
            "DELETE",
            "/meetings/{meetingId}",
            path={"meetingId": _meeting_id(meeting_id)},
            params=params,
            ok=(204, 200),
            retry=True,
            accept=lambda err: isinstance(err, ZoomNotFound) and err.code == 3001,
        )
        if response is None:
            return False
        response.close()
        return True

    def list_meetings(self, type="scheduled", page_size=PAGE_SIZE):  # noqa: A002 - Zoom's name
        """GET /users/me/meetings, every page (follows next_page_token until it is "")."""
        meetings, token, seen = [], "", set()
        for _page in range(MAX_PAGES):
            params = {"type": type, "page_size": page_size}
            if token:
                params["next_page_token"] = token
            data = self._api.json(
                self._api.request("GET", "/users/me/meetings", params=params, retry=True)
            )
            meetings.extend(data.get("meetings") or [])
            token = data.get("next_page_token") or ""
            if not token or token in seen:
                break
            seen.add(token)
        return meetings


def fetch_profile(access_token, settings, http=None, *, sleep=time.sleep, clock=utcnow):
    """GET /users/me with a bare access token (right after finish_authorization)."""
    with http_session(http) as session:
        api = _Api(
            _StaticToken(access_token),
            settings,
            session,
            sleep=sleep,
            clock=clock,
            rng=random.Random(),
        )
        return api.json(api.request("GET", "/users/me", retry=True))
