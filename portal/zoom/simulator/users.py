"""Simulated Zoom users: the seeded cast and the `GET /v2/users/{id}` representation.

Seeded users (stable ids, PMIs and emails, so the portal's rows survive a restart of `make run`):
`licensed` (type 2, Zoom login [100]), `basic` (type 1, free), `google` ([1]), `facebook` ([0]),
`sso` ([101]), `unassigned` (type 4, cannot host → 3161), and `tutor1`..`tutor3` (licensed).
Each user is its own Zoom account (tutors bring personal accounts), so rate limits are per user.
"""

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

LOGIN_TYPES = {
    0: "Facebook",
    1: "Google",
    24: "Apple",
    27: "Microsoft",
    99: "API user",
    100: "Zoom (email and password)",
    101: "SSO",
}
USER_TYPES = {1: "Basic (free)", 2: "Licensed", 4: "Unassigned (no meetings)", 99: "None"}
SEED_CREATED = datetime(2024, 9, 2, 8, 30, tzinfo=UTC)

# key, email, first name, last name, type, login_types, cluster
SEED_USERS = (
    ("licensed", "lena.licensed@example.com", "Lena", "Licensed", 2, [100], "us06"),
    ("basic", "basil.basic@example.com", "Basil", "Basic", 1, [100], "us05"),
    ("google", "gina.google@example.com", "Gina", "Google", 2, [1], "us06"),
    ("facebook", "farid.facebook@example.com", "Farid", "Facebook", 2, [0], "us06"),
    ("sso", "sora.sso@example.com", "Sora", "Sso", 2, [101], "us02"),
    ("unassigned", "uma.unassigned@example.com", "Uma", "Unassigned", 4, [100], "us05"),
    ("tutor1", "tara.tutor@example.com", "Tara", "Tutor", 2, [100], "us06"),
    ("tutor2", "theo.tutor@example.com", "Theo", "Tutor", 2, [100], "us06"),
    ("tutor3", "tess.tutor@example.com", "Tess", "Tutor", 2, [1], "us06"),
)


def stable_id(text, length=22):
    """Return a Zoom-looking base64url id derived from `text` (same input, same id)."""
    digest = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:length]


def stable_number(text, digits):
    """Return a `digits`-long number derived from `text` whose first digit is not 0."""
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    low = 10 ** (digits - 1)
    return low + value % (9 * low)


def meeting_url_base(base, cluster):
    """Return where join/start links point: `base` if set, else Zoom's web host of `cluster`."""
    return base.rstrip("/") if base else f"https://{cluster}web.zoom.us"


def iso(dt):
    """Format an aware datetime as Zoom does: UTC, seconds precision, `Z` suffix."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimUser:
    """One Zoom user; also its own account (id, number, plan follows `type`)."""

    key: str
    email: str
    first_name: str
    last_name: str
    type: int = 2
    login_types: list = field(default_factory=lambda: [100])
    cluster: str = "us06"
    timezone: str = "America/New_York"
    language: str = "en-US"
    status: str = "active"
    waiting_room: bool = False
    created_at: datetime = SEED_CREATED
    last_login_time: datetime | None = None
    deleted: bool = False
    id: str = ""
    account_id: str = ""
    account_number: int = 0
    pmi: int = 0

    def __post_init__(self):
        self.id = self.id or stable_id("user:" + self.email)
        self.account_id = self.account_id or stable_id("account:" + self.email)
        self.account_number = self.account_number or stable_number("acct:" + self.email, 9)
        self.pmi = self.pmi or stable_number("pmi:" + self.email, 10)

    @property
    def display_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def login_label(self):
        return ", ".join(LOGIN_TYPES.get(t, str(t)) for t in self.login_types)

    @property
    def type_label(self):
        return USER_TYPES.get(self.type, str(self.type))

    @property
    def max_minutes(self):
        """Return the meeting length Zoom allows this host (recorded, not enforced)."""
        return 40 if self.type == 1 else 30 * 60

    def matches(self, user_ref):
        """Return whether `user_ref` (an id or an email) names this user."""
        return user_ref == self.id or user_ref.lower() == self.email.lower()

    def to_json(self, now, url_base=None):
        """Return the `GET /v2/users/{userId}` body (`url_base`: see `meeting_url_base`)."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "display_name": self.display_name,
            "email": self.email,
            "type": self.type,
            "role_name": "Owner",
            "pmi": self.pmi,
            "use_pmi": False,
            "personal_meeting_url": f"{meeting_url_base(url_base, self.cluster)}/j/{self.pmi}",
            "timezone": self.timezone,
            "verified": 1,
            "dept": "",
            "created_at": iso(self.created_at),
            "user_created_at": iso(self.created_at),
            "last_login_time": iso(self.last_login_time or now),
            "last_client_version": "6.4.6.53970(mac)",
            "pic_url": f"https://{self.cluster}web.zoom.us/p/v2/{stable_id('pic:' + self.id, 32)}",
            "language": self.language,
            "phone_number": "",
            "status": self.status,
            "role_id": "0",
            "account_id": self.account_id,
            "account_number": self.account_number,
            "cluster": self.cluster,
            "login_types": list(self.login_types),
            "jid": f"{self.id.lower()}@xmpp.zoom.us",
            "group_ids": [],
            "im_group_ids": [],
        }

    def settings_json(self):
        """Return the part of `GET /v2/users/{userId}/settings` that cal.com-style clients read."""
        return {
            "schedule_meeting": {
                "default_password_for_scheduled_meetings": "",
                "require_password_for_scheduled_meetings": True,
            },
            "recording": {"auto_recording": "none", "cloud_recording": self.type == 2},
            "in_meeting": {"waiting_room": self.waiting_room},
        }


def seed_users():
    """Return the seeded cast, in display order."""
    return [
        SimUser(key=key, email=email, first_name=first, last_name=last, type=kind,
                login_types=list(logins), cluster=cluster)
        for key, email, first, last, kind, logins, cluster in SEED_USERS
    ]  # fmt: skip
