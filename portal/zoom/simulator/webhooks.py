"""Webhook deliveries from the simulated Zoom to the app's endpoint (ZOOM_API.md §4, §9.6).

Each delivery is an HTTP POST of compact JSON (`{"event","payload","event_ts"}`, separators as in
`JSON.stringify`) with headers `Content-Type: application/json`, `x-zm-request-timestamp`
(epoch seconds, wall clock) and `x-zm-signature: v0=hex(HMAC_SHA256(secret, "v0:"+ts+":"+body))`,
sent with `requests` and a `webhook_timeout` (3 s). 200/204 is success; anything else is retried
by `retry_due()` at +5, +20 and +60 simulated minutes, then dropped.
`endpoint.url_validation` expects 200 with `{"plainToken", "encryptedToken": hex(HMAC(secret,
plainToken))}`. Faults: a bad signature or a stale timestamp on the next delivery, duplicate
delivery (`redeliver`), and out-of-order delivery (`pause()` then `release(reverse=True)`).
Deliveries are plain function calls; nothing runs in the background.
"""

import hashlib
import hmac
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import requests

RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=20), timedelta(minutes=60))
REVALIDATE_AFTER = timedelta(hours=72)
MAX_KEPT = 500


def compact_json(data):
    """Serialize like JavaScript's `JSON.stringify` (no spaces, non-ASCII kept)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign(secret, timestamp, body):
    """Return the `x-zm-signature` value for a raw body and timestamp."""
    message = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encrypted_token(secret, plain_token):
    """Return the `encryptedToken` a URL-validation answer must carry."""
    return hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()


@dataclass
class Attempt:
    at: object  # simulated time
    status: int | None
    error: str = ""
    elapsed_ms: int = 0


@dataclass
class Delivery:
    id: int
    event: str
    envelope: dict
    body: bytes
    created_at: object
    status: str = "pending"  # pending | held | sending | delivered | failed | dropped | no endpoint
    attempts: list = field(default_factory=list)
    next_attempt_at: object = None
    fault: str | None = None  # bad_signature | stale_timestamp (first attempt only)

    @property
    def payload(self):
        return self.envelope["payload"]


class WebhookSender:
    """Queue and POST deliveries for one `SimulatorState`; `http` may be a `requests.Session`."""

    def __init__(self, state, http=None):
        self.state = state
        self.http = http
        self.deliveries = []
        self.paused = False
        self.endpoint_valid = None
        self.validated_at = None
        self._next_id = 1
        # One flush at a time, so events leave in the order they happened even when two
        # responses close at once; out-of-order delivery is a deliberate fault (`release`).
        self._flush_lock = threading.Lock()

    # producing --------------------------------------------------------------------------------

    def emit(self, event, payload, *, deliver=True):
        """Record an event; POST it now unless `deliver` is false or deliveries are paused."""
        state = self.state
        with state.lock:
            envelope = {
                "event": event,
                "payload": payload,
                "event_ts": int(state.now().timestamp() * 1000),
            }
            delivery = Delivery(
                id=self._next_id,
                event=event,
                envelope=envelope,
                body=compact_json(envelope),
                created_at=state.now(),
                fault=state.take_webhook_fault(),
            )
            self._next_id += 1
            if not state.config.webhook_url:
                delivery.status = "no endpoint"
            elif self.paused:
                delivery.status = "held"
            self.deliveries.append(delivery)
            del self.deliveries[:-MAX_KEPT]
        if deliver and delivery.status == "pending":
            self.send(delivery)
        return delivery

    def events(self, name=None):
        """Return recorded deliveries (optionally of one event), oldest first."""
        with self.state.lock:
            return [d for d in self.deliveries if name is None or d.event == name]

    # sending ----------------------------------------------------------------------------------

    def send(self, delivery, *, duplicate=False):
        """POST one delivery now and record the outcome; returns the HTTP status or None."""
        state = self.state
        with state.lock:
            if delivery.status == "sending" or not state.config.webhook_url:
                return None
            if delivery.status in {"delivered", "dropped"} and not duplicate:
                return None
            previous = delivery.status
            delivery.status = "sending"
            url, secret = state.config.webhook_url, state.config.webhook_secret
            fault = delivery.fault if not delivery.attempts else None
            timeout = state.config.webhook_timeout
        timestamp = int(time.time()) - (3600 if fault == "stale_timestamp" else 0)
        signing_key = secret + "-wrong" if fault == "bad_signature" else secret
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Zoom Marketplace/1.1a",
            "x-zm-request-timestamp": str(timestamp),
            "x-zm-signature": sign(signing_key, timestamp, delivery.body),
            "x-zm-trackingid": "Webhook_" + secrets.token_hex(16),
        }
        started = time.monotonic()
        status, error = None, ""
        try:
            response = self._post(url, delivery.body, headers, timeout)
            status = response.status_code
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        elapsed = int((time.monotonic() - started) * 1000)
        with state.lock:
            delivery.attempts.append(Attempt(state.now(), status, error, elapsed))
            if status in (200, 204):
                delivery.status = "delivered"
                delivery.next_attempt_at = None
            elif duplicate and previous == "delivered":
                delivery.status = "delivered"
            else:
                failures = sum(1 for a in delivery.attempts if a.status not in (200, 204))
                if failures > len(RETRY_DELAYS):
                    delivery.status = "dropped"
                    delivery.next_attempt_at = None
                else:
                    delivery.status = "failed"
                    delivery.next_attempt_at = state.now() + RETRY_DELAYS[failures - 1]
        return status

    def flush(self):
        """POST every delivery that has never been attempted (used after a response is sent)."""
        with self._flush_lock:
            with self.state.lock:
                todo = [d for d in self.deliveries if d.status == "pending" and not d.attempts]
            for delivery in todo:
                self.send(delivery)
        return todo

    def retry_due(self):
        """Retry failed deliveries whose time has come on the simulated clock; return them."""
        now = self.state.now()
        with self.state.lock:
            due = [
                d
                for d in self.deliveries
                if d.status == "failed" and d.next_attempt_at and d.next_attempt_at <= now
            ]
        for delivery in due:
            self.send(delivery)
        if self.validated_at and now - self.validated_at >= REVALIDATE_AFTER:
            self.validate_endpoint()
        return due

    def redeliver(self, delivery_id):
        """Send an already-delivered event again, byte for byte (duplicate delivery)."""
        with self.state.lock:
            delivery = next(d for d in self.deliveries if d.id == delivery_id)
        return self.send(delivery, duplicate=True)

    def pause(self):
        """Hold new deliveries until `release()`."""
        with self.state.lock:
            self.paused = True

    def release(self, reverse=False):
        """Send held deliveries, in order or reversed (out-of-order delivery)."""
        with self.state.lock:
            self.paused = False
            held = [d for d in self.deliveries if d.status == "held"]
            for delivery in held:
                delivery.status = "pending"
        for delivery in reversed(held) if reverse else held:
            self.send(delivery)
        return held

    def validate_endpoint(self):
        """Run Zoom's `endpoint.url_validation` challenge; return whether the endpoint passed."""
        state = self.state
        if not state.config.webhook_url:
            return False
        plain = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(22))
        delivery = self.emit("endpoint.url_validation", {"plainToken": plain}, deliver=False)
        with state.lock:
            url, secret = state.config.webhook_url, state.config.webhook_secret
            timeout = state.config.webhook_timeout
            delivery.status = "sending"
        valid = False
        error = ""
        status = None
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "x-zm-request-timestamp": str(timestamp),
            "x-zm-signature": sign(secret, timestamp, delivery.body),
        }
        try:
            response = self._post(url, delivery.body, headers, timeout)
            status = response.status_code
            answer = response.json() if status == 200 else {}
            valid = (
                isinstance(answer, dict)
                and answer.get("plainToken") == plain
                and hmac.compare_digest(
                    str(answer.get("encryptedToken", "")), encrypted_token(secret, plain)
                )
            )
        except (requests.RequestException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        with state.lock:
            delivery.attempts.append(Attempt(state.now(), status, error))
            delivery.status = "delivered" if valid else "dropped"
            self.endpoint_valid = valid
            self.validated_at = state.now()
        return valid

    def close(self):
        """Nothing to release unless a session was handed in (its owner closes it)."""

    def _post(self, url, body, headers, timeout):
        if self.http is not None:
            return self.http.post(url, data=body, headers=headers, timeout=timeout)
        with requests.Session() as session:
            response = session.post(url, data=body, headers=headers, timeout=timeout)
            response.close()
            return response
