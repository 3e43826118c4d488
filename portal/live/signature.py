"""Zoom's webhook signature (ZOOM_API §4.2–4.3, RELIABILITY §2).

Headers: ``x-zm-request-timestamp`` (epoch seconds) and ``x-zm-signature``
(``v0=`` + lower-case hex of HMAC-SHA256(secret, ``"v0:" + timestamp + ":" + raw body``)).
The MAC is computed over the raw bytes as received, compared with
``hmac.compare_digest``, and a timestamp more than ``tolerance`` seconds from our
clock in either direction is refused. ``ZOOM_WEBHOOK_SECRET_TOKEN`` may hold
several secrets separated by commas during a rollover; any of them verifies.
URL validation answers ``HMAC(secret, plainToken)`` with the secret that verified
the request, and only for plainTokens of ``[A-Za-z0-9_-]{1,64}``.
"""

import hashlib
import hmac
import re
import time

DEFAULT_TOLERANCE = 300  # seconds; Zoom does not specify one (RELIABILITY §2 rule 4)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SignatureError(Exception):
    """The request is not provably from Zoom; the message is for the log only."""


def secrets_from(setting):
    """The secrets in ZOOM_WEBHOOK_SECRET_TOKEN (comma-separated during a rollover)."""
    return [part.strip() for part in (setting or "").split(",") if part.strip()]


def signature(secret, timestamp, body):
    """The ``x-zm-signature`` value Zoom sends for this timestamp and raw body."""
    message = b"v0:" + str(timestamp).encode("ascii") + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(body, timestamp, sig, secrets, *, now=None, tolerance=DEFAULT_TOLERANCE):
    """Return the secret that signed ``body``; raise SignatureError otherwise.

    ``timestamp`` and ``sig`` are the raw header values (or None).
    """
    if not secrets:
        raise SignatureError("no webhook secret is configured")
    if not timestamp or not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("missing or non-numeric timestamp")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > tolerance:
        raise SignatureError("timestamp outside the allowed window")
    if not sig or not _SIGNATURE.fullmatch(sig):
        raise SignatureError("missing or malformed signature")
    matched = None
    for secret in secrets:  # check every secret: the time taken does not say which matched
        if hmac.compare_digest(signature(secret, timestamp, body), sig):
            matched = matched or secret
    if matched is None:
        raise SignatureError("signature does not match")
    return matched


def plain_token_ok(token):
    """True for a plainToken we are willing to sign: [A-Za-z0-9_-], 1 to 64 characters."""
    return isinstance(token, str) and _PLAIN_TOKEN.fullmatch(token) is not None


def encrypted_token(secret, plain_token):
    """The ``encryptedToken`` of a URL-validation answer."""
    return hmac.new(secret.encode("utf-8"), plain_token.encode("utf-8"), hashlib.sha256).hexdigest()
