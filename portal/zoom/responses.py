"""Zoom API error answers → typed exceptions (ZOOM_API §3.6, §5).

Branch on the HTTP status and Zoom's numeric ``code``, never on ``message`` (it is
localized). Bodies may be JSON ``{"code", "message", "errors"}``, XML
(``<error><code>…</code><message>…</message></error>``) or any text; all are survived.
``Retry-After`` may be delay-seconds, an HTTP-date or Zoom's ISO-8601 reset time.
A 429 is *daily* when ``X-RateLimit-Type`` says so, when Retry-After is more than a
minute away, or for the per-user create/update quota (100/day, reset 00:00 UTC),
which Zoom answers without a type or Retry-After and with account budget left.
"""

import datetime
import email.utils
import re

from ..logging_setup import redact
from ..models import utcnow
from .errors import (
    ZoomAuthError,
    ZoomError,
    ZoomNotFound,
    ZoomPermissionError,
    ZoomRateLimited,
    ZoomScopeError,
    ZoomUnavailable,
    ZoomValidationError,
)

NOT_FOUND_CODES = frozenset({3001, 1001, 1120})
PERMISSION_CODES = frozenset({3003, 200, 3161})
SCOPE_CODES = frozenset({4711})


def _naive_utc(value):
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def parse_retry_after(value, now):
    """Parse Retry-After (delay-seconds, HTTP-date or ISO-8601) into ``(seconds, at)``."""
    if value is None:
        return None, None
    value = str(value).strip()
    if not value:
        return None, None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
        return seconds, now + datetime.timedelta(seconds=seconds)
    at = None
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        at = None
    if at is None:
        try:
            at = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None, None
    at = _naive_utc(at)
    return max(0.0, (at - now).total_seconds()), at


def _next_utc_midnight(now):
    return datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time())


def _error_body(response):
    """(code, message, errors) from a JSON, XML or plain-text error body."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        code = data.get("code")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        message = data.get("message")
        return code, str(message) if message is not None else "", data.get("errors") or []
    text = response.text or ""
    code = None
    found = re.search(r"<code>\s*(\d+)\s*</code>", text)
    if found:
        code = int(found.group(1))
    found = re.search(r"<message>(.*?)</message>", text, re.S)
    message = found.group(1) if found else re.sub(r"<[^>]+>", " ", text)
    return code, redact(" ".join(message.split())[:300]), []


def error_from_response(response, *, now=None, quota=False):
    """The typed ZoomError for an unsuccessful response (branching on status + numeric code)."""
    now = now or utcnow()
    status = response.status_code
    code, message, errors = _error_body(response)
    tracking = response.headers.get("x-zm-trackingid")
    retry_after, retry_at = parse_retry_after(response.headers.get("Retry-After"), now)
    if status == 429 or code == 429:
        limit_type = (response.headers.get("X-RateLimit-Type") or "").strip().lower()
        try:
            remaining = int(response.headers.get("X-RateLimit-Remaining", ""))
        except ValueError:
            remaining = None
        if limit_type.startswith("daily") or (retry_after is not None and retry_after > 60):
            daily = True
        elif quota and retry_after is None and (limit_type != "qps" or (remaining or 0) > 0):
            # The per-user create/update quota (100/day, reset 00:00 UTC) comes without a
            # type or Retry-After, and with account budget left (Remaining > 0); a real
            # per-second breach says QPS with Remaining 0.
            daily = True
        else:
            daily = False
        if daily:
            reset_at = retry_at or _next_utc_midnight(now)
            retry_after = max(0.0, (reset_at - now).total_seconds())
        else:
            reset_at = retry_at
        return ZoomRateLimited(
            code or 429,
            message,
            status,
            retry_after,
            reset_at=reset_at,
            daily=daily,
            tracking_id=tracking,
        )
    args = (code, message, status, retry_after)
    if status == 401:
        return ZoomAuthError(*args, tracking_id=tracking)
    if code in NOT_FOUND_CODES or status == 404:
        return ZoomNotFound(*args, tracking_id=tracking)
    if code in SCOPE_CODES or (code == 4700 and status == 400):
        return ZoomScopeError(*args, tracking_id=tracking)
    if code == 300:
        return ZoomValidationError(
            code, message, status, retry_after, errors=errors, tracking_id=tracking
        )
    if code in PERMISSION_CODES or status == 403:
        return ZoomPermissionError(*args, tracking_id=tracking)
    if status >= 500:
        return ZoomUnavailable(*args, tracking_id=tracking)
    return ZoomError(*args, tracking_id=tracking)
