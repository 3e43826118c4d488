"""The audit trail: who changed what, when, from what to what."""

from .models import AuditEntry


def record(actor, action, *, center=None, target=None, before=None, after=None):
    """Write one audit entry; target is a model instance or None."""
    return AuditEntry.create(
        actor=actor,
        center=center,
        action=action,
        target_type=type(target).__name__ if target is not None else None,
        target_id=target.id if target is not None else None,
        before=before,
        after=after,
    )


def history(center, limit=50):
    """Recent audit entries for a center, newest first."""
    return (
        AuditEntry.select()
        .where(AuditEntry.center == center)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
