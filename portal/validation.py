"""Input rules shared by forms and the CLI: allow-lists and length caps."""

import datetime
import re
import unicodedata
from urllib.parse import urlsplit

from .models import ROLES
from .timefmt import suggest_zone, zone_names


class ValidationError(ValueError):
    """Bad input; the message is a plain sentence for the user."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_NAME = 200
MAX_URL = 500
# The dates the portal takes: far enough either way for any booking or report, and
# far from datetime's limits (years 1 and 9999), where a day's bounds in a time zone
# overflow.
DAY_MIN = datetime.date(1970, 1, 1)
DAY_MAX = datetime.date(2999, 12, 31)


def clean_text(value, field, label, max_length=MAX_NAME, required=True):
    """Normalize to NFC, strip, refuse control characters and over-long values."""
    value = unicodedata.normalize("NFC", (value or "")).strip()
    if not value:
        if required:
            raise ValidationError(f"{label} is required.", field)
        return ""
    if len(value) > max_length:
        raise ValidationError(f"{label} must be at most {max_length} characters.", field)
    if _CONTROL.search(value):
        raise ValidationError(f"{label} contains characters that are not allowed.", field)
    return value


def clean_email(value, field="email"):
    """A lower-cased e-mail address, or ValidationError."""
    value = clean_text(value, field, "E-mail address", max_length=254)
    if not _EMAIL.match(value):
        raise ValidationError("Enter an e-mail address like name@college.edu.", field)
    return value.lower()


def clean_role(value, field="role"):
    """One of the four roles."""
    if value not in ROLES:
        raise ValidationError(f"Role must be one of: {', '.join(ROLES)}.", field)
    return value


def clean_timezone(value, field="timezone", label="Time zone"):
    """An IANA time zone name from the picker's list, such as America/Chicago.

    Anything else ("Eastern", "EST", "Pacific") is refused with the zone it most likely
    means, so the person can correct it in one step.
    """
    value = clean_text(value, field, label, max_length=64)
    if value == "UTC" or value in zone_names():
        return value
    guess = suggest_zone(value)
    hint = f" Did you mean {guess}?" if guess else ""
    raise ValidationError(
        f"{value!r} is not a known time zone.{hint} Choose a name from the list, "
        "like America/Chicago.",
        field,
    )


def clean_hhmm(value, field, label):
    """A 24-hour HH:MM time."""
    value = (value or "").strip()
    if not _HHMM.match(value):
        raise ValidationError(f"{label} must be a time like 09:00.", field)
    return value


def clean_day(value, field="date", label="Date"):
    """A YYYY-MM-DD date between DAY_MIN and DAY_MAX."""
    text = value.strip()[:10] if isinstance(value, str) else ""
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{label} must be a date like 2026-12-01.", field) from None
    if not DAY_MIN <= day <= DAY_MAX:
        raise ValidationError(f"{label} must be between {DAY_MIN} and {DAY_MAX}.", field)
    return day


def clean_url(value, field="connect_link", label="Connect Link", required=False):
    """An http(s) URL of at most MAX_URL characters; empty means none."""
    value = (value or "").strip()
    if not value:
        if required:
            raise ValidationError(f"{label} is required.", field)
        return None
    if len(value) > MAX_URL:
        raise ValidationError(f"{label} must be at most {MAX_URL} characters.", field)
    if _CONTROL.search(value) or " " in value:
        raise ValidationError(f"{label} must be a web address without spaces.", field)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 address)
        raise ValidationError(f"{label} is not a valid web address.", field) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(
            f"{label} must be a web address starting with https:// or http://.", field
        )
    return value
