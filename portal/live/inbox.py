"""Receiving one Zoom delivery: verify, parse, record under its dedupe key, answer.

Order (RELIABILITY §2): the signature and timestamp are checked before the body
is even parsed, so a forged ``endpoint.url_validation`` never gets an answer
(no signing oracle) and nothing unsigned is stored. A signed body that is not a
usable event is a 400 with a log line. A delivery whose dedupe key is already
recorded is a duplicate: 200 and nothing else. The effects run later
(``effects.process_pending``); this module never calls Zoom.
"""

import logging
from dataclasses import dataclass

from peewee import IntegrityError

from ..db import retry_locked, write_tx
from ..models import WebhookDelivery, utcnow
from . import signature
from .events import URL_VALIDATION, MalformedEvent, dedupe_key, load_envelope, parse_event

log = logging.getLogger("portal.webhooks")


@dataclass
class Answer:
    status: int
    body: dict
    delivery_id: int | None = None  # a new delivery to process


def receive(raw, timestamp, sig, secrets, *, tolerance, tracking_id=None, now=None):
    """Handle one delivery's raw body and signature headers; returns the Answer."""
    try:
        secret = signature.verify(raw, timestamp, sig, secrets, now=now, tolerance=tolerance)
    except signature.SignatureError as exc:
        log.warning("zoom webhook refused (401): %s; tracking id %s", exc, tracking_id or "-")
        return Answer(401, {"error": "invalid signature"})
    try:
        envelope = load_envelope(raw)
        if envelope["event"] == URL_VALIDATION:
            return _url_validation(envelope, secret)
        parse_event(envelope)  # every field a handler needs is present and well typed
    except MalformedEvent as exc:
        log.warning("zoom webhook malformed (400): %s; tracking id %s", exc, tracking_id or "-")
        return Answer(400, {"error": "malformed event"})
    return _record(envelope, tracking_id)


def _url_validation(envelope, secret):
    plain = envelope["payload"].get("plainToken")
    if not signature.plain_token_ok(plain):
        raise MalformedEvent("plainToken is missing or not [A-Za-z0-9_-]{1,64}")
    log.info("zoom webhook endpoint validated")
    return Answer(
        200, {"plainToken": plain, "encryptedToken": signature.encrypted_token(secret, plain)}
    )


def _record(envelope, tracking_id):
    key = dedupe_key(envelope)

    def insert():
        with write_tx():
            return WebhookDelivery.create(
                dedupe_key=key,
                event=envelope["event"],
                event_ts=envelope["event_ts"],
                received_at=utcnow(),
                status=WebhookDelivery.NEW,
                payload=envelope["payload"],
            ).id

    try:
        delivery_id = retry_locked(insert, attempts=5)
    except IntegrityError:
        log.info("zoom webhook %s duplicate %s ignored", envelope["event"], key[:15])
        return Answer(200, {"status": "duplicate"})
    log.info(
        "zoom webhook %s recorded as delivery %s; tracking id %s",
        envelope["event"],
        delivery_id,
        tracking_id or "-",
    )
    return Answer(200, {"status": "received"}, delivery_id)
