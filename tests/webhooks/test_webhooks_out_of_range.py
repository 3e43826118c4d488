"""Correctly signed webhooks with every field out of range: a 4xx, or recorded and then
processed to ``done``/``ignored``/``failed``, never a 5xx (issue 15, item 5). And a
chunked body over 64 KiB is a 413 through a real HTTP server, not a truncated 401.
"""

import datetime
import threading

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.webhooks import (
    MEETING_ID,
    compact,
    deauthorized,
    participant,
    post,
    signed_headers,
    started,
    webhook_config,
)
from werkzeug.serving import make_server

from portal.live.effects import process_pending
from portal.models import WebhookDelivery, utcnow

NOW = utcnow()
ABSURD_NUMBERS = [0, -1, 10**15 - 1, 2**63, 2**64, 10**100, 1e300, True, "9" * 15, "abc", None]
ABSURD_TIMES = [
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "2026-13-45T99:99:99Z",
    "",
    12345,
]
ABSURD_TEXT = ["a\x00b", "\x00", "x" * 10_000, "<script>alert(1)</script>", "=cmd|' /C calc'!A0"]


@pytest.fixture
def app_config(app_config):
    return webhook_config(app_config, WEBHOOK_PROCESSING="manual")


def outcome_of(client, event):
    """Post one signed delivery; return (status, the delivery's final status or None)."""
    before = WebhookDelivery.select().count()
    response = post(client, event)
    assert response.status_code < 500, (response.status_code, event)
    if response.status_code >= 400:
        assert WebhookDelivery.select().count() == before  # refused: nothing recorded
        return response.status_code, None
    process_pending()
    row = WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).first()
    assert row.status in ("done", "ignored", "failed"), row.status
    return response.status_code, row.status


def variants():
    """Every field of every handled event set, one at a time, to each absurd value."""
    events = {
        "started": started(NOW),
        "joined": participant("joined", NOW),
        "left": participant("left", NOW),
        "waiting": participant("waiting", NOW),
        "deauthorized": deauthorized(NOW),
    }
    for name, event in events.items():
        for value in ABSURD_NUMBERS:
            yield f"{name} event_ts={value!r}"[:60], {**event, "event_ts": value}
        obj = event["payload"].get("object")
        if obj is None:
            for value in ABSURD_TIMES + ABSURD_TEXT:
                payload = {**event["payload"], "deauthorization_time": value, "user_id": value}
                yield f"{name} user/time={value!r}"[:60], {**event, "payload": payload}
            continue
        for key in ("id", "uuid", "host_id", "start_time", "end_time"):
            for value in ABSURD_NUMBERS + ABSURD_TIMES + ABSURD_TEXT:
                changed = {**obj, key: value}
                yield (
                    f"{name} object.{key}={value!r}"[:60],
                    {**event, "payload": {**event["payload"], "object": changed}},
                )
        person = obj.get("participant")
        if person:
            for key in list(person):
                for value in ABSURD_TIMES + ABSURD_TEXT + [10**100]:
                    changed = {**obj, "participant": {**person, key: value}}
                    yield (
                        f"{name} participant.{key}={value!r}"[:60],
                        {**event, "payload": {**event["payload"], "object": changed}},
                    )
    yield "event name with NUL", {**events["started"], "event": "meeting.\x00started"}


def test_signed_events_with_fields_out_of_range(client):
    """Each variant alone: every field of every handled event, each absurd value."""
    failures, outcomes = [], {}
    for label, event in variants():
        try:
            status, final = outcome_of(client, event)
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - an escape is a 500 in production
            failures.append(f"{label}: {type(exc).__name__}: {str(exc)[:100]}")
            continue
        outcomes[(status, final)] = outcomes.get((status, final), 0) + 1
    assert failures == [], "\n".join(failures[:60])
    assert sum(outcomes.values()) > 500 and (400, None) in outcomes


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ts=st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=20)),
    when=st.one_of(st.datetimes().map(lambda d: d.isoformat() + "Z"), st.text(max_size=40)),
    meeting_id=st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.text(max_size=25)),
    name=st.text(max_size=300),
)
def test_signed_participant_events_with_arbitrary_fields(client, ts, when, meeting_id, name):
    event = participant("joined", NOW)
    obj = event["payload"]["object"]
    obj["id"] = meeting_id
    obj["participant"] = {**obj["participant"], "join_time": when, "user_name": name}
    outcome_of(client, {**event, "event_ts": ts})


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_chunked_body_over_64_kib_is_413_through_a_server(live_server):
    event = deauthorized(utcnow())
    event["payload"]["padding"] = "x" * 70_000
    body = compact(event)

    def chunks():  # a generator body: requests sends it with Transfer-Encoding: chunked
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = requests.post(
        live_server + "/webhooks/zoom", data=chunks(), headers=signed_headers(body), timeout=10
    )
    assert response.status_code == 413
    assert WebhookDelivery.select().count() == 0
    # a small chunked delivery still works
    small = compact(deauthorized(utcnow()))
    response = requests.post(
        live_server + "/webhooks/zoom",
        data=iter([small[:10], small[10:]]),
        headers=signed_headers(small),
        timeout=10,
    )
    assert response.status_code == 200


def test_event_ts_far_in_the_future_is_refused_not_a_500(client):
    for ts in (10**15 - 1, int(datetime.datetime(3000, 1, 2).timestamp() * 1000)):
        status, _ = outcome_of(client, {**started(NOW), "event_ts": ts})
        assert status == 400


def test_a_meeting_id_of_2_63_is_refused(client):
    event = started(NOW)
    event["payload"]["object"]["id"] = str(2**63)
    assert outcome_of(client, event) == (400, None)
    assert MEETING_ID < 2**63
