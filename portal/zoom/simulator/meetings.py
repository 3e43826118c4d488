"""Meetings in the simulator: create, get, update, delete, list (ZOOM_API.md §3, §9.4).

Shapes: 11-digit int64 `id` (10-digit PMI with `use_pmi`), 24-char base64 `uuid` ending `==`
(every 4th meeting's uuid starts with `/`, every 4th+1 contains `//`, to exercise double encoding),
`join_url` `https://<cluster>web.zoom.us/j/<id>?pwd=<encrypted>.1`, `start_url`
`https://<cluster>web.zoom.us/s/<id>?zak=<JWT-looking token valid 2 h>` (new zak on every read);
with `SimConfig.meeting_url_base` set, both point at the simulator's own pages (`pages.py`):
`{base}/j/<id>?pwd=...` and `{base}/s/<id>?zak=...`,
`start_time` UTC `...Z` with `timezone` echoed, settings echoed with defaults.
Rules: `waiting_room: true` forces `join_before_host: false`; a Basic (type 1) host asking for
registration (`approval_type` 0/1), cloud recording or alternative hosts → 400 code 200
"Only available for Paid users."; a type-4 host → 400 code 3161. One-time meetings answer 3001
`meeting_expiry_days` (30) after their start; deleted ones too.
"""

import json
import secrets
import string
from datetime import datetime, timedelta
from urllib.parse import unquote

from .errors import ZoomError, meeting_not_found, validation_failed
from .meeting_data import (
    Meeting,
    build_occurrences,
    default_settings,
    make_uuid,
    make_zak,
    numeric_passcode,
)
from .users import iso, meeting_url_base
from .validation import clean_meeting_fields, merge_settings, zone

ALNUM = string.ascii_letters + string.digits
PAID_ONLY = "Only available for Paid users."
NO_HOSTING = "Meeting hosting and scheduling capabilities are not allowed for your user account."


class MeetingsMixin:
    """Meeting part of `SimulatorState` (expects `lock`, `config`, `users`, `now()`, `limiter`)."""

    # reads ------------------------------------------------------------------------------------

    def meeting(self, meeting_id):
        """Return the stored meeting (deleted or not) or raise KeyError."""
        with self.lock:
            return self.meetings[int(meeting_id)]

    def meetings_of(self, user_ref, include_gone=False):
        """Return the user's meetings, oldest first (for tests and the control page)."""
        with self.lock:
            user = self.user(user_ref)
            found = [m for m in self.meetings.values() if m.host_id == user.id]
            if not include_gone:
                found = [m for m in found if not self.meeting_gone(m)]
            return sorted(found, key=lambda m: m.created_at)

    def meeting_gone(self, meeting):
        """Return whether Zoom would answer 3001 for this meeting now."""
        if meeting.deleted or meeting.expired:
            return True
        keep = timedelta(days=self.config.meeting_expiry_days)
        if meeting.type in (1, 2):
            anchor = meeting.start_time or meeting.created_at
            return self.now() > anchor + timedelta(minutes=meeting.duration) + keep
        if meeting.type == 8 and meeting.occurrences:
            last = max(o["start_time"] for o in meeting.occurrences)
            return self.now() > last + keep
        return False

    def meeting_json(self, meeting, occurrence_id=None, *, for_create=False):
        """Return the full meeting object with a fresh `start_url` (new zak)."""
        start, duration = meeting.start_time, meeting.duration
        if occurrence_id:
            occurrence = self._occurrence(meeting, occurrence_id)
            start, duration = occurrence["start_time"], occurrence["duration"]
        data = {
            "uuid": meeting.uuid,
            "id": meeting.id,
            "host_id": meeting.host_id,
            "host_email": meeting.host_email,
            "assistant_id": "",
            "topic": meeting.topic,
            "type": meeting.type,
            "status": meeting.status,
        }
        if start is not None and (meeting.type in (2, 8) or for_create):
            data["start_time"] = iso(start)
        data.update(
            {
                "duration": duration,
                "timezone": meeting.timezone,
                "agenda": meeting.agenda,
                "created_at": iso(meeting.created_at),
                "start_url": self._start_url(meeting),
                "join_url": self.join_url(meeting),
                "password": meeting.password,
                "h323_password": numeric_passcode(meeting.password),
                "pstn_password": numeric_passcode(meeting.password),
                "encrypted_password": meeting.encrypted_password,
                "settings": json.loads(json.dumps(meeting.settings)),
                "pre_schedule": False,
            }
        )
        if meeting.is_pmi:
            data["pmi"] = str(meeting.id)
        if meeting.settings.get("approval_type") in (0, 1):
            data["registration_url"] = (
                f"https://{meeting.cluster}web.zoom.us/meeting/register/{meeting.registration_code}"
            )
        if meeting.type == 8:
            data["recurrence"] = dict(meeting.recurrence or {})
            data["occurrences"] = [
                {**o, "start_time": iso(o["start_time"])}
                for o in meeting.occurrences
                if o["status"] != "deleted"
            ]
        if meeting.tracking_fields:
            data["tracking_fields"] = list(meeting.tracking_fields)
        return data

    def meeting_summary(self, meeting):
        """Return a `GET /users/{id}/meetings` list item (agenda cut to 250)."""
        data = {
            "uuid": meeting.uuid,
            "id": meeting.id,
            "host_id": meeting.host_id,
            "topic": meeting.topic,
            "type": meeting.type,
        }
        start = self._next_start(meeting)
        if start is not None and meeting.type in (2, 8):
            data["start_time"] = iso(start)
        data.update(
            {
                "duration": meeting.duration,
                "timezone": meeting.timezone,
                "agenda": meeting.agenda[:250],
                "created_at": iso(meeting.created_at),
                "join_url": self.join_url(meeting),
            }
        )
        if meeting.is_pmi:
            data["pmi"] = str(meeting.id)
        return data

    def join_url(self, meeting):
        """Return the meeting's join URL (Zoom's host, or `config.meeting_url_base`)."""
        return meeting.join_url_on(self.config.meeting_url_base)

    def start_url_valid(self, start_url):
        """Return whether the zak inside a `start_url` is one we issued and is unexpired."""
        zak = start_url.rpartition("zak=")[2]
        with self.lock:
            issued = self.zaks.get(zak)
        return issued is not None and self.check_zak(issued[0], zak) is None

    def check_zak(self, meeting_id, zak):
        """Return why `zak` cannot start `meeting_id` ("unknown", "expired", "other meeting")
        or None when it can."""
        with self.lock:
            issued = self.zaks.get(zak or "")
        if issued is None:
            return "unknown"
        for_meeting, expires = issued
        if for_meeting != int(meeting_id):
            return "other meeting"
        return "expired" if self.now() >= expires else None

    def find_meeting(self, ref):
        """Return the meeting with numeric id or (possibly double-encoded) uuid, else raise 3001."""
        ref = str(ref)
        with self.lock:
            if ref.isascii() and ref.isdigit() and len(ref) <= 19:  # int64
                found = self.meetings.get(int(ref))
            else:
                candidates = {ref, unquote(ref), unquote(unquote(ref))}
                found = next((m for m in self.meetings.values() if m.uuid in candidates), None)
            if found is None or self.meeting_gone(found):
                raise meeting_not_found(ref)
            return found

    # writes -----------------------------------------------------------------------------------

    def create_meeting(self, user, body, *, origin="api"):
        """Validate a create body and store the meeting; returns it (raises ZoomError)."""
        with self.lock:
            if user.type == 4:
                raise ZoomError(400, 3161, NO_HOSTING)
            fields = clean_meeting_fields(body, user.timezone)
            kind = fields.get("type", 2)
            if kind == 8 and not fields.get("recurrence"):
                raise validation_failed([("recurrence", "Invalid field.")])
            settings = merge_settings(default_settings(user), fields.get("settings", {}))
            self._check_settings_rules(user, settings)
            now = self.now()
            start = fields.get("start_time") or (now if kind in (1, 2, 8) else None)
            password = fields.get("password") or ""
            if not password and self.config.require_passcode:
                password = "".join(secrets.choice(ALNUM) for _ in range(6))
            use_pmi = bool(settings.get("use_pmi")) and kind in (1, 2, 3)
            meeting = Meeting(
                id=user.pmi if use_pmi else self._new_meeting_id(),
                uuid=self._new_uuid(),
                host_id=user.id,
                host_email=user.email,
                cluster=user.cluster,
                topic=fields.get("topic") or "Zoom meeting",
                type=kind,
                start_time=start,
                duration=fields.get("duration", 60),
                timezone=fields.get("timezone") or user.timezone,
                agenda=fields.get("agenda", ""),
                password=password,
                encrypted_password=self._token(32) if password else "",
                settings=settings,
                created_at=now.replace(microsecond=0),
                tracking_fields=fields.get("tracking_fields") or [],
                registration_code=self._token(22),
                is_pmi=use_pmi,
                origin=origin,
            )
            if kind == 8:
                meeting.recurrence = dict(fields["recurrence"])
                meeting.occurrences = build_occurrences(start, meeting.duration, meeting.recurrence)
            self.meetings[meeting.id] = meeting
            return meeting

    def update_meeting(self, user, ref, body, occurrence_id=None):
        """Apply a PATCH body (partial, settings merged); raise 3001/3003/300/200 like Zoom."""
        with self.lock:
            meeting = self.find_meeting(ref)
            if meeting.host_id != user.id:
                raise ZoomError(400, 3003, "You are not the meeting host.")
            tz_default = body.get("timezone") if zone(body.get("timezone")) else meeting.timezone
            fields = clean_meeting_fields(body, tz_default)
            if occurrence_id:
                occurrence = self._occurrence(meeting, occurrence_id)
                if fields.get("start_time"):
                    occurrence["start_time"] = fields["start_time"]
                if "duration" in fields:
                    occurrence["duration"] = fields["duration"]
                return meeting
            settings = merge_settings(meeting.settings, fields.get("settings", {}))
            self._check_settings_rules(self.users[meeting.host_id], settings)
            meeting.settings = settings
            for name in ("topic", "type", "duration", "timezone", "agenda", "tracking_fields"):
                if name in fields:
                    setattr(meeting, name, fields[name])
            if fields.get("start_time"):
                meeting.start_time = fields["start_time"]
            if "password" in fields and fields["password"] != meeting.password:
                meeting.password = fields["password"]
                meeting.encrypted_password = self._token(32) if meeting.password else ""
            if "recurrence" in fields or (meeting.type == 8 and not meeting.occurrences):
                meeting.recurrence = dict(fields.get("recurrence") or meeting.recurrence or {})
                if meeting.type == 8 and meeting.recurrence:
                    meeting.occurrences = build_occurrences(
                        meeting.start_time or self.now(), meeting.duration, meeting.recurrence
                    )
            return meeting

    def delete_meeting(self, user, ref, occurrence_id=None):
        """Delete (or delete one occurrence of) a meeting; returns `(meeting, operation)`."""
        with self.lock:
            meeting = self.find_meeting(ref)
            if meeting.host_id != user.id:
                raise ZoomError(400, 3003, "You are not the meeting host.")
            if meeting.is_pmi:
                raise ZoomError(400, 3018, "Not allowed to delete PMI.")
            if meeting.status == "started":
                raise ZoomError(
                    400, 3002, "Sorry, you cannot delete this meeting since it is in progress."
                )
            if meeting.type == 1 and meeting.ended_at is not None:
                raise ZoomError(
                    400, 3007, "Sorry, you cannot delete this meeting since it has ended."
                )
            if occurrence_id:
                self._occurrence(meeting, occurrence_id)["status"] = "deleted"
                return meeting, "single"
            meeting.deleted = True
            return meeting, "all"

    def list_meetings(self, user, kind):
        """Return the user's meetings that `type=<kind>` selects, ordered by start time."""
        now = self.now()
        with self.lock:
            if user.type == 4:
                raise ZoomError(400, 3161, NO_HOSTING)
            found = []
            for meeting in self.meetings.values():
                if meeting.host_id != user.id or meeting.type == 1 or self.meeting_gone(meeting):
                    continue
                start = self._next_start(meeting)
                end = start + timedelta(minutes=meeting.duration) if start else None
                live = meeting.status == "started"
                upcoming = live or end is None or end >= now
                if (
                    kind == "scheduled"
                    or (kind == "live" and live)
                    or (kind in ("upcoming", "upcoming_meetings") and upcoming)
                    or (kind == "previous_meetings" and not upcoming)
                ):
                    found.append(meeting)
            far = datetime.max.replace(tzinfo=now.tzinfo)
            return sorted(found, key=lambda m: (self._next_start(m) or far, m.created_at))

    # helpers ----------------------------------------------------------------------------------

    def _check_settings_rules(self, host, settings):
        if settings.get("waiting_room"):
            settings["join_before_host"] = False
        if host.type == 1 and (
            settings.get("approval_type") in (0, 1)
            or settings.get("auto_recording") == "cloud"
            or (settings.get("alternative_hosts") or "").strip()
        ):
            raise ZoomError(400, 200, PAID_ONLY)

    def _occurrence(self, meeting, occurrence_id):
        for occurrence in meeting.occurrences:
            if (
                occurrence["occurrence_id"] == str(occurrence_id)
                and occurrence["status"] != "deleted"
            ):
                return occurrence
        raise ZoomError(400, 3000, "Invalid occurrence_id.")

    def _next_start(self, meeting):
        if meeting.type == 8 and meeting.occurrences:
            now = self.now()
            live = [o["start_time"] for o in meeting.occurrences if o["status"] != "deleted"]
            upcoming = [s for s in live if s >= now]
            return min(upcoming) if upcoming else (max(live) if live else meeting.start_time)
        return meeting.start_time

    def _start_url(self, meeting):
        zak, expires = make_zak(meeting, self.now(), self.config.zak_lifetime)
        self.zaks[zak] = (meeting.id, expires)
        base = meeting_url_base(self.config.meeting_url_base, meeting.cluster)
        return f"{base}/s/{meeting.id}?zak={zak}"

    def _new_meeting_id(self):
        while True:
            candidate = 10**10 + secrets.randbelow(9 * 10**10)
            if candidate not in self.meetings:
                return candidate

    def _new_uuid(self):
        self._meeting_counter += 1
        return make_uuid(self._meeting_counter)

    @staticmethod
    def _token(length):
        return "".join(secrets.choice(ALNUM) for _ in range(length))
