"""POST /webhooks/zoom: signature and timestamp first, URL validation, limits, never a 5xx.

RELIABILITY §7 lines 10–15: forged, missing, malformed or stale → 401 and no row;
url_validation only when signed, only for plain tokens; 413 / 415 / 400 limits.
"""

import hashlib
import hmac
import json
import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.webhooks import (
    SECRET,
    compact,
    deauthorized,
    envelope,
    participant,
    post,
    sign,
    signed_headers,
)

from portal.live import signature
from portal.live.signature import SignatureError, verify
from portal.models import WebhookDelivery, utcnow


@pytest.fixture
def app_config(app_config):
    from support.webhooks import webhook_config

    return webhook_config(app_config)


BODY = compact(deauthorized(utcnow(), user_id="nobody-we-know"))
NOW = 1_700_000_000


def headers_for(body, **override):
    headers = signed_headers(body, timestamp=NOW)
    headers.update(override)
    return headers


# --- the verification function: the vectors --------------------------------------------------


def test_zoom_documented_vector():
    # Computed independently of the portal's code: hex(HMAC_SHA256(secret, "v0:ts:body")).
    body = b'{"event":"x","payload":{"a":1},"event_ts":1}'
    expected = hmac.new(b"s3cret", b"v0:1688752773:" + body, hashlib.sha256).hexdigest()
    assert signature.signature("s3cret", "1688752773", body) == "v0=" + expected
    assert verify(body, "1688752773", "v0=" + expected, ["s3cret"], now=1688752773) == "s3cret"


def test_valid_signature_passes():
    assert verify(BODY, str(NOW), sign(BODY, NOW), [SECRET], now=NOW) == SECRET


@pytest.mark.parametrize(
    "case",
    [
        "flipped body bit",
        "flipped signature bit",
        "wrong secret",
        "upper-case hex",
        "missing v0=",
        "v1= prefix",
        "truncated",
        "empty",
        "missing",
        "signature of another timestamp",
    ],
)
def test_forged_or_malformed_signatures_fail(case):
    good = sign(BODY, NOW)
    body, sig = BODY, good
    if case == "flipped body bit":
        body = bytes([BODY[0] ^ 0x01]) + BODY[1:]
    elif case == "flipped signature bit":
        last = good[-1]
        sig = good[:-1] + ("0" if last != "0" else "1")
    elif case == "wrong secret":
        sig = sign(BODY, NOW, "someone-elses-secret")
    elif case == "upper-case hex":
        sig = "v0=" + good[3:].upper()
    elif case == "missing v0=":
        sig = good[3:]
    elif case == "v1= prefix":
        sig = "v1=" + good[3:]
    elif case == "truncated":
        sig = good[:-2]
    elif case == "empty":
        sig = ""
    elif case == "missing":
        sig = None
    elif case == "signature of another timestamp":
        sig = sign(BODY, NOW - 1)
    with pytest.raises(SignatureError):
        verify(body, str(NOW), sig, [SECRET], now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86400])
def test_timestamps_outside_five_minutes_fail(skew):
    ts = NOW + skew
    with pytest.raises(SignatureError):
        verify(BODY, str(ts), sign(BODY, ts), [SECRET], now=NOW)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_inside_five_minutes_pass(skew):
    ts = NOW + skew
    assert verify(BODY, str(ts), sign(BODY, ts), [SECRET], now=NOW)


@pytest.mark.parametrize(
    "ts", ["", "abc", "1.7e9", "-1700000000", " 1700000000", "1700000000 ", "١٧٠٠", "0x65", None]
)
def test_non_numeric_timestamps_fail(ts):
    with pytest.raises(SignatureError):
        verify(BODY, ts, sign(BODY, ts or ""), [SECRET], now=NOW)


def test_rollover_accepts_either_secret_and_answers_with_the_one_that_signed():
    secrets = signature.secrets_from(" new-secret , old-secret ")
    assert secrets == ["new-secret", "old-secret"]
    assert verify(BODY, str(NOW), sign(BODY, NOW, "old-secret"), secrets, now=NOW) == "old-secret"
    assert verify(BODY, str(NOW), sign(BODY, NOW, "new-secret"), secrets, now=NOW) == "new-secret"
    with pytest.raises(SignatureError):
        verify(BODY, str(NOW), sign(BODY, NOW, "retired"), secrets, now=NOW)


def test_no_secret_configured_refuses_everything():
    with pytest.raises(SignatureError):
        verify(BODY, str(NOW), sign(BODY, NOW, ""), [], now=NOW)


# --- the endpoint: 401 and nothing stored ---------------------------------------------------


def test_signed_current_event_is_acknowledged_and_recorded(client):
    response = post(client, deauthorized(utcnow(), user_id="nobody"))
    assert response.status_code == 200
    assert response.get_json() == {"status": "received"}
    assert WebhookDelivery.select().count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"x-zm-signature": ""},
        {"x-zm-signature": "v0=" + "0" * 64},
        {"x-zm-signature": "garbage"},
        {"x-zm-request-timestamp": "soon"},
        {"x-zm-request-timestamp": str(int(time.time()) - 301)},
        {"x-zm-request-timestamp": str(int(time.time()) + 301)},
    ],
)
def test_endpoint_refuses_unsigned_forged_and_stale(client, headers, caplog):
    body = compact(deauthorized(utcnow()))
    sent = signed_headers(body)
    sent.update(headers)
    with caplog.at_level(logging.WARNING, logger="portal.webhooks"):
        response = client.post("/webhooks/zoom", data=body, headers=sent)
    assert response.status_code == 401
    assert "encryptedToken" not in response.get_data(as_text=True)
    assert WebhookDelivery.select().count() == 0
    assert "zoom webhook refused (401)" in caplog.text
    if sent["x-zm-signature"]:
        assert sent["x-zm-signature"] not in caplog.text  # signatures are never logged


def test_endpoint_refuses_missing_headers(client):
    body = compact(deauthorized(utcnow()))
    response = client.post("/webhooks/zoom", data=body, content_type="application/json")
    assert response.status_code == 401
    assert WebhookDelivery.select().count() == 0


def test_stale_timestamp_with_a_fresh_signature_is_refused(client):
    stale = int(time.time()) - 301
    assert post(client, deauthorized(utcnow()), timestamp=stale).status_code == 401
    assert WebhookDelivery.select().count() == 0


def test_rollover_through_the_endpoint(app, client):
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = "brand-new-secret," + SECRET
    assert post(client, deauthorized(utcnow(), "a")).status_code == 200
    assert post(client, deauthorized(utcnow(), "b"), secret="brand-new-secret").status_code == 200
    assert post(client, deauthorized(utcnow(), "c"), secret="retired").status_code == 401
    assert WebhookDelivery.select().count() == 2


def test_csrf_is_exempt_only_for_the_webhook(app):
    assert app.extensions["csrf"]._exempt_views == {"portal.webhooks.views.zoom_webhook"}


# --- URL validation -------------------------------------------------------------------------


def validation(token):
    return {
        "payload": {"plainToken": token},
        "event_ts": 1654503849680,
        "event": "endpoint.url_validation",
    }


def test_url_validation_with_a_valid_signature(client):
    response = post(client, validation("qgg8vlvZRS6UYooatFL8Aw"))
    assert response.status_code == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert response.get_json() == {
        "plainToken": "qgg8vlvZRS6UYooatFL8Aw",
        "encryptedToken": expected,
    }
    assert WebhookDelivery.select().count() == 0  # nothing to dedupe or apply


def test_url_validation_answers_with_the_secret_that_signed(app, client):
    app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] = "brand-new-secret," + SECRET
    response = post(client, validation("abc"), secret="brand-new-secret")
    expected = hmac.new(b"brand-new-secret", b"abc", hashlib.sha256).hexdigest()
    assert response.get_json()["encryptedToken"] == expected


@pytest.mark.parametrize(
    "override",
    [
        {"x-zm-signature": "v0=" + "1" * 64},
        {"x-zm-request-timestamp": "1654503849"},
        {"x-zm-signature": ""},
    ],
)
def test_url_validation_without_a_valid_signature_gets_no_token(client, override):
    response = post(client, validation("qgg8vlvZRS6UYooatFL8Aw"), headers=override)
    assert response.status_code == 401
    assert "encryptedToken" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "token",
    [
        "v0:1700000000:{}",  # would make us sign a forged event (signing oracle)
        "a" * 65,
        "",
        "has space",
        "semi;colon",
        "ünïcode",
        12345,
        None,
        ["list"],
    ],
)
def test_url_validation_refuses_odd_plain_tokens(client, token):
    response = post(client, validation(token))
    assert response.status_code == 400
    assert "encryptedToken" not in response.get_data(as_text=True)


def test_url_validation_accepts_64_characters(client):
    assert post(client, validation("A-_z" * 16)).status_code == 200


# --- limits ---------------------------------------------------------------------------------


def test_body_over_64_kib_is_413(client):
    event = deauthorized(utcnow())
    event["payload"]["padding"] = "x" * (64 * 1024)
    response = post(client, event)
    assert response.status_code == 413
    assert WebhookDelivery.select().count() == 0


def test_chunked_body_over_64_kib_is_413(client):
    import io

    body = compact({"event": "app_deauthorized", "payload": {"p": "x" * 70000}, "event_ts": 1})
    headers = signed_headers(body)
    response = client.post("/webhooks/zoom", input_stream=io.BytesIO(body), headers=headers)
    assert response.status_code == 413


def test_body_of_exactly_64_kib_is_accepted(client):
    event = deauthorized(utcnow())
    event["payload"]["padding"] = ""
    size = len(compact(event))
    event["payload"]["padding"] = "x" * (64 * 1024 - size)
    assert len(compact(event)) == 64 * 1024
    assert post(client, event).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "text/json", ""],
)
def test_wrong_content_type_is_415(client, content_type):
    body = compact(deauthorized(utcnow()))
    headers = signed_headers(body)
    headers["Content-Type"] = content_type
    response = client.post("/webhooks/zoom", data=body, headers=headers)
    assert response.status_code == 415
    assert WebhookDelivery.select().count() == 0


def test_json_with_charset_is_fine(client):
    assert (
        post(
            client,
            deauthorized(utcnow()),
            headers={"Content-Type": "application/json; charset=utf-8"},
        ).status_code
        == 200
    )


MALFORMED = {
    "not json": b"{not json",
    "not utf-8": b'{"event":"\xff"}',
    "a list": b"[1,2,3]",
    "a string": b'"app_deauthorized"',
    "NaN": b'{"event":"app_deauthorized","event_ts":NaN,"payload":{"user_id":"u"}}',
    "no event": compact({"payload": {}, "event_ts": 1}),
    "event not a string": compact({"event": 7, "payload": {}, "event_ts": 1}),
    "event too long": compact({"event": "x" * 81, "payload": {}, "event_ts": 1}),
    "no payload": compact({"event": "app_deauthorized", "event_ts": 1}),
    "payload a list": compact({"event": "app_deauthorized", "payload": [], "event_ts": 1}),
    "no event_ts": compact({"event": "app_deauthorized", "payload": {"user_id": "u"}}),
    "event_ts a float": compact(
        {"event": "app_deauthorized", "payload": {"user_id": "u"}, "event_ts": 1.5}
    ),
    "event_ts true": compact(
        {"event": "app_deauthorized", "payload": {"user_id": "u"}, "event_ts": True}
    ),
    "deauthorized without user": compact(
        {"event": "app_deauthorized", "payload": {"account_id": "a"}, "event_ts": 1}
    ),
    "meeting without object": compact(
        {"event": "meeting.started", "payload": {"account_id": "a"}, "event_ts": 1}
    ),
    "meeting id not a number": compact(
        {"event": "meeting.started", "payload": {"object": {"id": "12ab"}}, "event_ts": 1}
    ),
    "meeting id a bool": compact(
        {"event": "meeting.ended", "payload": {"object": {"id": True}}, "event_ts": 1}
    ),
    "meeting id a dict": compact(
        {"event": "meeting.deleted", "payload": {"object": {"id": {"x": 1}}}, "event_ts": 1}
    ),
    "participant missing": compact(
        {"event": "meeting.participant_joined", "payload": {"object": {"id": "1"}}, "event_ts": 1}
    ),
    "participant without any id": compact(
        {
            "event": "meeting.participant_joined",
            "payload": {"object": {"id": "1", "participant": {"user_name": "A"}}},
            "event_ts": 1,
        }
    ),
    "deep nesting": b'{"event":"x","payload":' + b"[" * 30000 + b"]" * 30000 + b',"event_ts":1}',
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_signed_but_malformed_is_400_with_a_log_line(client, caplog, name):
    body = MALFORMED[name]
    with caplog.at_level(logging.WARNING, logger="portal.webhooks"):
        response = post(client, body)
    assert response.status_code == 400, name
    assert "malformed" in caplog.text
    assert WebhookDelivery.select().count() == 0


def test_unknown_events_are_acknowledged_and_ignored(app, client):
    response = post(client, envelope("recording.completed", {"object": {"id": 1}}))
    assert response.status_code == 200
    assert WebhookDelivery.get().status == "ignored"


def test_only_post_is_allowed(client):
    assert client.get("/webhooks/zoom").status_code == 405


def test_meeting_ids_as_strings_and_numbers_are_both_accepted(client):
    for meeting_id in ("85746065432", 85746065432):
        event = participant("joined", utcnow(), pid=f"p-{type(meeting_id).__name__}")
        event["payload"]["object"]["id"] = meeting_id
        assert post(client, event).status_code == 200


# --- property: any mutation is rejected -----------------------------------------------------

GOOD = compact(deauthorized(utcnow(), user_id="property-user"))
GOOD_SIG = sign(GOOD, NOW)


@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_any_mutation_of_body_timestamp_or_signature_is_rejected(data):
    part = data.draw(st.sampled_from(["body", "timestamp", "signature"]))
    body, ts, sig = GOOD, str(NOW), GOOD_SIG
    if part == "body":
        body = data.draw(st.binary(max_size=300).filter(lambda b: b != GOOD))
        if data.draw(st.booleans()):  # or a one-byte change of the real body
            i = data.draw(st.integers(0, len(GOOD) - 1))
            flip = data.draw(st.integers(1, 255))
            body = GOOD[:i] + bytes([GOOD[i] ^ flip]) + GOOD[i + 1 :]
    elif part == "timestamp":
        ts = data.draw(
            st.one_of(
                st.text(max_size=14),
                st.integers(-(10**12), 10**12).map(str),
            ).filter(lambda t: t != str(NOW))
        )
    else:
        sig = data.draw(st.text(max_size=80).filter(lambda s: s != GOOD_SIG))
    # A new timestamp within the window is only valid with a signature made for it.
    with pytest.raises(SignatureError):
        verify(body, ts, sig, [SECRET], now=NOW)


ALPHABET = "0123456789abcdefABCDEFv=x: -"


def replace_char(text, position, shift):
    """text with one character swapped for another printable one."""
    i = position % len(text)
    old = text[i]
    new = ALPHABET[(ALPHABET.find(old) + 1 + shift % (len(ALPHABET) - 1)) % len(ALPHABET)]
    return text[:i] + new + text[i + 1 :]


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    part=st.sampled_from(["body", "timestamp", "signature"]),
    position=st.integers(0, 10_000),
    flip=st.integers(1, 255),
)
def test_endpoint_rejects_any_mutated_delivery(client, part, position, flip):
    body = compact(deauthorized(utcnow(), user_id="property-user"))
    headers = signed_headers(body)
    if part == "body":
        i = position % len(body)
        body = body[:i] + bytes([body[i] ^ flip]) + body[i + 1 :]
    else:
        name = "x-zm-request-timestamp" if part == "timestamp" else "x-zm-signature"
        headers[name] = replace_char(headers[name], position, flip)
    response = client.post("/webhooks/zoom", data=body, headers=headers)
    assert response.status_code == 401
    assert WebhookDelivery.select().count() == 0


def test_property_helper_sanity(client):
    # The unmutated delivery of the property test is accepted (so rejections mean something).
    body = compact(deauthorized(utcnow(), user_id="property-user"))
    response = client.post("/webhooks/zoom", data=body, headers=signed_headers(body))
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"status": "received"}
