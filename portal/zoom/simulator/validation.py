"""Request-body checks for meeting create/update, answering like Zoom (code 300, `errors[]`).

Rules (ZOOM_API.md §3.1, §9.4): body must be a JSON object ("Request Body should be a valid JSON
object."); `type` ∈ {1,2,3,8}; `topic` ≤ 200; `agenda` ≤ 2000; `password` ≤ 10 chars of
`[A-Za-z0-9@-_*]`; `start_time` `yyyy-MM-ddTHH:mm:ssZ` (UTC) or naive, read in `timezone`;
`timezone` an IANA id; `duration` a non-negative integer; `settings` enums and booleans.
Unknown keys are ignored, as Zoom does.
"""

import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ZoomError, validation_failed

PASSWORD_RE = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")
SETTING_ENUMS = {
    "approval_type": {0, 1, 2},
    "registration_type": {1, 2, 3},
    "audio": {"both", "telephony", "voip"},
    "auto_recording": {"local", "cloud", "none"},
    "jbh_time": {0, 5, 10},
    "encryption_type": {"enhanced_encryption", "e2ee"},
    "calendar_type": {1, 2},
}
SETTING_BOOLS = {
    "host_video", "participant_video", "join_before_host", "mute_upon_entry", "watermark",
    "use_pmi", "waiting_room", "meeting_authentication", "private_meeting", "email_notification",
    "registrants_email_notification", "registrants_confirmation_email", "close_registration",
    "cn_meeting", "in_meeting", "show_share_button", "allow_multiple_devices", "enforce_login",
    "alternative_hosts_email_notification", "alternative_host_update_polls", "focus_mode",
    "host_save_video_order",
}  # fmt: skip
SETTING_STRINGS = {
    "alternative_hosts", "enforce_login_domains", "authentication_domains",
    "authentication_option", "authentication_name", "contact_name", "contact_email",
}  # fmt: skip
INVALID = "Invalid field."


def parse_body(raw):
    """Return the JSON object in `raw` (bytes) or raise Zoom's code-300 invalid-body error."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise ZoomError(400, 300, "Request Body should be a valid JSON object.")
    return body


def zone(name):
    """Return the ZoneInfo for an IANA name, or None if it is not one."""
    if not isinstance(name, str) or not name or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_start_time(value, tz_name):
    """Return an aware UTC datetime (seconds precision) or None if `value` is not a valid time."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        tz = zone(tz_name)
        if tz is None:
            return None
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC).replace(microsecond=0)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(settings, errors):
    """Append `(field, message)` errors for invalid `settings` values."""
    if not isinstance(settings, dict):
        errors.append(("settings", INVALID))
        return
    for key, value in settings.items():
        name = f"settings.{key}"
        if key in SETTING_ENUMS and value not in SETTING_ENUMS[key]:
            errors.append((name, INVALID))
        elif key in SETTING_ENUMS and isinstance(value, bool):
            errors.append((name, INVALID))
        elif key in SETTING_BOOLS and not isinstance(value, bool):
            errors.append((name, INVALID))
        elif key in SETTING_STRINGS and not isinstance(value, str):
            errors.append((name, INVALID))


def check_recurrence(recurrence, errors):
    """Append errors for an invalid `recurrence` object (daily/weekly/monthly)."""
    if not isinstance(recurrence, dict) or recurrence.get("type") not in {1, 2, 3}:
        errors.append(("recurrence.type", INVALID))
        return
    interval = recurrence.get("repeat_interval", 1)
    if not _is_int(interval) or not 1 <= interval <= 90:
        errors.append(("recurrence.repeat_interval", INVALID))
    end_times = recurrence.get("end_times", 1)
    if not _is_int(end_times) or not 1 <= end_times <= 60:
        errors.append(("recurrence.end_times", INVALID))
    days = recurrence.get("weekly_days", "1")
    if not isinstance(days, str) or not all(
        d.strip() in "1234567" and d.strip() for d in days.split(",")
    ):
        errors.append(("recurrence.weekly_days", INVALID))
    monthly = recurrence.get("monthly_day", 1)
    if not _is_int(monthly) or not 1 <= monthly <= 31:
        errors.append(("recurrence.monthly_day", INVALID))


def clean_meeting_fields(body, default_tz):
    """Return validated fields of a create/update body; raise code 300 listing every bad field."""
    errors = []
    out = {}
    if "topic" in body:
        topic = body["topic"]
        if not isinstance(topic, str) or len(topic) > 200:
            errors.append(
                ("topic", "Length must be 200 or less." if isinstance(topic, str) else INVALID)
            )
        out["topic"] = topic
    if "type" in body:
        if not _is_int(body["type"]) or body["type"] not in {1, 2, 3, 8}:
            errors.append(("type", INVALID))
        out["type"] = body["type"]
    if "agenda" in body:
        agenda = body["agenda"]
        if not isinstance(agenda, str) or len(agenda) > 2000:
            errors.append(
                ("agenda", "Length must be 2000 or less." if isinstance(agenda, str) else INVALID)
            )
        out["agenda"] = agenda
    if "password" in body:
        password = body["password"]
        if not isinstance(password, str) or (password and not PASSWORD_RE.match(password)):
            errors.append(
                ("password", "Password must be at most 10 characters of [a-zA-Z0-9@-_*].")
            )
        out["password"] = password
    if "duration" in body:
        if not _is_int(body["duration"]) or body["duration"] < 0:
            errors.append(("duration", INVALID))
        out["duration"] = body["duration"]
    tz_name = default_tz
    if "timezone" in body:
        if zone(body["timezone"]) is None:
            errors.append(("timezone", INVALID))
        else:
            tz_name = body["timezone"]
        out["timezone"] = body["timezone"]
    if "start_time" in body:
        start = parse_start_time(body["start_time"], tz_name)
        if start is None:
            errors.append(("start_time", INVALID))
        out["start_time"] = start
    if "settings" in body:
        check_settings(body["settings"], errors)
        out["settings"] = body["settings"]
    if "recurrence" in body:
        check_recurrence(body["recurrence"], errors)
        out["recurrence"] = body["recurrence"]
    if "default_password" in body and not isinstance(body["default_password"], bool):
        errors.append(("default_password", INVALID))
    if "tracking_fields" in body:
        if not isinstance(body["tracking_fields"], list):
            errors.append(("tracking_fields", INVALID))
        out["tracking_fields"] = body["tracking_fields"]
    if errors:
        raise validation_failed(errors)
    return out


def merge_settings(base, changes):
    """Return `base` with `changes` merged in, nested objects merged key by key."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged
