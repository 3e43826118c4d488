"""Scopes (4711) and rate limits (429) of the simulated API."""

import pytest
from zoom_sim_helpers import START

from portal.zoom.simulator.errors import ZoomError
from portal.zoom.simulator.ratelimit import RateLimiter

BODY = {"topic": "Daily Session", "type": 2, "start_time": "2026-03-03T09:00:00Z"}


@pytest.mark.parametrize(
    "sim_options",
    [{"scope_mode": "granular", "scopes": ["user:read:user", "meeting:write:meeting"]}],
)
def test_granular_scopes_are_enforced_per_operation(sign_in, api, sim_options):
    token = sign_in()
    assert token["scope"] == "user:read:user meeting:write:meeting"
    access = token["access_token"]
    created = api("POST", "/users/me/meetings", access, json=BODY)
    assert created.status_code == 201
    meeting_id = created.json()["id"]
    patch = api("PATCH", f"/meetings/{meeting_id}", access, json={"topic": "x"})
    assert patch.status_code == 400
    assert patch.json() == {
        "code": 4711,
        "message": "Invalid access token, does not contain scopes:"
        "[meeting:update:meeting, meeting:update:meeting:admin]",
    }
    assert api("DELETE", f"/meetings/{meeting_id}", access).json()["code"] == 4711
    assert api("GET", f"/meetings/{meeting_id}", access).json()["code"] == 4711
    assert api("GET", "/users/me/meetings", access).json()["code"] == 4711
    assert api("GET", "/users/me", access).status_code == 200


@pytest.mark.parametrize("sim_options", [{"scopes": ["meeting:read"]}])
def test_classic_scope_missing(sign_in, api, sim_options):
    access = sign_in()["access_token"]
    response = api("GET", "/users/me", access)
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Invalid access token, does not contain scopes:[user:read, user:read:admin]"
    )


@pytest.mark.parametrize("sim_options", [{"plan": "free"}])
def test_per_second_limit_is_429_with_qps_headers(sign_in, api, sim_options):
    access = sign_in("licensed")["access_token"]  # the account plan is free: Medium = 2/s
    for remaining in ("1", "0"):
        ok = api("GET", "/users/me/meetings", access)
        assert ok.status_code == 200
        assert ok.headers["X-RateLimit-Remaining"] == remaining
    limited = api("GET", "/users/me/meetings", access)
    assert limited.status_code == 429
    assert limited.json() == {
        "code": 429,
        "message": "You have reached the maximum per-second rate limit for this API. "
        "Try again later.",
    }
    assert limited.headers["X-RateLimit-Type"] == "QPS"
    assert limited.headers["X-RateLimit-Category"] == "Medium"
    assert limited.headers["X-RateLimit-Limit"] == "2"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert "Retry-After" not in limited.headers
    # Other labels have their own bucket, and the next second starts afresh.
    assert api("GET", "/users/me", access).status_code == 200


def test_basic_users_count_as_free_accounts(sign_in, api, clock):
    access = sign_in("basic")["access_token"]
    assert api("GET", "/users/me", access).headers["X-RateLimit-Limit"] == "4"
    clock.advance(seconds=1)
    assert api("GET", "/users/me/meetings", access).status_code == 200


def test_per_second_window_moves_with_the_clock(sign_in, api, clock, state):
    state.config.plan = "free"
    access = sign_in("licensed")["access_token"]
    for _ in range(2):
        api("GET", "/users/me/meetings", access)
    assert api("GET", "/users/me/meetings", access).status_code == 429
    clock.advance(seconds=1)
    assert api("GET", "/users/me/meetings", access).status_code == 200


def test_daily_user_limit_of_100_creates_and_updates(sign_in, api, clock, state):
    access = sign_in("licensed")["access_token"]
    meeting = api("POST", "/users/me/meetings", access, json=BODY).json()
    for _ in range(98):
        state.limiter.hit_user_quota(state.user("licensed").id, state.now(), 100, {})
    last = api("PATCH", f"/meetings/{meeting['id']}", access, json={"topic": "100th"})
    assert last.status_code == 204
    assert state.limiter.user_quota_used(state.user("licensed").id, state.now()) == 100
    for method, path, body in (
        ("POST", "/users/me/meetings", BODY),
        ("PATCH", f"/meetings/{meeting['id']}", {"topic": "101st"}),
    ):
        limited = api(method, path, access, json=body)
        assert limited.status_code == 429
        assert limited.json() == {
            "code": 429,
            "message": "You have exceeded the daily rate limit (100) of Meeting Create/Update "
            "API requests permitted for this particular user. You may resume these requests at "
            "GMT 00:00:00.",
        }
        assert "Retry-After" not in limited.headers
        assert "X-RateLimit-Type" not in limited.headers
        assert limited.headers["X-RateLimit-Category"]
    # Reads still work, and the counter resets at 00:00 UTC.
    assert api("GET", f"/meetings/{meeting['id']}", access).status_code == 200
    clock.advance(hours=9, minutes=59)  # 23:59 UTC
    access = sign_in("licensed")["access_token"]
    assert api("POST", "/users/me/meetings", access, json=BODY).status_code == 429
    clock.advance(minutes=1)
    assert api("POST", "/users/me/meetings", access, json=BODY).status_code == 201


def test_hundred_real_creates_then_429(sign_in, api, clock):
    access = sign_in("licensed")["access_token"]
    for _ in range(100):
        assert api("POST", "/users/me/meetings", access, json=BODY).status_code == 201
        clock.advance(seconds=0.1)
    assert api("POST", "/users/me/meetings", access, json=BODY).status_code == 429


@pytest.mark.parametrize("sim_options", [{"user_limit_retry_after": True}])
def test_per_user_limit_can_carry_retry_after(sign_in, api, state, sim_options):
    access = sign_in("licensed")["access_token"]
    for _ in range(100):
        state.limiter.hit_user_quota(state.user("licensed").id, state.now(), 100, {})
    limited = api("POST", "/users/me/meetings", access, json=BODY)
    assert limited.headers["Retry-After"] == "2026-03-03T00:00:00Z"
    assert limited.headers["X-RateLimit-Type"] == "Daily-limit"


def test_free_account_daily_cap_has_retry_after_date():
    limiter = RateLimiter()
    limiter._daily[("acct", "Medium")] = (START.date(), 2000)
    with pytest.raises(ZoomError) as caught:
        limiter.hit("acct", "free", "Medium", START)
    error = caught.value
    assert error.status == 429 and error.code == 429
    assert error.message.startswith("You have reached the maximum daily rate limit")
    assert error.headers["X-RateLimit-Type"] == "Daily-limit"
    assert error.headers["Retry-After"] == "2026-03-03T00:00:00Z"


def test_rate_limits_can_be_switched_off(sign_in, api, state):
    state.config.rate_limits = False
    state.config.plan = "free"
    access = sign_in("licensed")["access_token"]
    for _ in range(5):
        assert api("GET", "/users/me/meetings", access).status_code == 200


@pytest.mark.parametrize("sim_options", [{"plan": "free"}])
def test_free_daily_cap_over_http_says_daily_limit(sign_in, api, state, sim_options):
    access = sign_in("licensed")["access_token"]
    state.limiter._daily[(state.user("licensed").account_id, "Medium")] = (START.date(), 2000)
    limited = api("GET", "/users/me/meetings", access)
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Type"] == "Daily-limit"
    assert limited.headers["X-RateLimit-Category"] == "Medium"
    assert limited.headers["X-RateLimit-Limit"] == "2000"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Retry-After"] == "2026-03-03T00:00:00Z"
    assert api("GET", "/users/me", access).headers["X-RateLimit-Type"] == "QPS"  # Light: fine
