"""The words a page shows for a stored value: appointment kinds and statuses, connection
statuses, mail kinds, roles, audited fields, finding evidence, checks and severities.

Defined once here; ``install`` makes them template filters (``a.kind|kind_label``) and
globals, so no template spells a label out again.
"""

import datetime
import re

from peewee import fn

from . import timefmt
from .audit import action_label
from .daily import format_meeting_number
from .health.checks import title
from .models import ROLE_LABELS, JoinEvent, TutorDevice, User
from .readiness import status_words

__all__ = [
    "APPOINTMENT_STATUS_LABELS",
    "KIND_LABELS",
    "KIND_TITLES",
    "ROLE_LABELS",
    "FIELD_LABELS",
    "appointment_status_label",
    "change_lines",
    "check_label",
    "evidence_lines",
    "field_label",
    "device_names",
    "field_value",
    "names_for",
    "session_status_label",
    "severity_label",
    "user_ids_in",
    "connection_status_label",
    "install",
    "kind_label",
    "kind_title",
    "mail_kind_label",
]

KIND_LABELS = {"online": "Online", "walk_in": "Virtual walk-in", "in_person": "In person"}
KIND_TITLES = {
    "online": "Online appointment",
    "walk_in": "Virtual walk-in",
    "in_person": "In-person appointment",
}
APPOINTMENT_STATUS_LABELS = {
    "booked": "Booked",
    "assigned": "Taken from the queue",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "waiting": "Waiting in the queue",
    "left": "Left the queue",
}


def kind_label(kind):
    """An appointment kind as a table cell shows it: "Online", "Virtual walk-in"."""
    return KIND_LABELS[kind]


def kind_title(kind):
    """An appointment kind as a page title shows it: "Online appointment"."""
    return KIND_TITLES[kind]


def appointment_status_label(status):
    """An appointment's status in words (an unknown one as stored)."""
    return APPOINTMENT_STATUS_LABELS.get(status, status)


def connection_status_label(status):
    """A Zoom connection's status in words (readiness owns the words for a broken one)."""
    return "connected" if status == "active" else status_words(status)


def mail_kind_label(kind):
    """An outbox message's kind in words: ``shift_alert`` → "shift alert"."""
    return kind.replace("_", " ")


# --- audited fields and finding evidence ------------------------------------------------
#
# One table for every key an audit entry's before/after or a finding's evidence carries:
# the History list, a finding's Evidence and the fixes' "What was done" read it. A key
# that is not here (another component's) falls back to its words: "last_error" → "Last
# error"; a value is never shown as a Python repr.

FIELD_LABELS = {
    # center settings
    "name": "Name",
    "virtual_meetings_enabled": "Virtual Meetings",
    "waiting_room_default": "Zoom waiting room for new Daily Sessions",
    "allow_connect_links": "Connect Links allowed",
    "opens_at": "Opens at",
    "closes_at": "Closes at",
    "waiting_room_limit_minutes": "Waiting-room alert after (minutes)",
    "timezone": "Time zone",
    # people
    "email": "E-mail",
    "role": "Role",
    "centers": "Centers",
    "connect_link": "Connect Link",
    "student": "Student",
    "student_id": "Student",
    "tutor": "Tutor",
    "tutor_id": "Tutor",
    "owner_tutor_id": "Tutor who has the Zoom account",
    "kept_by": "Kept by",
    # appointments
    "kind": "Kind",
    "start_utc": "Starts",
    "status": "Status",
    "appointments": "Online appointments affected",
    "next_start_utc": "Next appointment",
    # Zoom accounts
    "zoom_email": "Zoom account",
    "zoom_user_id": "Zoom user id",
    "type": "Zoom license",
    "user_type": "Zoom license",
    "login_types": "Zoom login method",
    "reason": "Reason",
    "kept_for_owner": "The owner's connection kept working",
    "revoked_at_zoom": "Authorization revoked in Zoom",
    "tokens": "Zoom tokens",
    "last_error": "Last error",
    "since": "Since",
    "attempted_at": "Tried at",
    "granted_scopes": "Permissions granted",
    "missing_scopes": "Permissions missing",
    "operations": "What the portal can't do",
    "linked": "Tutors connected to this Zoom account",
    "connected_at": "Connected",
    # Daily Sessions and meetings
    "meeting_id": "Meeting number",
    "meeting_number": "Meeting number",
    "deleted_at_zoom": "Old meeting deleted in Zoom",
    "date": "Day",
    "host_id": "Zoom host the portal expects",
    "zoom_host_id": "Zoom host of the meeting",
    "zoom_start_time": "Meeting start in Zoom",
    "other_meetings": "Other meetings of this Zoom user today",
    "kinds": "Problems",
    "own_pmi": "Points at the tutor's own personal meeting",
    "pmi": "Personal meeting number",
    "personal_meeting_url": "Personal meeting link",
    "waiting": "Students waiting",
    "longest_minutes": "Longest wait (minutes)",
    "host_present": "Tutor in the meeting",
    "source": "Noticed by",
    "event": "Zoom event",
    # Joins and devices
    "joins": "Joins",
    "last_utc": "Last Join",
    "last": "Last Join",
    "device": "Device",
    "by_reason": "Where students were sent",
    "destination": "Sent to",
    "count": "Count",
    # health fixes
    "still_open": "Problem still there",
    "check": "Check",
    # mail
    "attempts": "Tries",
}
# Keys whose value is a portal row id that means nothing to a reader (the entry links
# the finding already), or Zoom's raw answer (shown behind "Details" instead).
HIDDEN_FIELDS = frozenset(
    {
        "finding",
        "session",
        "notice",
        "connection",
        "delivery",
        "device",
        "zoom_answer",
        "recheck_answer",
    }
)
RAW_FIELDS = ("zoom_answer", "recheck_answer")
# Keys whose value is a user id: shown as that person's name.
USER_ID_FIELDS = frozenset({"student_id", "tutor_id", "owner_tutor_id", "kept_by"})
ON_OFF_FIELDS = frozenset({"virtual_meetings_enabled", "waiting_room_default"})

# Zoom's codes (ZOOM_API.md §2): users' login_types and user type.
ZOOM_LOGIN_TYPES = {
    0: "Facebook",
    1: "Google",
    11: "Phone number",
    21: "WeChat",
    23: "Alipay",
    24: "Apple",
    27: "Microsoft",
    97: "Mobile device",
    98: "RingCentral",
    99: "API user",
    100: "Zoom password",
    101: "Single sign-on (SSO)",
}
ZOOM_USER_TYPES = {1: "Basic (free)", 2: "Licensed", 4: "Unassigned", 99: "None"}
SEVERITY_LABELS = {"critical": "Critical", "warning": "Warning", "info": "Information"}
MAIL_STATUS_LABELS = {
    "queued": "Waiting to be sent",
    "sending": "Being sent",
    "sent": "Sent",
    "failed": "Failed",
    "skipped": "No longer due",
}
SESSION_STATUS_LABELS = {
    "pending": "Being prepared",
    "scheduled": "Scheduled",
    "live": "Live",
    "ended": "Ended",
    "missing": "Missing in Zoom",
    "failed": "Could not be created",
}
WORD_VALUES = {
    "destination": JoinEvent.DESTINATIONS,
    "reason": {
        **JoinEvent.REASONS,
        "already_linked": "the Zoom account is connected to another tutor",
        "free_account": "a free (Basic) Zoom account",
        "no_license": "the Zoom account has no license the portal can use",
        "reauthorized_by_another_tutor": "another tutor authorized the same Zoom account",
    },
    "source": {"scan": "the health check", "webhook": "a Zoom event"},
    "tokens": {"deleted": "deleted"},
    "kinds": {
        "missing": "the meeting no longer exists in Zoom",
        "other_host": "hosted by another Zoom user",
        "other_date": "on another day in Zoom",
        "other_meeting": "Zoom holds another Daily Session that day",
        "wrong_meeting": "the tutor started a meeting other than the Daily Session",
    },
}
FIELD_VALUE_LABELS = {"role": ROLE_LABELS, "kind": KIND_LABELS, "user_type": ZOOM_USER_TYPES}
FIELD_VALUE_LABELS["type"] = ZOOM_USER_TYPES


def severity_label(severity):
    """A finding's severity in words: ``critical`` → "Critical"."""
    return SEVERITY_LABELS.get(severity, str(severity).capitalize())


def session_status_label(status):
    """A Daily Session's status in words: ``missing`` → "Missing in Zoom"."""
    return SESSION_STATUS_LABELS.get(status, status)


def check_label(name):
    """A health check's title ("Daily Session differs from Zoom"), never its id."""
    return title(name)


def field_label(key):
    """The words for an audited field or an evidence key."""
    return FIELD_LABELS.get(key) or str(key).replace("_", " ").capitalize()


def _status_words(value, action):
    if action.startswith("mail."):
        return MAIL_STATUS_LABELS.get(value, value)
    if action.startswith("zoom."):
        return connection_status_label(value).capitalize()
    return APPOINTMENT_STATUS_LABELS.get(value) or SESSION_STATUS_LABELS.get(value) or value


def _iso_time(value):
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return timefmt.when(moment)


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def field_value(key, value, names=None, action=""):
    """A field's value as words: On/Off, Yes/No, names for ids, lists joined by commas."""
    names = names or {}
    if value is None or value == "" or value == []:
        return "none" if key in ("connect_link", "centers", "meeting_id") else "—"
    if isinstance(value, bool):
        if key in ON_OFF_FIELDS:
            return "On" if value else "Off"
        return "Yes" if value else "No"
    if key in USER_ID_FIELDS and isinstance(value, int):
        return names.get(value, "someone outside your centers")
    if key == "login_types":
        codes = value if isinstance(value, list) else [value]
        return ", ".join(ZOOM_LOGIN_TYPES.get(c, f"Zoom login type {c}") for c in codes)
    if isinstance(value, list):
        return ", ".join(field_value(key, item, names, action) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(
            f"{field_label(k)}: {field_value(k, v, names, action)}" for k, v in value.items()
        )
    if key in ("meeting_id", "meeting_number", "pmi", "other_meetings") and str(value).isdigit():
        return format_meeting_number(value)
    if key == "check":
        return check_label(value)
    if key == "status":
        return _status_words(value, action)
    if key in (
        "start_utc",
        "next_start_utc",
        "last_utc",
        "last",
        "since",
        "attempted_at",
        "zoom_start_time",
    ):
        return _iso_time(value)
    if key in ("day_off", "date") and _ISO_DAY.match(str(value)):
        try:
            return timefmt.day(datetime.date.fromisoformat(str(value)), "full")
        except ValueError:
            return str(value)
    if key in FIELD_VALUE_LABELS and value in FIELD_VALUE_LABELS[key]:
        return FIELD_VALUE_LABELS[key][value]
    if key == "reason" and str(value).startswith("already_linked:"):
        value = "already_linked"  # the owner's id follows; the entry names the tutor
    if key in WORD_VALUES and value in WORD_VALUES[key]:
        return WORD_VALUES[key][value]
    return str(value)


def change_lines(entry, names=None):
    """An audit entry's changes as (label, before words or None, after words) rows.

    A key only in ``before`` is a fact of the moment ("Old meeting deleted in Zoom: No",
    "Tries: 8"), shown as its value rather than as a change to nothing.
    """
    before, after = entry.before or {}, entry.after or {}
    rows = []
    for key in [k for k in after if k not in HIDDEN_FIELDS]:
        old = field_value(key, before[key], names, entry.action) if key in before else None
        rows.append((field_label(key), old, field_value(key, after[key], names, entry.action)))
    for key in [k for k in before if k not in after and k not in HIDDEN_FIELDS]:
        rows.append((field_label(key), None, field_value(key, before[key], names, entry.action)))
    return rows


def evidence_lines(evidence, names=None):
    """A finding's evidence as (label, words) rows; Zoom's raw answers stay out."""
    rows = [
        (field_label(key), field_value(key, value, names))
        for key, value in (evidence or {}).items()
        if key not in HIDDEN_FIELDS and key != "kind"
    ]
    for key in RAW_FIELDS:
        answer = (evidence or {}).get(key)
        if isinstance(answer, dict):
            said = answer.get("message") or answer.get("error") or "no message"
            code = f" (Zoom error {answer['code']})" if answer.get("code") else ""
            label = "Zoom's answer" if key == "zoom_answer" else "Zoom's answer when asked again"
            rows.append((label, f"{said}{code}"))
    return rows


def user_ids_in(*dicts):
    """The user ids a set of before/after/evidence dicts names (to look their names up)."""
    ids = set()
    for data in dicts:
        for key, value in (data or {}).items():
            if key in USER_ID_FIELDS and isinstance(value, int):
                ids.add(value)
            elif isinstance(value, list):
                ids |= user_ids_in(*(v for v in value if isinstance(v, dict)))
    return ids


def install(app):
    """Make the labels template filters and globals."""
    app.jinja_env.globals["ROLE_LABELS"] = ROLE_LABELS
    app.jinja_env.filters.update(
        kind_label=kind_label,
        kind_title=kind_title,
        appointment_status_label=appointment_status_label,
        connection_status_label=connection_status_label,
        mail_kind_label=mail_kind_label,
        action_label=action_label,
        severity_label=severity_label,
        session_status_label=session_status_label,
        check_label=check_label,
        field_label=field_label,
    )
    app.jinja_env.globals.update(
        change_lines=change_lines,
        evidence_lines=evidence_lines,
        history_names=names_for,
        device_names=device_names,
    )


def names_for(entries):
    """{user id: name} for the people the entries' before/after name by id."""
    ids = user_ids_in(*(d for e in entries for d in (e.before, e.after)))
    if not ids:
        return {}
    return dict(User.select(User.id, User.name).where(User.id.in_(list(ids))).tuples())


def device_names(events):
    """{(student id, device id): words} for a list of JoinEvents: "Device 2", numbered per
    student in the order the student first used each browser, and said when a tutor also
    pressed Start in that browser (a device id is a random cookie: it tells nothing else)."""
    pairs = {(e.student_id, e.device_id) for e in events if e.device_id}
    if not pairs:
        return {}
    students = list({student for student, _ in pairs})
    first_use = (
        JoinEvent.select(JoinEvent.student, JoinEvent.device_id, fn.MIN(JoinEvent.created_at))
        .where(JoinEvent.student.in_(students), JoinEvent.device_id.is_null(False))
        .group_by(JoinEvent.student, JoinEvent.device_id)
        .order_by(JoinEvent.student, fn.MIN(JoinEvent.created_at), JoinEvent.device_id)
        .tuples()
    )
    numbers, counts = {}, {}
    for student, device, _first in first_use:
        counts[student] = counts.get(student, 0) + 1
        numbers[(student, device)] = counts[student]
    devices = list({device for _, device in pairs})
    shared = {
        row[0]
        for row in TutorDevice.select(TutorDevice.device_id)
        .where(TutorDevice.device_id.in_(devices))
        .tuples()
    }
    names = {}
    for student, device in pairs:
        words = f"Device {numbers.get((student, device), 1)}"
        if device in shared:
            words += " (a tutor pressed Start in this browser too)"
        names[(student, device)] = words
    return names
