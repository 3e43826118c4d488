"""Broken-integration alerts: one e-mail per finding opening, to the tutor and the admins.

``finding_opened`` is called by the finding lifecycle (``portal.health.findings``) in
the transaction that inserts a new finding row, never when a scan refreshes one. The
outbox keys are ``finding:<id>:alert:user:<recipient>``: a finding that is resolved and
comes back is a new row with a new id, so it alerts again, once. Admins are the
center administrators of the finding's center (the account administrators when the
center has none). Alerts about a tutor's own setup cannot be turned off.
"""

from ..models import Finding, Membership, User
from . import outbox

ALWAYS = ("missing_scope",)  # alerts even when only a warning: nothing works without it


def alerts_for(check, severity):
    """True for the findings that e-mail people when they open."""
    return severity == "critical" or check in ALWAYS


def admins_of(center_id):
    """Active center administrators of a center; the account administrators if it has none."""
    active = User.is_enabled()
    if center_id is not None:
        admins = list(
            User.select()
            .join(Membership, on=(Membership.user == User.id))
            .where(Membership.center == center_id, User.role == User.CENTER_ADMIN, active)
            .order_by(User.id)
        )
        if admins:
            return admins
    return list(User.select().where(User.role == User.ACCOUNT_ADMIN, active).order_by(User.id))


def finding_opened(finding_ids):
    """Queue the alerts of findings just inserted (call inside the inserting transaction)."""
    ids = [i for i in finding_ids if i is not None]
    if not ids:
        return 0
    rows = []
    for finding in Finding.select().where(Finding.id.in_(ids)):
        if not alerts_for(finding.check, finding.severity):
            continue
        recipients = [u.id for u in admins_of(finding.center_id)]
        if finding.tutor_id is not None:
            tutor = User.get_or_none(User.id == finding.tutor_id, User.role == User.TUTOR)
            if tutor is not None and tutor.active:
                recipients.insert(0, tutor.id)
        for user_id in dict.fromkeys(recipients):
            rows.append(
                {
                    "key": f"finding:{finding.id}:alert:user:{user_id}",
                    "kind": "alert",
                    "recipient": user_id,
                    "center": finding.center_id,
                    "finding": finding.id,
                    "tutor": finding.tutor_id,
                }
            )
    outbox.queue(rows)
    return len(rows)
