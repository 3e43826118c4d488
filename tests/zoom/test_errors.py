"""Every Zoom error answer maps to its typed exception, by status and numeric code."""

import datetime
import json

import pytest
import requests

from portal.zoom import errors as E
from portal.zoom.client import error_from_response, parse_retry_after

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26)


def response(status, body=None, *, headers=None, text=None):
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body).encode() if body is not None else (text or "").encode()
    r.encoding = "utf-8"
    r.headers.update(headers or {})
    return r


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (401, 124, E.ZoomAuthError),
        (404, 3001, E.ZoomNotFound),
        (404, 1001, E.ZoomNotFound),
        (400, 1120, E.ZoomNotFound),
        (400, 4711, E.ZoomScopeError),
        (400, 4700, E.ZoomScopeError),
        (400, 300, E.ZoomValidationError),
        (400, 3003, E.ZoomPermissionError),
        (400, 200, E.ZoomPermissionError),
        (400, 3161, E.ZoomPermissionError),
        (500, None, E.ZoomUnavailable),
        (502, None, E.ZoomUnavailable),
        (503, None, E.ZoomUnavailable),
        (400, 3002, E.ZoomError),
    ],
)
def test_code_maps_to_exception(status, code, cls):
    body = {"code": code, "message": "whatever"} if code is not None else {"message": "x"}
    err = error_from_response(response(status, body), now=NOW)
    assert type(err) is cls
    assert err.code == code
    assert err.status == status


def test_branches_on_code_not_on_localized_message():
    english = error_from_response(
        response(404, {"code": 3001, "message": "Meeting does not exist: 1."})
    )
    russian = error_from_response(
        response(404, {"code": 3001, "message": "Встреча не существует: 1."})
    )
    assert type(english) is type(russian) is E.ZoomNotFound
    odd = error_from_response(response(400, {"code": 4711, "message": "Meeting does not exist"}))
    assert isinstance(odd, E.ZoomScopeError)


def test_validation_errors_are_kept():
    body = {
        "code": 300,
        "message": "Validation Failed.",
        "errors": [{"field": "topic", "message": "Invalid field."}],
    }
    err = error_from_response(response(400, body))
    assert err.errors == [{"field": "topic", "message": "Invalid field."}]


def test_xml_body_is_survived_and_its_code_read():
    xml = (
        "<?xml version='1.0'?>"
        "<error><code>124</code><message>Invalid access token.</message></error>"
    )
    err = error_from_response(response(401, text=xml, headers={"Content-Type": "application/xml"}))
    assert isinstance(err, E.ZoomAuthError)
    assert err.code == 124
    assert err.message == "Invalid access token."


def test_html_body_gives_truncated_text():
    html = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 2000 + "</body></html>"
    err = error_from_response(response(502, text=html))
    assert isinstance(err, E.ZoomUnavailable)
    assert err.code is None
    assert "502 Bad Gateway" in err.message
    assert len(err.message) <= E.MAX_MESSAGE


def test_tracking_id_is_kept():
    err = error_from_response(
        response(404, {"code": 3001, "message": "m"}, headers={"x-zm-trackingid": "v=2.0;rid=1"})
    )
    assert err.tracking_id == "v=2.0;rid=1"


def test_per_second_429_is_not_daily():
    err = error_from_response(
        response(
            429,
            {"code": 429, "message": "You have reached the maximum per-second rate limit"},
            headers={"X-RateLimit-Type": "QPS", "Retry-After": "1"},
        ),
        now=NOW,
    )
    assert isinstance(err, E.ZoomRateLimited)
    assert not err.daily
    assert err.retry_after == 1.0


def test_daily_429_with_iso_retry_after():
    err = error_from_response(
        response(
            429,
            {"code": 429, "message": "daily"},
            headers={"X-RateLimit-Type": "Daily-limit", "Retry-After": "2026-03-15T00:00:00Z"},
        ),
        now=NOW,
    )
    assert err.daily
    assert err.reset_at == datetime.datetime(2026, 3, 15)
    assert err.retry_after == pytest.approx((err.reset_at - NOW).total_seconds())


def test_per_user_quota_429_without_headers_is_daily_until_midnight_utc():
    body = {"code": 429, "message": "You have exceeded the daily rate limit (100) ..."}
    err = error_from_response(response(429, body), now=NOW, quota=True)
    assert err.daily
    assert err.reset_at == datetime.datetime(2026, 3, 15)
    # The same answer to a read is a short, retryable limit.
    assert not error_from_response(response(429, body), now=NOW).daily
    # Account budget left (Remaining > 0): not a per-second breach, so the per-user quota.
    quota_headers = {"X-RateLimit-Type": "QPS", "X-RateLimit-Remaining": "5893"}
    assert error_from_response(
        response(429, body, headers=quota_headers), now=NOW, quota=True
    ).daily
    qps_headers = {"X-RateLimit-Type": "QPS", "X-RateLimit-Remaining": "0"}
    assert not error_from_response(
        response(429, body, headers=qps_headers), now=NOW, quota=True
    ).daily


def test_retry_after_formats():
    assert parse_retry_after("2", NOW) == (2.0, NOW + datetime.timedelta(seconds=2))
    secs, at = parse_retry_after("Sat, 14 Mar 2026 15:09:36 GMT", NOW)
    assert secs == 10.0 and at == datetime.datetime(2026, 3, 14, 15, 9, 36)
    secs, at = parse_retry_after("2026-03-15T00:00:00Z", NOW)
    assert at == datetime.datetime(2026, 3, 15)
    assert parse_retry_after("soon", NOW) == (None, None)
    assert parse_retry_after(None, NOW) == (None, None)
    assert parse_retry_after("Sat, 14 Mar 2026 15:00:00 GMT", NOW)[0] == 0.0


def test_error_repr_and_str_carry_no_body_beyond_message():
    err = E.ZoomNotFound(3001, "Meeting does not exist: 5.", 404)
    assert str(err) == "HTTP 404 code 3001: Meeting does not exist: 5."
    assert repr(err) == "ZoomNotFound(code=3001, status=404)"
