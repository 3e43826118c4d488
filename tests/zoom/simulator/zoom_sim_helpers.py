"""Constants and helpers shared by the Zoom simulator tests (a module, so tests can import it)."""

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from html.parser import HTMLParser

from flask import Flask, request

from portal.zoom.simulator import encrypted_token

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday afternoon, UTC
CLIENT_ID = "test-client"
CLIENT_SECRET = "test-secret"
REDIRECT_URI = "http://portal.test/zoom/callback"
WEBHOOK_SECRET = "whsec-test"
TIMEOUT = (2, 5)


class FormInputs(HTMLParser):
    """Collect the inputs of the first form: hidden fields and the radio buttons' values."""

    def __init__(self):
        super().__init__()
        self.hidden = {}
        self.radios = []
        self.buttons = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden":
            self.hidden[attrs["name"]] = attrs.get("value", "")
        elif tag == "input" and attrs.get("type") == "radio":
            self.radios.append(attrs["value"])
        elif tag == "button":
            self.buttons.append(attrs.get("value"))


def parse_form(html):
    parser = FormInputs()
    parser.feed(html)
    return parser


def token_request(http, base, data, auth=(CLIENT_ID, CLIENT_SECRET)):
    return http.post(f"{base}/oauth/token", data=data, auth=auth, timeout=TIMEOUT)


class Receiver:
    """What the webhook receiver saw; `status` is what it answers next."""

    def __init__(self, secret):
        self.secret = secret
        self.requests = []
        self.status = 200
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def wait_for(self, count, timeout=2.0):
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            return list(self.requests)

    @property
    def events(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]


def build_receiver_app(receiver):
    app = Flask("zoom_sim_webhook_receiver")

    @app.post("/webhooks/zoom")
    def hook():
        raw = request.get_data()
        timestamp = request.headers.get("x-zm-request-timestamp", "")
        message = f"v0:{timestamp}:".encode() + raw
        expected = "v0=" + hmac.new(receiver.secret.encode(), message, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, request.headers.get("x-zm-signature", ""))
        body = json.loads(raw)
        with receiver.arrived:
            receiver.requests.append(
                {
                    "body": raw,
                    "valid": valid,
                    "timestamp": timestamp,
                    "content_type": request.headers.get("Content-Type"),
                }
            )
            receiver.arrived.notify_all()
            status = receiver.status
        if body["event"] == "endpoint.url_validation" and valid:
            plain = body["payload"]["plainToken"]
            return {"plainToken": plain, "encryptedToken": encrypted_token(receiver.secret, plain)}
        return "", status

    return app
