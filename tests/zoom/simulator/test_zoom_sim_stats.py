"""`GET /control/stats` and `POST /control/stats/reset`: what a cluster spent at the simulator."""

import pytest
from zoom_sim_helpers import TIMEOUT, token_request

from portal import create_app
from tests.test_config import production


def stats(http, live):
    response = http.get(f"{live}/control/stats", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


def test_stats_start_empty_with_the_contract_shape(live, http):
    assert stats(http, live) == {"accounts": {}, "requests": 0, "rate_limited": 0, "token_calls": 0}


@pytest.mark.parametrize("sim_options", [{"plan": "free"}])
def test_stats_count_requests_peak_and_429s_per_account(
    sign_in, api, clock, state, live, http, sim_options
):
    lena = sign_in("licensed")["access_token"]  # free plan: Medium is 2/s, Light 4/s
    tara = sign_in("tutor1")["access_token"]
    for _ in range(2):
        assert api("GET", "/users/me/meetings", lena).status_code == 200
    assert api("GET", "/users/me/meetings", lena).status_code == 429
    assert api("GET", "/users/me", lena).status_code == 200  # same second, other label
    clock.advance(seconds=1)
    assert api("GET", "/users/me", lena).status_code == 200
    assert api("GET", "/users/me", tara).status_code == 200
    assert api("GET", "/users/me", "not-a-token").status_code == 401  # nobody's request

    lena_account = state.user("licensed").account_id
    tara_account = state.user("tutor1").account_id
    assert stats(http, live) == {
        "accounts": {
            lena_account: {"requests": 5, "peak_per_second": 4, "rate_limited": 1},
            tara_account: {"requests": 1, "peak_per_second": 1, "rate_limited": 0},
        },
        "requests": 6,
        "rate_limited": 1,
        "token_calls": 2,
    }


def test_per_user_quota_429s_are_counted(sign_in, api, state, live, http):
    access = sign_in("licensed")["access_token"]
    user = state.user("licensed")
    for _ in range(100):
        state.limiter.hit_user_quota(user.id, state.now(), 100, {})
    body = {"topic": "Daily Session", "type": 2, "start_time": "2026-03-03T09:00:00Z"}
    assert api("POST", "/users/me/meetings", access, json=body).status_code == 429
    counted = stats(http, live)["accounts"][user.account_id]
    assert counted == {"requests": 1, "peak_per_second": 1, "rate_limited": 1}


def test_token_calls_count_every_post_to_the_token_endpoint(sign_in, live, http):
    refresh = sign_in("licensed")["refresh_token"]
    rotated = token_request(http, live, {"grant_type": "refresh_token", "refresh_token": refresh})
    assert rotated.status_code == 200
    reused = token_request(http, live, {"grant_type": "refresh_token", "refresh_token": refresh})
    assert reused.status_code == 400  # a refused call is still a call
    assert token_request(http, live, {}, auth=("wrong", "client")).status_code == 400
    assert stats(http, live)["token_calls"] == 4


def test_reset_zeroes_every_counter(sign_in, api, live, http):
    access = sign_in("licensed")["access_token"]
    api("GET", "/users/me", access)
    assert stats(http, live)["requests"] == 1
    reset = http.post(f"{live}/control/stats/reset", timeout=TIMEOUT)
    assert reset.status_code == 200
    empty = {"accounts": {}, "requests": 0, "rate_limited": 0, "token_calls": 0}
    assert reset.json() == empty
    assert stats(http, live) == empty
    api("GET", "/users/me", access)
    assert stats(http, live)["requests"] == 1


def test_stats_through_the_portal_mount_in_development(app_config):
    client = create_app({**app_config, "ZOOM_SIMULATOR": True}).test_client()
    assert client.get("/zoom-sim/control/stats").json["token_calls"] == 0
    assert client.post("/zoom-sim/control/stats/reset").status_code == 200


def test_stats_are_private_in_a_production_demo(database_url):
    """Outside development the stats are a control endpoint: signed-in administrators only."""
    app = create_app(production(database_url, ZOOM_CLIENT_ID="", ZOOM_SIMULATOR=True))
    client = app.test_client()
    https = {"base_url": "https://portal.example.edu"}
    assert client.get("/zoom-sim/control/stats", **https).status_code == 404
    assert client.post("/zoom-sim/control/stats/reset", **https).status_code in (403, 404)
