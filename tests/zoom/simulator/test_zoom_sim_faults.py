"""Every fault switch, through the Python API and through the control page's forms."""

import base64
import re
import socket
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from zoom_sim_helpers import CLIENT_ID, CLIENT_SECRET, TIMEOUT, token_request

BODY = {"topic": "Daily Session", "type": 2, "start_time": "2026-03-02T15:00:00Z"}


@pytest.fixture
def access(sign_in):
    return sign_in("licensed")["access_token"]


def _refresh(http, live, refresh_token):
    return token_request(
        http, live, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


def test_latency(state, api, access):
    state.set_latency(0.15)
    started = time.monotonic()
    assert api("GET", "/users/me", access).status_code == 200
    assert time.monotonic() - started >= 0.15


def test_latency_beyond_the_client_timeout(state, live, http, access):
    state.set_latency(0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.get(
            f"{live}/v2/users/me",
            headers={"Authorization": f"Bearer {access}"},
            timeout=(1, 0.05),
        )
    time.sleep(0.3)  # let the slow handler finish before the server shuts down
    state.set_latency(0)


@pytest.mark.parametrize(
    "body, content_type, check",
    [
        (
            "json",
            "application/json",
            lambda r: r.json() == {"code": 503, "message": "Internal Error"},
        ),
        ("xml", "application/xml", lambda r: r.text.startswith("<?xml") and "<code>503" in r.text),
        ("html", "text/html", lambda r: "<h1>503</h1>" in r.text),
        ("empty", None, lambda r: r.content == b""),
    ],
)
def test_fail_next_n_calls(state, api, access, body, content_type, check):
    state.fail_next(2, status=503, body=body)
    for _ in range(2):
        response = api("GET", "/users/me", access)
        assert response.status_code == 503 and check(response)
        if content_type:
            assert response.headers["Content-Type"].startswith(content_type)
    assert api("GET", "/users/me", access).status_code == 200


def test_fail_next_on_the_token_endpoint_only(state, api, access, sign_in, live, http):
    token = sign_in("google")
    state.fail_next(1, status=500, scope="oauth")
    assert api("GET", "/users/me", access).status_code == 200
    assert _refresh(http, live, token["refresh_token"]).status_code == 500
    assert _refresh(http, live, token["refresh_token"]).status_code == 200


def test_drop_refresh_answer_with_500_after_rotating(state, sign_in, live, http):
    token = sign_in()
    state.drop_next_refresh("500")
    lost = _refresh(http, live, token["refresh_token"])
    assert lost.status_code == 500
    retry = _refresh(http, live, token["refresh_token"])
    assert retry.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    assert state.grants_of("licensed")[0].refresh_used is False  # a pair exists nobody holds


def test_drop_refresh_by_closing_the_connection(state, sign_in, live, http):
    token = sign_in()
    state.drop_next_refresh("close")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        http.post(
            f"{live}/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=(2, 10),
        )
    assert time.monotonic() - started < 2  # closed at once, not after the 10 s read timeout
    assert _refresh(http, live, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_dropped_connection_is_closed_on_a_keep_alive_socket(state, sign_in, live):
    token = sign_in()
    state.drop_next_refresh("close")
    parts = urlsplit(live)
    body = urlencode({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    head = (
        f"POST /oauth/token HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: keep-alive\r\n"
        f"Authorization: Basic {basic}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall((head + body).encode())
        started = time.monotonic()
        try:
            answer = sock.recv(1024)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # no status line: the server closed the connection
        assert time.monotonic() - started < 2


def test_delete_meeting_behind_the_portals_back(state, api, access, receiver):
    meeting = api("POST", "/users/me/meetings", access, json=BODY).json()
    state.zoom_delete_meeting(meeting["id"])
    assert api("GET", f"/meetings/{meeting['id']}", access).json()["code"] == 3001
    assert receiver.events[0]["event"] == "meeting.deleted"
    silent = api("POST", "/users/me/meetings", access, json=BODY).json()
    state.zoom_delete_meeting(silent["id"], notify=False)
    assert len(receiver.requests) == 1


def test_second_daily_session_made_in_zoom(state, api, access):
    api("POST", "/users/me/meetings", access, json=BODY)
    made = state.create_daily_session("licensed")
    listed = api("GET", "/users/me/meetings", access).json()["meetings"]
    assert [m["topic"] for m in listed] == ["Daily Session", "Daily Session"]
    assert made.origin == "zoom"
    assert state.limiter.user_quota_used(state.user("licensed").id, state.now()) == 1


def test_revoke_users_tokens(state, api, sign_in, live, http):
    token = sign_in()
    assert state.revoke_user_tokens("licensed") == 1
    assert api("GET", "/users/me", token["access_token"]).json()["code"] == 124
    assert _refresh(http, live, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_expire_access_tokens_then_refresh_works(state, api, sign_in, live, http):
    token = sign_in()
    state.expire_access_tokens("licensed")
    assert api("GET", "/users/me", token["access_token"]).json() == {
        "code": 124,
        "message": "Access token is expired.",
    }
    fresh = _refresh(http, live, token["refresh_token"]).json()
    assert api("GET", "/users/me", fresh["access_token"]).status_code == 200


def test_downgrade_to_basic(state, api, access):
    state.downgrade_to_basic("licensed")
    assert api("GET", "/users/me", access).json()["type"] == 1
    paid = {**BODY, "settings": {"auto_recording": "cloud"}}
    assert api("POST", "/users/me/meetings", access, json=paid).json()["code"] == 200
    assert state.user("licensed").max_minutes == 40


def test_switch_login_method(state, api, access):
    state.set_login_method("licensed", [1])
    assert api("GET", "/users/me", access).json()["login_types"] == [1]


def test_delete_user(state, api, sign_in, live, http):
    token = sign_in()
    state.delete_user("licensed")
    assert api("GET", "/users/me", token["access_token"]).status_code == 401
    refresh = _refresh(http, live, token["refresh_token"]).json()
    assert refresh == {"reason": "The owner of the token does not exist", "error": "invalid_grant"}
    with pytest.raises(KeyError):
        state.issue_code("licensed", "http://portal.test/zoom/callback")


def test_expire_meeting(state, api, access):
    meeting = api("POST", "/users/me/meetings", access, json=BODY).json()
    state.expire_meeting(meeting["id"])
    assert api("GET", f"/meetings/{meeting['id']}", access).status_code == 404


def test_localized_error_messages(state, api, access):
    state.localize_errors()
    response = api("GET", "/meetings/12345678901", access)
    assert response.json() == {"code": 3001, "message": "Конференция не существует."}
    state.reset_faults()
    assert api("GET", "/meetings/12345678901", access).json()["message"].startswith("Meeting")


def test_reset_faults(state, api, access):
    state.fail_next(5)
    state.set_latency(1)
    state.reset_faults()
    assert api("GET", "/users/me", access).status_code == 200


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.fail_next(1, status=200),
        lambda s: s.fail_next(1, body="yaml"),
        lambda s: s.drop_next_refresh("later"),
        lambda s: s.set_latency(-1),
        lambda s: s.corrupt_next_webhook("nope"),
        lambda s: s.set_user_type("licensed", 3),
    ],
)
def test_bad_switch_values_are_refused(state, call):
    with pytest.raises(ValueError):
        call(state)


# the control page --------------------------------------------------------------------------


def test_control_page_lists_users_tokens_and_meetings_without_token_values(
    state, live, http, sign_in, api
):
    token = sign_in()
    meeting = api("POST", "/users/me/meetings", token["access_token"], json=BODY).json()
    page = http.get(f"{live}/", timeout=TIMEOUT)
    assert page.status_code == 200
    text = page.text
    assert "Lena Licensed" in text and "Basic (free)" in text and "Google" in text
    assert str(meeting["id"]) in text and "active" in text
    assert token["access_token"] not in text and token["refresh_token"] not in text
    assert token["access_token"][:60] not in text
    assert "<script" not in text and "style=" not in text and "<style" not in text
    assert 'href="/static/css/app.css"' in text


def _post(http, live, action, **data):
    return http.post(f"{live}/control/{action}", data=data, allow_redirects=False, timeout=TIMEOUT)


def test_control_forms_flip_switches(state, live, http, sign_in, api, clock):
    token = sign_in()
    meeting = api("POST", "/users/me/meetings", token["access_token"], json=BODY).json()
    lena = state.user("licensed")
    steps = [
        ("latency", {"milliseconds": "20"}, lambda: state.faults.latency == 0.02),
        ("fail_next", {"count": "2", "status": "503", "body": "xml", "scope": "api"},
         lambda: (state.faults.fail_count, state.faults.fail_body) == (2, "xml")),
        ("drop_refresh", {"mode": "close"}, lambda: state.faults.drop_refresh == "close"),
        ("webhook_fault", {"kind": "stale_timestamp"},
         lambda: state.faults.webhook_fault == "stale_timestamp"),
        ("localize_errors", {"on": "1"}, lambda: state.config.localized_errors),
        ("reset_faults", {}, lambda: state.faults.fail_count == 0),
        ("set_user_type", {"user": lena.id, "user_type": "1"}, lambda: lena.type == 1),
        ("set_login_method", {"user": lena.id, "login_type": "101"},
         lambda: lena.login_types == [101]),
        ("start_meeting", {"meeting": str(meeting["id"])},
         lambda: state.meeting(meeting["id"]).status == "started"),
        ("participant", {"meeting": str(meeting["id"]), "step": "waiting", "name": "Ann"},
         lambda: len(state.meeting(meeting["id"]).participants) == 1),
        ("end_meeting", {"meeting": str(meeting["id"])},
         lambda: state.meeting(meeting["id"]).ended_at is not None),
        ("create_daily_session", {"user": lena.id},
         lambda: len(state.meetings_of("licensed")) == 2),
        ("expire_meeting", {"meeting": str(meeting["id"])},
         lambda: state.meeting(meeting["id"]).expired),
        ("expire_access_tokens", {"user": lena.id},
         lambda: state.grants_of(lena.id)[0].access_expires_at <= state.now()),
        ("revoke_tokens", {"user": lena.id}, lambda: state.grants_of(lena.id)[0].revoked),
        ("advance_clock", {"minutes": "30", "hours": "1"},
         lambda: state.now() - clock() == timedelta(minutes=90)),
        ("pause_webhooks", {}, lambda: state.webhooks.paused),
        ("release_webhooks", {"order": "reverse"}, lambda: not state.webhooks.paused),
        ("validate_webhook", {}, lambda: state.webhooks.endpoint_valid is None),
        ("retry_webhooks", {}, lambda: True),
        ("delete_user", {"user": state.user("sso").id}, lambda: state.user("sso").deleted),
    ]  # fmt: skip
    for action, data, check in steps:
        response = _post(http, live, action, **data)
        assert response.status_code == 303, (action, response.text[:500])
        assert check(), action
    page = http.get(live + response.headers["Location"], timeout=TIMEOUT)
    assert "Done: Delete user" in page.text


def test_control_delete_meeting_form(state, live, http, sign_in, api):
    token = sign_in()
    meeting = api("POST", "/users/me/meetings", token["access_token"], json=BODY).json()
    response = _post(http, live, "delete_meeting", meeting=str(meeting["id"]), notify="1")
    assert response.status_code == 303 and state.meeting(meeting["id"]).deleted


def test_control_participant_admit_and_leave(state, live, http, sign_in, api):
    token = sign_in()
    meeting = api("POST", "/users/me/meetings", token["access_token"], json=BODY).json()
    state.start_meeting(meeting["id"])
    person = state.participant_waiting(meeting["id"], "Ann")
    assert _post(http, live, "participant", meeting=str(meeting["id"]), participant=person,
                 step="admit").status_code == 303  # fmt: skip
    assert state.meeting(meeting["id"]).participants[person]["state"] == "joined"
    assert _post(http, live, "participant", meeting=str(meeting["id"]), participant=person,
                 step="leave").status_code == 303  # fmt: skip
    assert state.meeting(meeting["id"]).participants[person]["state"] == "left"


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("latency", {"milliseconds": "soon"}, "milliseconds must be a whole number"),
        ("end_meeting", {"meeting": "12345678901"}, "End meeting"),
        ("set_user_type", {"user": "nobody", "user_type": "2"}, "nobody"),
        ("participant", {"meeting": "1", "step": "dance"}, "Participant"),
    ],
)
def test_control_errors_answer_400_with_a_message(live, http, name, data, message):
    response = _post(http, live, name, **data)
    assert response.status_code == 400
    assert message in response.text and 'role="alert"' in response.text


def test_unknown_control_action_is_404(live, http):
    assert _post(http, live, "explode").status_code == 404


def test_control_page_shows_deliveries(state, receiver, live, http):
    state.deauthorize("google")
    page = http.get(f"{live}/", timeout=TIMEOUT).text
    assert re.search(r"<code>app_deauthorized</code></td><td>delivered</td>", page)
