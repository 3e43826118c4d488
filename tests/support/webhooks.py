"""Signing and event builders shared by the webhook tests (no tests here).

Bodies are compact JSON like Zoom's; every delivery is signed the way Zoom signs
(``v0=`` HMAC-SHA256 over ``v0:<ts>:<raw body>``) unless a test says otherwise.
"""

import datetime
import hashlib
import hmac
import json
import time

from portal import daily
from portal.models import DailySession, ZoomConnection, utcnow

SECRET = "test-webhook-secret-token"
HOST_ID = "zoom-user-tom"
MEETING_ID = 85746065432
OTHER_MEETING_ID = 81234567890


def webhook_config(app_config, **extra):
    """A test app that verifies with SECRET and runs effects inline (huey immediate)."""
    return {
        **app_config,
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET,
        "HUEY_IMMEDIATE": True,
        "WEBHOOK_PROCESSING": "huey",
        **extra,
    }


def compact(data):
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(body, timestamp, secret=SECRET):
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(body, secret=SECRET, timestamp=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "x-zm-request-timestamp": str(timestamp),
        "x-zm-signature": sign(body, timestamp, secret),
    }


def post(client, data, secret=SECRET, timestamp=None, headers=None):
    """POST an envelope (dict) or raw bytes to the endpoint, signed unless told otherwise."""
    body = data if isinstance(data, bytes) else compact(data)
    sent = signed_headers(body, secret, timestamp)
    sent.update(headers or {})
    return client.post("/webhooks/zoom", data=body, headers=sent)


def iso(when):
    return when.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_ms(when):
    return int(when.replace(tzinfo=datetime.UTC).timestamp() * 1000)


def envelope(event, payload, at=None):
    return {"event": event, "payload": payload, "event_ts": epoch_ms(at or utcnow())}


def meeting_object(meeting_id=MEETING_ID, host_id=HOST_ID, as_string=True, **extra):
    return {
        "id": str(meeting_id) if as_string else meeting_id,
        "uuid": f"uuid-{meeting_id}==",
        "host_id": host_id,
        "topic": "Daily Session",
        "type": 2,
        "duration": 480,
        "timezone": "America/New_York",
        **extra,
    }


def started(at, meeting_id=MEETING_ID, host_id=HOST_ID):
    obj = meeting_object(meeting_id, host_id, start_time=iso(at))
    return envelope("meeting.started", {"account_id": "acct", "object": obj}, at)


def ended(at, meeting_id=MEETING_ID, host_id=HOST_ID):
    obj = meeting_object(meeting_id, host_id, start_time=iso(at), end_time=iso(at))
    return envelope("meeting.ended", {"account_id": "acct", "object": obj}, at)


def deleted(at, meeting_id=MEETING_ID, host_id=HOST_ID):
    obj = meeting_object(meeting_id, host_id, as_string=False, start_time=iso(at))
    payload = {
        "account_id": "acct",
        "operator": "tom@zoom.example",
        "operator_id": host_id,
        "operation": "single",
        "object": obj,
    }
    return envelope("meeting.deleted", payload, at)


PARTICIPANT_EVENTS = {
    "waiting": ("meeting.participant_joined_waiting_room", "date_time"),
    "admitted": ("meeting.participant_admitted", "date_time"),
    "joined": ("meeting.participant_joined", "join_time"),
    "left": ("meeting.participant_left", "leave_time"),
}


def participant(kind, at, pid="p-1", name="Stu Student", email="", meeting_id=MEETING_ID):
    event, time_field = PARTICIPANT_EVENTS[kind]
    person = {
        "user_id": "1677" + pid[-1],
        "user_name": name,
        "email": email,
        "participant_uuid": f"UUID-{pid}",
        time_field: iso(at),
    }
    if kind == "left":
        person["leave_reason"] = "left the meeting."
    obj = meeting_object(meeting_id, participant=person, start_time=iso(at))
    return envelope(event, {"account_id": "acct", "object": obj}, at)


def deauthorized(at, user_id=HOST_ID):
    payload = {
        "account_id": "acct",
        "user_id": user_id,
        "signature": "827edc73000",
        "deauthorization_time": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "client_id": "sim-client-id",
    }
    return envelope("app_deauthorized", payload, at)


def connect_tutor(tutor, zoom_user_id=HOST_ID):
    """An active Zoom connection (token columns hold placeholders, never used)."""
    return ZoomConnection.create(
        tutor=tutor,
        zoom_user_id=zoom_user_id,
        email="tom@zoom.example",
        user_type=2,
        access_token_enc="sealed-access",
        refresh_token_enc="sealed-refresh",
        expires_at=utcnow() + datetime.timedelta(hours=1),
        status="active",
        connected_at=utcnow() - datetime.timedelta(days=1),
    )


def todays_session(tutor, center, meeting_id=MEETING_ID, host_id=HOST_ID, **fields):
    """Today's scheduled Daily Session for the tutor (as provisioning leaves it)."""
    return DailySession.create(
        tutor=tutor,
        center=center,
        date=daily.center_today(center),
        status="scheduled",
        zoom_meeting_id=meeting_id,
        host_id=host_id,
        uuid=f"uuid-{meeting_id}==",
        join_url=f"https://us02web.zoom.us/j/{meeting_id}?pwd=abc.1",
        topic="Daily Session",
        **fields,
    )
