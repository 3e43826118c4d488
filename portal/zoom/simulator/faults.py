"""Fault switches and "things that happen in Zoom" for tests and the control page.

Every method here is public Python API on `SimulatorState`; the control page's POST forms call
the same methods. Faults: `set_latency`, `fail_next` (N calls answered with a status and a JSON,
XML, HTML or empty body), `localize_errors`, `drop_next_refresh` ("500": rotate then answer 500;
"close": rotate then drop the connection unanswered), `corrupt_next_webhook`, `reset_faults`.
Behind the portal's back:
`zoom_delete_meeting`, `create_daily_session`, `revoke_user_tokens`, `deauthorize`,
`set_user_type`/`downgrade_to_basic`, `set_login_method`, `delete_user`, `expire_meeting`,
`expire_access_tokens`. Live meetings: `start_meeting`, `end_meeting`, `participant_waiting`,
`admit_participant`, `join_participant`, `leave_participant` (each emits its webhook; with
`deliver=False` it is only queued, for a view to `webhooks.flush()` after its response).
"""

import hashlib
import secrets
from dataclasses import dataclass

from .users import iso

FAIL_BODIES = ("json", "xml", "html", "empty")
FAIL_SCOPES = ("api", "oauth", "all")
DROP_MODES = ("500", "close")
WEBHOOK_FAULTS = ("bad_signature", "stale_timestamp")


@dataclass
class Faults:
    latency: float = 0.0
    fail_count: int = 0
    fail_status: int = 500
    fail_body: str = "json"
    fail_scope: str = "api"
    drop_refresh: str | None = None
    webhook_fault: str | None = None


class FaultsMixin:
    """Fault and test-control part of `SimulatorState`."""

    def _init_faults(self):
        self.faults = Faults()

    # switches ---------------------------------------------------------------------------------

    def set_latency(self, seconds):
        """Delay every simulator response by `seconds` (0 turns it off)."""
        if not 0 <= float(seconds) <= 60:
            raise ValueError("latency must be between 0 and 60 seconds")
        with self.lock:
            self.faults.latency = float(seconds)

    def fail_next(self, count=1, status=500, body="json", scope="api"):
        """Answer the next `count` calls in `scope` (api|oauth|all) with `status` and `body`."""
        if body not in FAIL_BODIES or scope not in FAIL_SCOPES or not 400 <= int(status) <= 599:
            raise ValueError("fail_next: body json|xml|html|empty, scope api|oauth|all, 4xx/5xx")
        with self.lock:
            self.faults.fail_count = int(count)
            self.faults.fail_status = int(status)
            self.faults.fail_body = body
            self.faults.fail_scope = scope

    def take_failure(self, scope):
        """Consume one injected failure for a call in `scope`; return `(status, body)` or None."""
        with self.lock:
            faults = self.faults
            if faults.fail_count <= 0 or faults.fail_scope not in (scope, "all"):
                return None
            faults.fail_count -= 1
            return faults.fail_status, faults.fail_body

    def drop_next_refresh(self, mode="500"):
        """Rotate on the next refresh but lose the answer ("500" or "close")."""
        if mode not in DROP_MODES:
            raise ValueError("drop mode must be 500 or close")
        with self.lock:
            self.faults.drop_refresh = mode

    def take_refresh_drop(self):
        with self.lock:
            mode, self.faults.drop_refresh = self.faults.drop_refresh, None
            return mode

    def corrupt_next_webhook(self, kind="bad_signature"):
        """Sign the next delivery wrongly or with a timestamp an hour old."""
        if kind not in WEBHOOK_FAULTS:
            raise ValueError("webhook fault must be bad_signature or stale_timestamp")
        with self.lock:
            self.faults.webhook_fault = kind

    def take_webhook_fault(self):
        with self.lock:
            kind, self.faults.webhook_fault = self.faults.webhook_fault, None
            return kind

    def localize_errors(self, on=True):
        """Answer API error messages in Russian (clients must branch on `code`, not text)."""
        with self.lock:
            self.config.localized_errors = bool(on)

    def reset_faults(self):
        """Turn every fault switch off."""
        with self.lock:
            self.faults = Faults()
            self.config.localized_errors = False

    # accounts ---------------------------------------------------------------------------------

    def revoke_user_tokens(self, user_ref, notify=False):
        """Kill every token pair of the user; with `notify`, also fire `app_deauthorized`."""
        with self.lock:
            user = self.user(user_ref)
            count = self._revoke_user_grants(user.id, "revoked in Zoom")
        if notify:
            self.emit_deauthorized(user.id)
        return count

    def deauthorize(self, user_ref):
        """The user removes the app in Zoom: tokens die and `app_deauthorized` is sent."""
        return self.revoke_user_tokens(user_ref, notify=True)

    def expire_access_tokens(self, user_ref=None):
        """Make current access tokens (of one user, or everyone's) expired; refresh still works."""
        with self.lock:
            user_id = self.user(user_ref).id if user_ref else None
            for grant in self.grants:
                if user_id in (None, grant.user_id):
                    grant.access_expires_at = min(grant.access_expires_at, self.now())

    def set_user_type(self, user_ref, user_type):
        """Change the licence type (1 Basic, 2 Licensed, 4 Unassigned, 99 None)."""
        if int(user_type) not in (1, 2, 4, 99):
            raise ValueError("user type must be 1, 2, 4 or 99")
        with self.lock:
            self.user(user_ref).type = int(user_type)

    def downgrade_to_basic(self, user_ref):
        """Turn the user into a free (type 1) user."""
        self.set_user_type(user_ref, 1)

    def set_login_method(self, user_ref, login_types):
        """Switch how the user signs in to Zoom (e.g. [1] Google, [100] email)."""
        values = [int(v) for v in ([login_types] if isinstance(login_types, int) else login_types)]
        with self.lock:
            self.user(user_ref).login_types = values

    def delete_user(self, user_ref):
        """Remove the user from Zoom: tokens die, `/users/{id}` answers 1001."""
        with self.lock:
            user = self.user(user_ref)
            user.deleted = True
            self._revoke_user_grants(user.id, "user deleted")

    # meetings behind the portal's back ------------------------------------------------------------

    def zoom_delete_meeting(self, meeting_id, notify=True):
        """Delete a meeting in Zoom itself (the host did it); optionally send `meeting.deleted`."""
        with self.lock:
            meeting = self.meeting(meeting_id)
            meeting.deleted = True
            meeting.status = "waiting"
        if notify:
            self.emit_meeting_deleted(meeting, "all")
        return meeting

    def create_daily_session(self, user_ref, topic="Daily Session", start=None, duration=60):
        """Create a meeting as if the host made it in Zoom (no quota, no portal involved)."""
        body = {"topic": topic, "type": 2, "duration": duration}
        if start is not None:
            body["start_time"] = iso(start)
        return self.create_meeting(self.user(user_ref), body, origin="zoom")

    def expire_meeting(self, meeting_id):
        """Make a meeting answer 3001 as if its 30 days had passed."""
        with self.lock:
            self.meeting(meeting_id).expired = True

    # live meetings ------------------------------------------------------------------------------

    def start_meeting(self, meeting_id, *, deliver=True):
        """The host starts the meeting: `status` becomes "started", `meeting.started` is sent."""
        with self.lock:
            meeting = self.find_meeting(meeting_id)
            meeting.status = "started"
            meeting.started_at = self.now()
            meeting.ended_at = None
            payload = self._meeting_payload(meeting)
        return self.webhooks.emit("meeting.started", payload, deliver=deliver)

    def end_meeting(self, meeting_id, *, deliver=True):
        """The host ends the meeting: `meeting.ended` with `end_time`; status back to "waiting"."""
        with self.lock:
            meeting = self.find_meeting(meeting_id)
            if meeting.status != "started":
                raise ValueError("meeting is not in progress")
            meeting.status = "waiting"
            meeting.ended_at = self.now()
            for participant in meeting.participants.values():
                participant["state"] = "left"
            payload = self._meeting_payload(meeting, end_time=iso(meeting.ended_at))
        return self.webhooks.emit("meeting.ended", payload, deliver=deliver)

    def participant_waiting(self, meeting_id, name="Student", email="", *, deliver=True):
        """A participant arrives in the waiting room; returns the participant id."""
        return self._participant_event(meeting_id, None, "waiting", name, email, deliver=deliver)

    def admit_participant(self, meeting_id, participant_id, *, deliver=True):
        """The host admits a waiting participant (`participant_admitted`, then `_joined`)."""
        self._participant_event(meeting_id, participant_id, "admitted", deliver=deliver)
        return self._participant_event(meeting_id, participant_id, "joined", deliver=deliver)

    def join_participant(self, meeting_id, name="Student", email="", *, deliver=True):
        """A participant joins a started meeting directly; returns the participant id."""
        return self._participant_event(meeting_id, None, "joined", name, email, deliver=deliver)

    def leave_participant(self, meeting_id, participant_id):
        """A participant leaves (`meeting.participant_left` with `leave_time`)."""
        return self._participant_event(meeting_id, participant_id, "left")

    # event builders ---------------------------------------------------------------------------

    def emit_deauthorized(self, user_id, *, deliver=True):
        """Send `app_deauthorized` for a user whose tokens were revoked."""
        with self.lock:
            user = self.users[user_id]
            now = self.now()
            payload = {
                "account_id": user.account_id,
                "user_id": user.id,
                "signature": hashlib.sha256(f"{user.id}:{now.isoformat()}".encode()).hexdigest(),
                "deauthorization_time": now.strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{now.microsecond // 1000:03d}Z",
                "client_id": self.config.client_id,
            }
            if self.config.legacy_deauth_fields:
                payload["user_data_retention"] = "false"
        return self.webhooks.emit("app_deauthorized", payload, deliver=deliver)

    def emit_meeting_deleted(self, meeting, operation, *, deliver=True, occurrence_id=None):
        """Send `meeting.deleted` (numeric `object.id`, operator = host)."""
        with self.lock:
            host = self.users[meeting.host_id]
            obj = meeting.event_object(id_as_string=False)
            if occurrence_id:
                obj["occurrences"] = [
                    {"occurrence_id": o["occurrence_id"], "start_time": iso(o["start_time"])}
                    for o in meeting.occurrences
                    if o["occurrence_id"] == str(occurrence_id)
                ]
            payload = {
                "account_id": host.account_id,
                "operator": host.email,
                "operator_id": host.id,
                "operation": operation,
                "object": obj,
            }
        return self.webhooks.emit("meeting.deleted", payload, deliver=deliver)

    def _meeting_payload(self, meeting, **extra):
        host = self.users[meeting.host_id]
        obj = meeting.event_object(id_as_string=True)
        obj.update(extra)
        return {"account_id": host.account_id, "object": obj}

    def _participant_event(
        self, meeting_id, participant_id, action, name="", email="", *, deliver=True
    ):
        with self.lock:
            meeting = self.find_meeting(meeting_id)
            now = iso(self.now())
            if participant_id is None:
                participant_id = str(10**7 + secrets.randbelow(9 * 10**7))
                meeting.participants[participant_id] = {
                    "user_id": participant_id,
                    "user_name": name,
                    "email": email,
                    "participant_uuid": secrets.token_hex(16).upper(),
                    "state": "new",
                }
            person = meeting.participants.get(str(participant_id))
            if person is None:
                raise KeyError(participant_id)
            if action in ("joined", "admitted") and meeting.status != "started":
                raise ValueError("the meeting has not started")
            if action == "admitted" and person["state"] != "waiting":
                raise ValueError("participant is not in the waiting room")
            if action == "left" and person["state"] not in ("joined", "waiting"):
                raise ValueError("participant is not in the meeting")
            person["state"] = "joined" if action == "admitted" else action
            event, time_key = {
                "waiting": ("meeting.participant_joined_waiting_room", "date_time"),
                "admitted": ("meeting.participant_admitted", "date_time"),
                "joined": ("meeting.participant_joined", "join_time"),
                "left": ("meeting.participant_left", "leave_time"),
            }[action]
            public = {k: v for k, v in person.items() if k != "state"}
            public["id"] = public["participant_uuid"][:22]
            public[time_key] = now
            if action == "left":
                public["leave_reason"] = "left the meeting."
            payload = self._meeting_payload(meeting, participant=public)
        self.webhooks.emit(event, payload, deliver=deliver)
        return str(participant_id)
