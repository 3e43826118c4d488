"""The domain of DESIGN §5 as peewee models. Nothing here imports Flask.

Invariants live in constraints, not in ``if``s: one Daily Session per tutor and
date (UNIQUE), one live Zoom connection per tutor and one open finding per key
(partial UNIQUE indexes), no double booking of a tutor's online slot.

One module per part of the domain; every name is importable from here.
"""

from .appointments import Appointment, JoinEvent
from .base import APPOINTMENT_KINDS, ROLE_LABELS, ROLES, BaseModel, JSONTextField, utcnow
from .health import (
    AuditEntry,
    Finding,
    HealthScan,
    HealthScanBatch,
    HealthSnapshot,
    TutorDevice,
    TutorNotice,
)
from .notifications import CalendarFeed, MailPreference, OutboxMessage, ShiftCheck
from .people import Center, LoginAttempt, Membership, User, WebSession
from .zoom import DailySession, MeetingParticipant, PresenceEvent, WebhookDelivery, ZoomConnection

# Creation order (foreign keys first); backup, restore and the tests walk it.
MODELS = [
    Center,
    User,
    Membership,
    ZoomConnection,
    DailySession,
    Appointment,
    JoinEvent,
    Finding,
    AuditEntry,
    WebhookDelivery,
    WebSession,
    LoginAttempt,
    MeetingParticipant,
    PresenceEvent,
    HealthScan,
    HealthScanBatch,
    HealthSnapshot,
    TutorNotice,
    TutorDevice,
    OutboxMessage,
    MailPreference,
    CalendarFeed,
    ShiftCheck,
]

__all__ = [
    "APPOINTMENT_KINDS",
    "MODELS",
    "ROLES",
    "ROLE_LABELS",
    "BaseModel",
    "JSONTextField",
    "utcnow",
    *(model.__name__ for model in MODELS),
]
