"""Signed webhook deliveries to a live receiver that verifies them like the portal must."""

import hashlib
import hmac
import json

from zoom_sim_helpers import CLIENT_ID, CLIENT_SECRET, TIMEOUT

from portal.zoom.simulator import compact_json, sign

BODY = {"topic": "Daily Session", "type": 2, "start_time": "2026-03-02T15:00:00Z"}


def _meeting(state, user="licensed"):
    return state.create_meeting(state.user(user), dict(BODY))


def test_signature_format():
    body = compact_json({"event": "x", "payload": {"a": 1}})
    assert body == b'{"event":"x","payload":{"a":1}}'
    expected = hmac.new(b"secret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    assert sign("secret", 1700000000, body) == "v0=" + expected


def test_url_validation(state, receiver):
    assert state.webhooks.validate_endpoint() is True
    request = receiver.requests[0]
    body = json.loads(request["body"])
    assert body["event"] == "endpoint.url_validation"
    assert len(body["payload"]["plainToken"]) == 22
    assert request["valid"] and request["content_type"] == "application/json"
    assert state.webhooks.endpoint_valid is True


def test_url_validation_fails_on_a_wrong_answer(state, receiver):
    receiver.secret = "someone-elses-secret"  # receiver rejects our signature → plain 200
    assert state.webhooks.validate_endpoint() is False
    assert state.webhooks.endpoint_valid is False


def test_meeting_lifecycle_events(state, receiver, clock):
    meeting = _meeting(state)
    state.start_meeting(meeting.id)
    waiting = state.participant_waiting(meeting.id, "Ada", "ada@example.com")
    state.admit_participant(meeting.id, waiting)
    direct = state.join_participant(meeting.id, "Bob")
    state.leave_participant(meeting.id, direct)
    clock.advance(minutes=45)
    state.end_meeting(meeting.id)
    events = receiver.events
    assert [e["event"] for e in events] == [
        "meeting.started",
        "meeting.participant_joined_waiting_room",
        "meeting.participant_admitted",
        "meeting.participant_joined",
        "meeting.participant_joined",
        "meeting.participant_left",
        "meeting.ended",
    ]
    assert all(r["valid"] for r in receiver.requests)
    started = events[0]
    assert started["event_ts"] == int(state.now().timestamp() * 1000) - 45 * 60 * 1000
    obj = started["payload"]["object"]
    assert obj["id"] == str(meeting.id) and obj["uuid"] == meeting.uuid
    assert obj["host_id"] == state.user("licensed").id and obj["topic"] == "Daily Session"
    assert started["payload"]["account_id"] == state.user("licensed").account_id
    wait_participant = events[1]["payload"]["object"]["participant"]
    assert wait_participant["user_name"] == "Ada" and "date_time" in wait_participant
    assert "date_time" in events[2]["payload"]["object"]["participant"]
    assert "join_time" in events[3]["payload"]["object"]["participant"]
    assert "leave_time" in events[5]["payload"]["object"]["participant"]
    assert events[6]["payload"]["object"]["end_time"] == "2026-03-02T14:45:00Z"
    assert state.meeting(meeting.id).status == "waiting"


def test_delete_via_api_sends_meeting_deleted_with_numeric_id(state, receiver, sign_in, api):
    access = sign_in()["access_token"]
    meeting = api("POST", "/users/me/meetings", access, json=BODY).json()
    assert api("DELETE", f"/meetings/{meeting['id']}", access).status_code == 204
    [request] = receiver.wait_for(1)
    event = json.loads(request["body"])
    assert event["event"] == "meeting.deleted" and request["valid"]
    payload = event["payload"]
    assert payload["object"]["id"] == meeting["id"]  # a number here, unlike meeting.started
    assert payload["operation"] == "all"
    assert payload["operator"] == state.user("licensed").email
    assert payload["operator_id"] == state.user("licensed").id


def test_revoke_sends_app_deauthorized(state, receiver, sign_in, live, http):
    token = sign_in("google")
    http.post(
        f"{live}/oauth/revoke",
        data={"token": token["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=TIMEOUT,
    )
    [request] = receiver.wait_for(1)
    event = json.loads(request["body"])
    assert event["event"] == "app_deauthorized" and request["valid"]
    payload = event["payload"]
    google = state.user("google")
    assert payload["user_id"] == google.id and payload["account_id"] == google.account_id
    assert payload["client_id"] == CLIENT_ID
    assert payload["deauthorization_time"].endswith("Z") and payload["signature"]
    assert "user_data_retention" not in payload


def test_deauthorize_control_and_legacy_field(state, receiver):
    state.config.legacy_deauth_fields = True
    state.deauthorize("sso")
    assert receiver.events[0]["payload"]["user_data_retention"] == "false"


def test_failed_delivery_is_retried_at_5_20_60_minutes_then_dropped(state, receiver, clock):
    receiver.status = 500
    meeting = _meeting(state)
    delivery = state.start_meeting(meeting.id)
    assert delivery.status == "failed" and len(delivery.attempts) == 1
    assert state.webhooks.retry_due() == []  # not due yet
    for minutes in (5, 20, 60):
        clock.advance(minutes=minutes)
        assert state.webhooks.retry_due() == [delivery]
    assert len(delivery.attempts) == 4 and delivery.status == "dropped"
    clock.advance(hours=5)
    assert state.webhooks.retry_due() == []
    bodies = {r["body"] for r in receiver.requests}
    assert len(bodies) == 1 and len(receiver.requests) == 4


def test_retry_succeeds_when_the_endpoint_recovers(state, receiver, clock):
    receiver.status = 503
    delivery = state.start_meeting(_meeting(state).id)
    receiver.status = 204
    clock.advance(minutes=5)
    state.webhooks.retry_due()
    assert delivery.status == "delivered"
    assert [a.status for a in delivery.attempts] == [503, 204]


def test_unreachable_endpoint_is_recorded(state):
    state.config.webhook_url = "http://127.0.0.1:9/webhooks/zoom"
    delivery = state.start_meeting(_meeting(state).id)
    assert delivery.status == "failed" and "ConnectionError" in delivery.attempts[0].error


def test_no_endpoint_configured_records_without_sending(state):
    delivery = state.start_meeting(_meeting(state).id)
    assert delivery.status == "no endpoint" and delivery.attempts == []


def test_bad_signature_and_stale_timestamp_faults(state, receiver):
    meeting = _meeting(state)
    state.corrupt_next_webhook("bad_signature")
    state.start_meeting(meeting.id)
    state.corrupt_next_webhook("stale_timestamp")
    state.join_participant(meeting.id, "Cy")
    state.join_participant(meeting.id, "Di")
    bad, stale, good = receiver.requests
    assert not bad["valid"]
    assert stale["valid"] and int(good["timestamp"]) - int(stale["timestamp"]) >= 3599
    assert good["valid"]


def test_duplicate_delivery_sends_the_same_bytes(state, receiver):
    delivery = state.start_meeting(_meeting(state).id)
    state.webhooks.redeliver(delivery.id)
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert delivery.status == "delivered" and len(delivery.attempts) == 2


def test_out_of_order_delivery(state, receiver):
    meeting = _meeting(state)
    state.webhooks.pause()
    state.start_meeting(meeting.id)
    person = state.join_participant(meeting.id, "Eve")
    state.leave_participant(meeting.id, person)
    assert receiver.requests == []
    state.webhooks.release(reverse=True)
    assert [e["event"] for e in receiver.events] == [
        "meeting.participant_left",
        "meeting.participant_joined",
        "meeting.started",
    ]


def test_revalidation_after_72_hours(state, receiver, clock):
    state.webhooks.validate_endpoint()
    clock.advance(hours=72)
    state.webhooks.retry_due()
    assert [e["event"] for e in receiver.events] == ["endpoint.url_validation"] * 2
