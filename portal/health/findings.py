"""The finding lifecycle: open (or refresh) on the open key, resolve, and a scan's bulk apply.

One open row per ``key`` is enforced by the partial UNIQUE index on ``finding(key)
WHERE resolved_at IS NULL``. Keys read ``<check>:<kind>:<id>`` (``session_mismatch:tutor:7``,
``waiting_room_stuck:session:12``), the same keys Join and the webhook handlers use,
so a scan refreshes what they opened instead of duplicating it.

A scan never duplicates: ``apply`` reads the open findings of the checks it ran, in its
scope, and then inserts the new keys, refreshes ``last_seen``/``last_checked`` (and the
detail, severity and evidence when they changed) of the ones seen again, and resolves
the ones it no longer sees, except subjects it could not check (a Zoom outage is never
taken for "fixed").
"""

import json
import logging
from dataclasses import dataclass, field

from peewee import IntegrityError

from ..db import database, retry_locked, write_tx
from ..models import Finding, utcnow
from ..notifications.alerts import finding_opened
from ..notifications.outbox import wake
from .observations import Observation, finding_key, tutor_key  # noqa: F401 - re-exported

CHUNK = 500
SEVERITIES = ("critical", "warning", "info")


def _normal(evidence):
    """Evidence as it reads back from the database (JSON round trip)."""
    return None if evidence is None else json.loads(json.dumps(evidence, default=str))


def open_finding(
    check, key, severity, center, tutor, detail, evidence=None, *, subject=None, now=None
):
    """Open the finding for ``key``, or refresh the open one; returns the row."""
    now = now or utcnow()
    obs = Observation(
        check,
        key,
        severity,
        getattr(center, "id", center),
        getattr(tutor, "id", tutor),
        detail,
        evidence or {},
        subject,
    )
    fields = obs.row(now)
    refresh = {
        k: fields[k] for k in ("severity", "detail", "evidence", "last_seen", "last_checked")
    }

    opened = []

    def write():
        opened.clear()
        with write_tx():
            updated = (
                Finding.update(**refresh).where(Finding.key == key, Finding.is_open()).execute()
            )
            if not updated:
                try:
                    with database.atomic():  # a savepoint: a lost race must not abort the rest
                        opened.append(Finding.insert(fields).execute())
                        _opened(opened)
                except IntegrityError:  # opened a moment ago by someone else: refresh theirs
                    Finding.update(**refresh).where(Finding.key == key, Finding.is_open()).execute()
        return Finding.get(Finding.key == key, Finding.is_open())

    row = retry_locked(write)
    if opened:
        _wake()
    return row


def _opened(finding_ids):
    """A new finding row (not a refresh): queue its alert e-mails in the same transaction."""
    finding_opened(finding_ids)


def _wake():
    """Deliver those alerts soon (the job queue); never fails the lifecycle."""
    try:
        wake()
    except Exception:  # noqa: BLE001 - send-reminders delivers them within a minute
        logging.getLogger("portal.mail").exception("could not wake mail delivery")


def open_for(key):
    """The open finding with this key, or None."""
    return Finding.open_for(key)


def resolve(key, how, *, by=None, now=None):
    """Resolve the open finding for ``key``; True if there was one."""
    now = now or utcnow()
    return bool(
        retry_locked(
            lambda: (
                Finding.update(
                    resolved_at=now,
                    resolution=how[:200],
                    resolved_by=getattr(by, "id", by),
                    last_checked=now,
                )
                .where(Finding.key == key, Finding.is_open())
                .execute()
            )
        )
    )


@dataclass
class Applied:
    opened: int = 0
    refreshed: int = 0
    resolved: int = 0
    opened_keys: list = field(default_factory=list)
    resolved_keys: list = field(default_factory=list)


def _chunks(items, size=CHUNK):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def apply(
    observations, checks, *, tutors=None, unchecked=(), keep=None, now=None, resolutions=None
):
    """Bring the open findings of ``checks`` in line with what a scan observed.

    ``tutors`` limits the scope (a query of tutor ids; None = every finding of those
    checks); ``unchecked`` holds ``(check, tutor_id)`` pairs that could not be checked
    (left as they are); ``keep(check, evidence)`` may spare a finding from resolution;
    ``resolutions`` maps a check to the words stored as its resolution.
    """
    now = now or utcnow()
    checks = list(checks)
    seen = {}
    for obs in observations:
        seen[obs.key] = obs  # last one wins: one key, one finding
    query = Finding.select(
        Finding.id,
        Finding.key,
        Finding.check,
        Finding.tutor,
        Finding.severity,
        Finding.detail,
        Finding.evidence,
    ).where(Finding.is_open(), Finding.check.in_(checks))
    if tutors is not None:
        query = query.where(Finding.tutor.in_(tutors))
    existing = {row[1]: row for row in query.tuples()}
    result = Applied()
    untouched, changed, inserts, resolve_ids = [], [], [], []
    for key, obs in seen.items():
        row = existing.get(key)
        if row is None:
            inserts.append(obs)
            continue
        same = (
            row[4] == obs.severity
            and row[5] == obs.detail[:2000]
            and row[6] == _normal(obs.evidence)
        )
        (untouched if same else changed).append((row[0], obs))
    skip = set(unchecked)
    for key, row in existing.items():
        if key in seen or (row[2], row[3]) in skip:
            continue
        if keep is not None and keep(row[2], row[6]):
            continue
        resolve_ids.append((row[0], row[2], key))

    def write():
        with write_tx():
            for chunk in _chunks([i for i, _ in untouched], 5000):
                Finding.update(last_seen=now, last_checked=now).where(
                    Finding.id.in_(chunk), Finding.is_open()
                ).execute()
            for finding_id, obs in changed:
                Finding.update(
                    severity=obs.severity,
                    detail=obs.detail[:2000],
                    evidence=obs.evidence,
                    center=obs.center_id,
                    last_seen=now,
                    last_checked=now,
                ).where(Finding.id == finding_id, Finding.is_open()).execute()
            by_check = {}
            for finding_id, check, _key in resolve_ids:
                by_check.setdefault(check, []).append(finding_id)
            for check, ids in by_check.items():
                how = (resolutions or {}).get(check, "No longer found by the health check")
                for chunk in _chunks(ids, 5000):
                    Finding.update(resolved_at=now, resolution=how[:200], last_checked=now).where(
                        Finding.id.in_(chunk), Finding.is_open()
                    ).execute()
            for chunk in _chunks(inserts):
                try:
                    with database.atomic():
                        Finding.insert_many([obs.row(now) for obs in chunk]).execute()
                        keys = [obs.key for obs in chunk]
                        _opened(
                            row.id
                            for row in Finding.select(Finding.id).where(
                                Finding.key.in_(keys), Finding.is_open()
                            )
                        )
                except IntegrityError:  # Join or a webhook opened one of these meanwhile
                    for obs in chunk:
                        open_finding(
                            obs.check,
                            obs.key,
                            obs.severity,
                            obs.center_id,
                            obs.tutor_id,
                            obs.detail,
                            obs.evidence,
                            subject=obs.subject,
                            now=now,
                        )

    retry_locked(write)
    if inserts:
        _wake()
    result.opened = len(inserts)
    result.opened_keys = [obs.key for obs in inserts]
    result.refreshed = len(untouched) + len(changed)
    result.resolved = len(resolve_ids)
    result.resolved_keys = [key for _i, _c, key in resolve_ids]
    return result
