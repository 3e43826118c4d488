"""The simulated `/v2` API over real HTTP: shapes, codes, headers, rules."""

import re
from urllib.parse import quote

import pytest
from zoom_sim_helpers import START

MEETING = {
    "topic": "Daily Session",
    "type": 2,
    "start_time": "2026-03-03T09:00:00Z",
    "duration": 60,
    "timezone": "America/New_York",
    "agenda": "portal:claim-1",
    "settings": {"join_before_host": True, "waiting_room": False},
}


@pytest.fixture
def token(sign_in):
    return sign_in("licensed")["access_token"]


def _create(api, token, **changes):
    response = api("POST", "/users/me/meetings", token, json={**MEETING, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def test_users_me(api, token, state):
    response = api("GET", "/users/me", token)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    user = response.json()
    lena = state.user("licensed")
    assert user["id"] == lena.id and user["email"] == lena.email
    assert user["type"] == 2 and user["login_types"] == [100]
    assert user["status"] == "active" and user["verified"] == 1
    assert len(str(user["pmi"])) == 10 and user["account_id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", user["created_at"])


def test_users_by_own_id_or_email_and_others_are_1001(api, token, state):
    lena = state.user("licensed")
    assert api("GET", f"/users/{lena.id}", token).json()["id"] == lena.id
    assert api("GET", f"/users/{lena.email.upper()}", token).json()["id"] == lena.id
    other = api("GET", f"/users/{state.user('google').id}", token)
    assert other.status_code == 404 and other.json()["code"] == 1001
    unknown = api("GET", "/users/nobody@example.com", token)
    assert unknown.json() == {"code": 1001, "message": "User does not exist: nobody@example.com."}


def test_user_settings_subset(api, token):
    settings = api("GET", "/users/me/settings", token).json()
    assert settings["in_meeting"]["waiting_room"] is False
    assert settings["recording"]["auto_recording"] == "none"


def test_response_headers(api, token):
    response = api("GET", "/users/me", token)
    assert response.headers["x-zm-trackingid"].startswith("v=2.0;clid=us06;rid=WEB_")
    assert response.headers["X-RateLimit-Category"] == "Light"
    assert response.headers["X-RateLimit-Type"] == "QPS"
    assert response.headers["X-RateLimit-Limit"] == "30"
    assert response.headers["X-RateLimit-Remaining"] == "29"


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Basic abc", "Bearer "])
def test_invalid_token_is_401_code_124(api, header):
    headers = {"Authorization": header} if header else {}
    response = api("GET", "/users/me", None, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 124, "message": "Invalid access token."}


def test_expired_token_is_401_code_124(api, token, clock):
    clock.advance(seconds=3600)
    response = api("GET", "/users/me", token)
    assert response.status_code == 401
    assert response.json() == {"code": 124, "message": "Access token is expired."}


def test_create_meeting_shape(api, token, state):
    meeting = _create(api, token)
    lena = state.user("licensed")
    assert 10**10 <= meeting["id"] < 10**11
    assert len(meeting["uuid"]) == 24 and meeting["uuid"].endswith("==")
    assert meeting["host_id"] == lena.id and meeting["host_email"] == lena.email
    assert meeting["status"] == "waiting"
    assert meeting["start_time"] == "2026-03-03T09:00:00Z"
    assert meeting["timezone"] == "America/New_York"
    assert meeting["created_at"] == "2026-03-02T14:00:00Z"
    assert re.fullmatch(r"[A-Za-z0-9]{6}", meeting["password"])
    assert meeting["join_url"] == (
        f"https://us06web.zoom.us/j/{meeting['id']}?pwd={meeting['encrypted_password']}.1"
    )
    assert meeting["start_url"].startswith(f"https://us06web.zoom.us/s/{meeting['id']}?zak=")
    assert meeting["settings"]["join_before_host"] is True
    assert meeting["settings"]["approval_type"] == 2
    assert meeting["settings"]["audio"] == "both"
    assert "registration_url" not in meeting


def test_naive_start_time_is_read_in_the_timezone(api, token):
    meeting = _create(api, token, start_time="2026-03-03T09:00:00", timezone="Europe/Berlin")
    assert meeting["start_time"] == "2026-03-03T08:00:00Z"


def test_get_meeting_returns_a_fresh_start_url_each_time(api, token, state, clock):
    created = _create(api, token)
    first = api("GET", f"/meetings/{created['id']}", token).json()
    second = api("GET", f"/meetings/{created['id']}", token).json()
    assert first["start_url"] != second["start_url"] != created["start_url"]
    assert first["join_url"] == created["join_url"]
    assert state.start_url_valid(first["start_url"])
    clock.advance(hours=2)
    assert not state.start_url_valid(first["start_url"])


def test_get_meeting_by_double_encoded_uuid(api, token, state):
    meetings = [_create(api, token) for _ in range(4)]
    slashed = next(m for m in meetings if m["uuid"].startswith("/") or "//" in m["uuid"])
    path = "/meetings/" + quote(quote(slashed["uuid"], safe=""), safe="")
    assert api("GET", path, token).json()["id"] == slashed["id"]


def test_waiting_room_forces_join_before_host_off(api, token):
    meeting = _create(api, token, settings={"waiting_room": True, "join_before_host": True})
    assert meeting["settings"]["join_before_host"] is False
    plain = _create(api, token)
    api("PATCH", f"/meetings/{plain['id']}", token, json={"settings": {"waiting_room": True}})
    fetched = api("GET", f"/meetings/{plain['id']}", token).json()
    assert fetched["settings"]["join_before_host"] is False


@pytest.mark.parametrize(
    "settings",
    [{"approval_type": 0}, {"auto_recording": "cloud"}, {"alternative_hosts": "a@example.com"}],
)
def test_basic_user_cannot_use_paid_features(api, sign_in, settings):
    basic = sign_in("basic")["access_token"]
    response = api("POST", "/users/me/meetings", basic, json={**MEETING, "settings": settings})
    assert response.status_code == 400
    assert response.json() == {"code": 200, "message": "Only available for Paid users."}
    assert api("POST", "/users/me/meetings", basic, json=MEETING).status_code == 201


def test_licensed_registration_gets_a_registration_url(api, token):
    meeting = _create(api, token, settings={"approval_type": 0})
    assert meeting["registration_url"].startswith("https://us06web.zoom.us/meeting/register/")


def test_unassigned_user_cannot_host(api, sign_in):
    unassigned = sign_in("unassigned")["access_token"]
    response = api("POST", "/users/me/meetings", unassigned, json=MEETING)
    assert response.status_code == 400 and response.json()["code"] == 3161


def test_invalid_json_body_is_code_300(api, token):
    response = api(
        "POST",
        "/users/me/meetings",
        token,
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": 300,
        "message": "Request Body should be a valid JSON object.",
    }


def test_field_errors_are_code_300_with_errors(api, token):
    body = {
        "topic": "x" * 201,
        "type": 5,
        "password": "way-too-long-password",
        "start_time": "tomorrow",
        "agenda": "a" * 2001,
        "settings": {"audio": "loud", "waiting_room": "yes"},
    }
    response = api("POST", "/users/me/meetings", token, json=body)
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == 300 and data["message"] == "Validation Failed."
    fields = {e["field"] for e in data["errors"]}
    assert fields == {
        "topic",
        "type",
        "password",
        "start_time",
        "agenda",
        "settings.audio",
        "settings.waiting_room",
    }


def test_patch_is_204_and_merges_nested_settings(api, token):
    meeting = _create(api, token)
    response = api(
        "PATCH",
        f"/meetings/{meeting['id']}",
        token,
        json={"topic": "Renamed", "settings": {"mute_upon_entry": True}},
    )
    assert response.status_code == 204 and response.content == b""
    fetched = api("GET", f"/meetings/{meeting['id']}", token).json()
    assert fetched["topic"] == "Renamed"
    assert fetched["settings"]["mute_upon_entry"] is True
    assert fetched["settings"]["join_before_host"] is True  # untouched keys kept
    assert fetched["agenda"] == MEETING["agenda"]


def test_delete_is_204_then_3001(api, token):
    meeting = _create(api, token)
    assert api("DELETE", f"/meetings/{meeting['id']}", token).status_code == 204
    again = api("DELETE", f"/meetings/{meeting['id']}", token)
    assert again.status_code == 404
    assert again.json() == {"code": 3001, "message": f"Meeting does not exist: {meeting['id']}."}
    assert api("GET", f"/meetings/{meeting['id']}", token).json()["code"] == 3001
    assert api("PATCH", f"/meetings/{meeting['id']}", token, json={}).json()["code"] == 3001


def test_not_the_host_is_3003(api, token, sign_in):
    meeting = _create(api, token)
    other = sign_in("google")["access_token"]
    patch = api("PATCH", f"/meetings/{meeting['id']}", other, json={"topic": "mine now"})
    assert patch.status_code == 400
    assert patch.json() == {"code": 3003, "message": "You are not the meeting host."}
    assert api("DELETE", f"/meetings/{meeting['id']}", other).json()["code"] == 3003
    assert api("GET", f"/meetings/{meeting['id']}", other).json()["code"] == 3001


def test_cannot_delete_a_meeting_in_progress(api, token, state):
    meeting = _create(api, token)
    state.start_meeting(meeting["id"])
    response = api("DELETE", f"/meetings/{meeting['id']}", token)
    assert response.status_code == 400 and response.json()["code"] == 3002


def test_one_time_meetings_expire_30_days_after_start(api, token, clock, sign_in):
    meeting = _create(api, token)
    clock.advance(days=30)  # 30 days after its start (tomorrow 09:00) it still exists
    token = sign_in("licensed")["access_token"]
    assert api("GET", f"/meetings/{meeting['id']}", token).status_code == 200
    clock.advance(days=1)
    token = sign_in("licensed")["access_token"]
    response = api("GET", f"/meetings/{meeting['id']}", token)
    assert response.status_code == 404 and response.json()["code"] == 3001


def test_recurring_meeting_occurrences(api, token):
    meeting = _create(
        api,
        token,
        type=8,
        recurrence={"type": 2, "weekly_days": "2,4", "end_times": 4},
    )
    starts = [o["start_time"] for o in meeting["occurrences"]]
    # Zoom numbers weekdays Sunday=1, so "2,4" is Monday and Wednesday; the 3rd is a Tuesday.
    assert starts == [
        "2026-03-04T09:00:00Z",
        "2026-03-09T09:00:00Z",
        "2026-03-11T09:00:00Z",
        "2026-03-16T09:00:00Z",
    ]
    assert all(o["occurrence_id"].isdigit() for o in meeting["occurrences"])
    occurrence = meeting["occurrences"][1]["occurrence_id"]
    one = api("GET", f"/meetings/{meeting['id']}?occurrence_id={occurrence}", token).json()
    assert one["start_time"] == meeting["occurrences"][1]["start_time"]
    bad = api("GET", f"/meetings/{meeting['id']}?occurrence_id=123", token)
    assert bad.status_code == 400 and bad.json()["code"] == 3000


def test_list_meetings_paginates_with_next_page_token(api, token):
    ids = [_create(api, token, start_time=f"2026-03-{d:02d}T09:00:00Z")["id"] for d in range(3, 8)]
    _create(api, token, type=1)  # instant meetings are never listed
    first = api("GET", "/users/me/meetings?page_size=2", token).json()
    assert first["page_size"] == 2 and first["total_records"] == 5
    assert [m["id"] for m in first["meetings"]] == ids[:2]
    assert first["next_page_token"]
    seen = [m["id"] for m in first["meetings"]]
    token_value = first["next_page_token"]
    while token_value:
        page = api(
            "GET", f"/users/me/meetings?page_size=2&next_page_token={token_value}", token
        ).json()
        seen += [m["id"] for m in page["meetings"]]
        token_value = page["next_page_token"]
    assert seen == ids
    assert page["next_page_token"] == ""
    item = first["meetings"][0]
    assert set(item) >= {"uuid", "id", "host_id", "topic", "type", "start_time", "join_url"}
    assert "start_url" not in item


def test_page_size_is_capped_at_300_and_token_expires(api, token, clock):
    for _ in range(2):
        _create(api, token)
    assert api("GET", "/users/me/meetings?page_size=1000", token).json()["page_size"] == 300
    page = api("GET", "/users/me/meetings?page_size=1", token).json()
    clock.advance(minutes=16)
    stale = api("GET", f"/users/me/meetings?next_page_token={page['next_page_token']}", token)
    assert stale.status_code == 400 and stale.json()["code"] == 300


def test_list_type_filters(api, token, state, clock):
    past = _create(api, token, start_time="2026-03-01T09:00:00Z")
    live = _create(api, token, start_time="2026-03-02T13:30:00Z")
    future = _create(api, token, start_time="2026-03-04T09:00:00Z")
    state.start_meeting(live["id"])

    def ids(kind):
        return [
            m["id"] for m in api("GET", f"/users/me/meetings?type={kind}", token).json()["meetings"]
        ]

    assert ids("scheduled") == [past["id"], live["id"], future["id"]]
    assert ids("live") == [live["id"]]
    assert ids("upcoming") == [live["id"], future["id"]]
    assert ids("upcoming_meetings") == [live["id"], future["id"]]
    assert ids("previous_meetings") == [past["id"]]
    bad = api("GET", "/users/me/meetings?type=everything", token)
    assert bad.status_code == 400 and bad.json()["code"] == 300


def test_list_agenda_is_cut_to_250(api, token):
    _create(api, token, agenda="a" * 600)
    item = api("GET", "/users/me/meetings", token).json()["meetings"][0]
    assert len(item["agenda"]) == 250


def test_unknown_api_path_answers_json(api, token):
    response = api("GET", "/webinars/123", token)
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/json"


def test_start_is_anchored_on_the_simulated_clock(state):
    assert state.now() == START


def test_meeting_ids_are_ascii_int64(api, token):
    meeting = _create(api, token)
    arabic = str(meeting["id"]).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for ref in (arabic, "9" * 5000):
        response = api("GET", f"/meetings/{ref}", token)
        assert response.status_code == 404 and response.json()["code"] == 3001
