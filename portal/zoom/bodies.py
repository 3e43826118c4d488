"""Request bodies for ``POST /users/me/meetings`` and ``PATCH /meetings/{id}``.

Zoom's limits (ZOOM_API §3.1, §8.3): ``topic`` ≤ 200 characters, ``agenda`` ≤
2000 (trimmed to 1900 here, as cal.com does, to leave room for multi-byte
counting), ``password`` ≤ 10 characters of ``[A-Za-z0-9@-_*]``, ``start_time``
sent in UTC as ``yyyy-MM-ddTHH:mm:ssZ`` with the IANA ``timezone`` alongside,
``duration`` in whole minutes. A waiting room switches join-before-host off
(Zoom would anyway). The bodies validate against the request schemas of Zoom's
published OpenAPI document (tests/zoom_client/test_contract.py).
"""

import datetime
import re

TOPIC_MAX = 200
AGENDA_MAX = 1900
PASSWORD_RE = re.compile(r"^[A-Za-z0-9@\-_*]{1,10}$")


def zoom_time(value):
    """An aware (or naive UTC) datetime as Zoom's UTC string ``2026-03-14T15:00:00Z``."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fields(topic, start_time, duration, timezone, agenda, password, waiting_room, settings):
    body = {}
    if topic is not None:
        body["topic"] = " ".join(str(topic).split())[:TOPIC_MAX]
    if start_time is not None:
        body["start_time"] = zoom_time(start_time)
    if duration is not None:
        duration = int(duration)
        if duration <= 0:
            raise ValueError("duration must be a positive number of minutes")
        body["duration"] = duration
    if timezone is not None:
        body["timezone"] = str(timezone)
    if agenda is not None:
        body["agenda"] = str(agenda)[:AGENDA_MAX]
    if password is not None:
        if not PASSWORD_RE.fullmatch(password):
            raise ValueError("password must be 1-10 characters of A-Z a-z 0-9 @ - _ *")
        body["password"] = password
    merged = dict(settings or {})
    if waiting_room is not None:
        merged["waiting_room"] = bool(waiting_room)
        if waiting_room:
            merged["join_before_host"] = False
    if merged:
        body["settings"] = merged
    return body


def meeting_body(
    *,
    topic,
    start_time,
    duration,
    timezone,
    agenda=None,
    password=None,
    waiting_room=None,
    settings=None,
):
    """The body to create one scheduled (type 2) meeting."""
    base = {"type": 2}
    base.update(
        _fields(topic, start_time, duration, timezone, agenda, password, waiting_room, settings)
    )
    base.setdefault("settings", {})
    base["settings"].setdefault("approval_type", 2)  # no registration: works for every licence
    base["settings"].setdefault("use_pmi", False)
    return base


def meeting_patch(
    *,
    topic=None,
    start_time=None,
    duration=None,
    timezone=None,
    agenda=None,
    password=None,
    waiting_room=None,
    settings=None,
):
    """A partial update body holding only the given fields."""
    return _fields(topic, start_time, duration, timezone, agenda, password, waiting_room, settings)
