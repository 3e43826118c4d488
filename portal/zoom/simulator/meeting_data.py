"""The meeting record and the values Zoom derives for it (settings defaults, passcodes,
occurrences, zak tokens, uuids)."""

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .users import iso, meeting_url_base


def default_settings(user):
    """Return the settings a new meeting of `user` gets when the request names none."""
    return {
        "host_video": False,
        "participant_video": False,
        "join_before_host": False,
        "jbh_time": 0,
        "mute_upon_entry": False,
        "watermark": False,
        "use_pmi": False,
        "approval_type": 2,
        "audio": "both",
        "auto_recording": "none",
        "waiting_room": user.waiting_room,
        "meeting_authentication": False,
        "encryption_type": "enhanced_encryption",
        "alternative_hosts": "",
        "alternative_hosts_email_notification": True,
        "email_notification": True,
        "private_meeting": False,
        "close_registration": False,
        "registrants_email_notification": True,
        "show_share_button": False,
        "allow_multiple_devices": False,
        "enforce_login": False,
        "enforce_login_domains": "",
        "in_meeting": False,
        "cn_meeting": False,
        "focus_mode": False,
        "host_save_video_order": False,
        "approved_or_denied_countries_or_regions": {"enable": False},
        "breakout_room": {"enable": False},
    }


def format_meeting_number(meeting_id):
    """Return a meeting id as Zoom prints it: 3-4-4 for 11 digits, 3-3-4 for 10, 3-3-3 for 9."""
    digits = str(meeting_id)
    groups = {11: (3, 4, 4), 10: (3, 3, 4), 9: (3, 3, 3)}.get(len(digits))
    if groups is None:
        return digits
    parts, start = [], 0
    for size in groups:
        parts.append(digits[start : start + size])
        start += size
    return " ".join(parts)


def numeric_passcode(password):
    """Return the phone/H.323 passcode Zoom derives from a meeting password."""
    if not password:
        return ""
    return str(int(hashlib.sha256(password.encode()).hexdigest(), 16) % 10**6).zfill(6)


@dataclass
class Meeting:
    id: int
    uuid: str
    host_id: str
    host_email: str
    cluster: str
    topic: str
    type: int
    start_time: datetime | None
    duration: int
    timezone: str
    agenda: str
    password: str
    encrypted_password: str
    settings: dict
    created_at: datetime
    recurrence: dict | None = None
    occurrences: list = field(default_factory=list)
    tracking_fields: list = field(default_factory=list)
    registration_code: str = ""
    status: str = "waiting"
    started_at: datetime | None = None
    ended_at: datetime | None = None
    deleted: bool = False
    expired: bool = False
    is_pmi: bool = False
    participants: dict = field(default_factory=dict)
    origin: str = "api"  # "zoom" when made behind the portal's back

    @property
    def join_url(self):
        """Return Zoom's real-shaped join URL (`https://<cluster>web.zoom.us/j/<id>?pwd=...`)."""
        return self.join_url_on(None)

    @property
    def pwd(self):
        """Return the `pwd` query value of the join URL ("" without a passcode)."""
        return f"{self.encrypted_password}.1" if self.password else ""

    def join_url_on(self, base):
        """Return the join URL under `base` (None: Zoom's own host for the meeting's cluster)."""
        url = f"{meeting_url_base(base, self.cluster)}/j/{self.id}"
        return f"{url}?pwd={self.pwd}" if self.password else url

    def event_object(self, id_as_string=True):
        """Return the `payload.object` of meeting webhooks (`id` is a string in most events)."""
        data = {
            "id": str(self.id) if id_as_string else self.id,
            "uuid": self.uuid,
            "host_id": self.host_id,
            "topic": self.topic,
            "type": self.type,
            "start_time": iso(self.started_at or self.start_time or self.created_at),
            "timezone": self.timezone,
            "duration": self.duration,
        }
        return data


def build_occurrences(start, duration, recurrence):
    """Return the occurrences of a type-8 meeting: daily, weekly (Zoom weekday numbers), monthly."""
    interval = recurrence.get("repeat_interval", 1)
    count = recurrence.get("end_times", 1)
    starts = []
    if recurrence["type"] == 1:
        starts = [start + timedelta(days=interval * i) for i in range(count)]
    elif recurrence["type"] == 2:
        days = {int(d) for d in str(recurrence.get("weekly_days", "1")).split(",")}
        day = start
        while len(starts) < count:  # Zoom numbers weekdays Sunday=1 … Saturday=7
            week = (day - start).days // 7
            if (day.isoweekday() % 7) + 1 in days and week % interval == 0:
                starts.append(day)
            day += timedelta(days=1)
    else:
        month_day = recurrence.get("monthly_day", start.day)
        year, month = start.year, start.month
        while len(starts) < count:
            try:
                candidate = start.replace(year=year, month=month, day=month_day)
            except ValueError:
                candidate = None
            if candidate is not None and candidate >= start:
                starts.append(candidate)
            month += interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return [
        {
            "occurrence_id": str(int(s.timestamp() * 1000)),
            "start_time": s,
            "duration": duration,
            "status": "available",
        }
        for s in starts
    ]


def make_zak(meeting, now, lifetime):
    """Return `(zak, expires_at)`: a JWT-looking host token like the one in Zoom's start_url."""
    expires = now + timedelta(seconds=lifetime)
    claims = {
        "aud": "clientsm",
        "uid": meeting.host_id,
        "iss": "web",
        "sty": 100,
        "wcd": meeting.cluster,
        "clt": 0,
        "mnum": str(meeting.id),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_hex(8),
    }
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    zak = f"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{payload}.{secrets.token_urlsafe(32)}"
    return zak, expires


def make_uuid(counter):
    """Return a 24-char base64 meeting UUID; every 4th starts with "/", every 4th+1 has "//"."""
    value = base64.b64encode(secrets.token_bytes(16)).decode()
    if counter % 4 == 0:
        value = "/" + value[1:]
    elif counter % 4 == 1 and counter > 1:
        value = value[:5] + "//" + value[7:]
    return value
