"""Open, refresh and resolve findings: one open row per key (the partial UNIQUE index).

Small on purpose so the health scanner can reuse it. Call inside a transaction
(``write_tx()``) when the finding must change together with other rows; the
insert runs in a savepoint so a concurrent opener on PostgreSQL (who inserted
the same key first) turns into a refresh instead of an error.
"""

from peewee import IntegrityError

from ..db import database
from ..models import Finding, utcnow


def finding_key(check, kind, subject_id):
    """The key of a finding about one subject: ``connection_broken:tutor:7``."""
    return f"{check}:{kind}:{subject_id}"


def open_finding(
    check, key, severity, center, tutor, detail, evidence=None, *, subject=None, now=None
):
    """Open the finding for ``key``, or refresh the open one; returns the row.

    ``subject`` is ``(type, id)``; by default the tutor, when there is one.
    """
    now = now or utcnow()
    tutor_id = getattr(tutor, "id", tutor)
    subject_type, subject_id = subject or (("tutor", tutor_id) if tutor_id else (None, None))
    fields = {
        "severity": severity,
        "detail": detail[:2000],
        "evidence": evidence,
        "last_seen": now,
        "last_checked": now,
        "center": getattr(center, "id", center),
        "tutor": tutor_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
    }
    for _attempt in range(2):
        updated = (
            Finding.update(**fields)
            .where(Finding.key == key, Finding.resolved_at.is_null())
            .execute()
        )
        if updated:
            return Finding.get(Finding.key == key, Finding.resolved_at.is_null())
        try:
            with database.atomic():
                return Finding.create(check=check, key=key, first_seen=now, **fields)
        except IntegrityError:
            continue  # someone opened it a moment ago: refresh theirs
    raise RuntimeError(f"could not open finding {key}")  # pragma: no cover


def open_for(key):
    """The open finding with this key, or None."""
    return Finding.get_or_none(Finding.key == key, Finding.resolved_at.is_null())


def resolve_finding(key, resolution, *, now=None, by=None):
    """Resolve the open finding for ``key``; True if there was one."""
    now = now or utcnow()
    return bool(
        Finding.update(
            resolved_at=now, resolution=resolution[:200], resolved_by=by, last_checked=now
        )
        .where(Finding.key == key, Finding.resolved_at.is_null())
        .execute()
    )
