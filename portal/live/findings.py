"""Findings opened by webhook effects: the health module's lifecycle, plus the key format.

One open row per key (the partial UNIQUE index); ``portal.health.findings``
owns open/refresh/resolve so webhooks, Join and the scanner never disagree.
"""

from ..health.findings import open_finding, open_for
from ..health.findings import resolve as _resolve

__all__ = ["finding_key", "open_finding", "open_for", "resolve_finding"]


def finding_key(check, kind, subject_id):
    """The key of a finding about one subject: ``connection_broken:tutor:7``."""
    return f"{check}:{kind}:{subject_id}"


def resolve_finding(key, resolution, *, now=None, by=None):
    """Resolve the open finding for ``key``; True if there was one."""
    return _resolve(key, resolution[:200], by=by, now=now)
