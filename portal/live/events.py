"""Reading Zoom's event envelopes (ZOOM_API §4.4) into plain values, and their dedupe key.

Envelope: ``{"event": str, "event_ts": epoch ms, "payload": {...}}``. Meeting ids
are strings in most events and numbers in ``meeting.deleted``: both are accepted.
Participant events carry ``payload.object.participant`` with ``date_time``
(waiting room, admitted), ``join_time`` or ``leave_time``. Anything a handler
needs that is missing or of the wrong type raises ``MalformedEvent`` (→ 400).
"""

import datetime
import hashlib
import json
import re
from dataclasses import dataclass

from ..validation import DAY_MAX, DAY_MIN

URL_VALIDATION = "endpoint.url_validation"
DEAUTHORIZED = "app_deauthorized"
MEETING_EVENTS = ("meeting.started", "meeting.ended", "meeting.deleted")
# event → (presence kind, the participant's time field)
PARTICIPANT_EVENTS = {
    "meeting.participant_joined_waiting_room": ("waiting", "date_time"),
    "meeting.participant_admitted": ("admitted", "date_time"),
    "meeting.participant_joined": ("joined", "join_time"),
    "meeting.participant_left": ("left", "leave_time"),
}
HANDLED = (DEAUTHORIZED, *MEETING_EVENTS, *PARTICIPANT_EVENTS)
MAX_MEETING_ID = 2**63 - 1
# event_ts and every time stay within the dates the portal takes (validation.DAY_MIN …
# DAY_MAX): datetime cannot hold year 33658 (10¹⁵ ms), nor 9999-12-31T23:59-05:00 in UTC.
MAX_EVENT_TS = (
    int(datetime.datetime(DAY_MAX.year + 1, 1, 1, tzinfo=datetime.UTC).timestamp()) * 1000
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # NUL cannot be stored in PostgreSQL text


class MalformedEvent(ValueError):
    """A signed body that is not a usable Zoom event; the message is for the log."""


@dataclass(frozen=True)
class Participant:
    key: str
    kind: str  # waiting | admitted | joined | left
    at: datetime.datetime
    name: str
    email: str | None
    zoom_user_id: str | None
    participant_uuid: str | None


@dataclass(frozen=True)
class Event:
    name: str
    event_ts: int
    at: datetime.datetime  # when it happened, naive UTC
    meeting_id: int | None = None
    meeting_uuid: str | None = None
    host_id: str | None = None
    user_id: str | None = None  # app_deauthorized
    operator: str | None = None  # meeting.deleted
    participant: Participant | None = None


def _reject_constant(name):
    raise MalformedEvent(f"JSON constant {name} is not allowed")


def load_envelope(raw):
    """Parse the raw body into the envelope dict; raise MalformedEvent."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, MalformedEvent):
            raise
        raise MalformedEvent(f"body is not JSON: {type(exc).__name__}") from None
    if not isinstance(data, dict):
        raise MalformedEvent("body is not a JSON object")
    event = data.get("event")
    if not isinstance(event, str) or not 0 < len(event) <= 80 or _CONTROL.search(event):
        raise MalformedEvent("event is missing or not a short string")
    if not isinstance(data.get("payload"), dict):
        raise MalformedEvent("payload is missing or not an object")
    data["event_ts"] = _event_ts(data.get("event_ts"))
    return data


def _event_ts(value):
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 15:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_EVENT_TS:
        raise MalformedEvent("event_ts is missing or not epoch milliseconds")
    return value


def _text(value, limit, field, required=False):
    if value is None or value == "":
        if required:
            raise MalformedEvent(f"{field} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedEvent(f"{field} is not a string")
    text = str(value).strip()
    if len(text) > limit:
        raise MalformedEvent(f"{field} is too long")
    if _CONTROL.search(text):
        raise MalformedEvent(f"{field} has control characters")
    if required and not text:
        raise MalformedEvent(f"{field} is missing")
    return text or None


def meeting_number(value):
    """A Zoom meeting id given as a number or a string of digits → int; else MalformedEvent."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_MEETING_ID:
        raise MalformedEvent("meeting id is missing or not a number")
    return value


def parse_time(value):
    """Zoom's ISO-8601 time (``2026-03-02T15:00:00Z``) → naive UTC, or None."""
    if not isinstance(value, str) or not 10 <= len(value) <= 40:
        return None
    try:
        when = datetime.datetime.fromisoformat(value)
        if when.tzinfo is not None:
            when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:59-05:00 is past year 9999 in UTC
        return None
    return when if DAY_MIN <= when.date() <= DAY_MAX else None


def from_epoch_ms(ms):
    """Epoch milliseconds → naive UTC."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).replace(tzinfo=None)


def parse_event(envelope):
    """The Event in a loaded envelope; unknown event names give a bare Event."""
    name, ts, payload = envelope["event"], envelope["event_ts"], envelope["payload"]
    at = from_epoch_ms(ts)
    if name == DEAUTHORIZED:
        user_id = _text(payload.get("user_id"), 64, "payload.user_id", required=True)
        when = parse_time(payload.get("deauthorization_time")) or at
        return Event(name, ts, when, user_id=user_id)
    if name not in MEETING_EVENTS and name not in PARTICIPANT_EVENTS:
        return Event(name, ts, at)
    obj = payload.get("object")
    if not isinstance(obj, dict):
        raise MalformedEvent("payload.object is missing")
    common = {
        "meeting_id": meeting_number(obj.get("id")),
        "meeting_uuid": _text(obj.get("uuid"), 64, "object.uuid"),
        "host_id": _text(obj.get("host_id"), 64, "object.host_id"),
    }
    if name == "meeting.started":
        return Event(name, ts, parse_time(obj.get("start_time")) or at, **common)
    if name == "meeting.ended":
        return Event(name, ts, parse_time(obj.get("end_time")) or at, **common)
    if name == "meeting.deleted":
        operator = _text(payload.get("operator"), 254, "payload.operator")
        return Event(name, ts, at, operator=operator, **common)
    person = obj.get("participant")
    if not isinstance(person, dict):
        raise MalformedEvent("object.participant is missing")
    kind, time_field = PARTICIPANT_EVENTS[name]
    uuid = _text(person.get("participant_uuid"), 64, "participant.participant_uuid")
    user_id = _text(person.get("user_id"), 64, "participant.user_id")
    zoom_id = _text(person.get("id"), 64, "participant.id")
    key = uuid or user_id or zoom_id
    if key is None:
        raise MalformedEvent("participant has no participant_uuid, user_id or id")
    name_text = person.get("user_name")
    participant = Participant(
        key=key,
        kind=kind,
        at=parse_time(person.get(time_field)) or at,
        name=(_CONTROL.sub("", name_text).strip()[:200] if isinstance(name_text, str) else ""),
        email=_email(person.get("email")),
        zoom_user_id=zoom_id or user_id,
        participant_uuid=uuid,
    )
    return Event(name, ts, participant.at, participant=participant, **common)


def _email(value):
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    ok = 3 <= len(value) <= 254 and "@" in value and not _CONTROL.search(value)
    return value if ok else None


def dedupe_key(envelope):
    """The delivery's identity, from fields inside the signed body (RELIABILITY §2 rule 5).

    event, event_ts, the user, the meeting's uuid and id (string or number alike),
    and the participant with its time: a retry or duplicate of one event maps to one
    key; two different events never share one.
    """
    payload = envelope["payload"]
    obj = payload.get("object") if isinstance(payload.get("object"), dict) else {}
    person = obj.get("participant") if isinstance(obj.get("participant"), dict) else {}
    parts = [
        envelope["event"],
        envelope["event_ts"],
        payload.get("user_id"),
        obj.get("uuid"),
        obj.get("id"),
        person.get("participant_uuid"),
        person.get("user_id"),
        person.get("id"),
        person.get("date_time") or person.get("join_time") or person.get("leave_time"),
    ]
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return "v1:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
