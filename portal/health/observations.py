"""What a check reports and the key it is filed under: below the lifecycle and every check.

Keys read ``<check>:<kind>:<id>`` (``session_mismatch:tutor:7``,
``waiting_room_stuck:session:12``); each check module names its own with ``key()``.
"""

from dataclasses import dataclass, field


def finding_key(check, kind, subject_id):
    """The key of a finding about one subject: ``connection_broken:tutor:7``."""
    return f"{check}:{kind}:{subject_id}"


def tutor_key(check, tutor):
    """The key of a finding about a tutor (a row or an id)."""
    return finding_key(check, "tutor", getattr(tutor, "id", tutor))


@dataclass
class Observation:
    """One problem a check saw: what ``open_finding`` would store."""

    check: str
    key: str
    severity: str
    center_id: int | None
    tutor_id: int | None
    detail: str
    evidence: dict = field(default_factory=dict)
    subject: tuple | None = None  # (type, id); by default the tutor

    def row(self, now):
        subject_type, subject_id = self.subject or (
            ("tutor", self.tutor_id) if self.tutor_id else (None, None)
        )
        return {
            "check": self.check,
            "key": self.key,
            "severity": self.severity,
            "center": self.center_id,
            "tutor": self.tutor_id,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "detail": self.detail[:2000],
            "evidence": self.evidence,
            "first_seen": now,
            "last_seen": now,
            "last_checked": now,
        }
