"""Logging that never carries a secret (RELIABILITY §1.5).

A log-record factory renders and redacts every record when it is created, so
whatever handler receives it (ours, gunicorn's, pytest's) sees only safe text:
bearer tokens, OAuth fields, Zoom start URLs (their ``zak``) and webhook
signatures are replaced. The oauthlib loggers are also kept at WARNING so
requests-oauthlib's "Obtained token %s" lines never appear. Tracebacks are
formatted later by handlers and are not rewritten: the Zoom client never puts a
secret into an exception message.
"""

import logging
import re

_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (
        re.compile(
            # any key ending in verifier or secret (no anchor): the server-side session stores the
            # PKCE verifier as "verifier", and peewee's DEBUG log prints that row's JSON
            r"(?i)((?:access_token|refresh_token|verifier|secret|code|token|zak|"
            r"state|password|pwd|plainToken|encryptedToken)['\"]?\s*[:=]\s*['\"]?)"
            # short all-digit values are Zoom error codes, not secrets (the whole value: a
            # state such as "1-z6Bx…" starts with a digit and is still a secret)
            r"(?!(?:\d{1,6}|None)(?:['\"&\s,}]|$))[^'\"&\s,}]+"
        ),
        r"\1[redacted]",
    ),
    (re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]+"), r"\1[redacted]"),
    (re.compile(r"(?i)(x-zm-signature['\"]?\s*[:=]\s*['\"]?)[^'\"\s,}]+"), r"\1[redacted]"),
    (re.compile(r"(?i)https?://[^\s'\"]*/s/\d+[^\s'\"]*"), "[start-url redacted]"),
]


def redact(text):
    """Return text with every secret-looking value replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Render the message, redact it, and freeze it so handlers see only the safe text."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call must not break the app
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args, **kwargs):
    record = _base_factory(*args, **kwargs)
    RedactingFilter().filter(record)
    return record


def configure_logging(app):
    """Quiet the OAuth libraries and redact secrets in every log record, wherever it goes."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)
    for name in ("oauthlib", "requests_oauthlib"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
