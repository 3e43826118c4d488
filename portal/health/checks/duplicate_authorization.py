"""duplicate_authorization: one Zoom user (id or e-mail) linked to several tutors.

Includes legacy rows made before connect-time refusal existed. One SQL query: the
current connections whose Zoom user id or e-mail occurs more than once (two
GROUP BY ... HAVING subqueries); the few rows it returns are grouped into linked sets.

Also the refused attempts (``zoom.connect_refused`` "already linked" in the audit trail,
within ``ATTEMPT_WINDOW``) of tutors who have not connected an account of their own since:
the attempting tutor is told only that the account is taken; the administrator sees both.
"""

import datetime

from peewee import fn

from ...models import AuditEntry, Center, User, ZoomConnection
from ..observations import Observation, tutor_key
from ._common import plural

NAME = "duplicate_authorization"
TITLE = "Zoom account shared by tutors"
SEVERITY = "critical"
MEANS = (
    "One Zoom account is connected to more than one tutor's portal account. Zoom honours "
    "only the most recent authorization, so the tutors overwrite each other's Daily "
    "Session and the number in the portal stops matching the one in Zoom."
)
STEPS = (
    "Decide which tutor the Zoom account belongs to (usually the one who connected last).",
    "Disconnect the Zoom account from the other tutor(s) here.",
    "Ask the other tutor(s) to sign in to Zoom with their own account and press "
    "Authorize again in Preferences → Virtual Meetings.",
)
FIXES = ("keep_authorization", "notify_reconnect", "reverify")
RESOLVED = "The Zoom account is connected to one tutor only"


def key(tutor):
    """The key of this check's finding about ``tutor`` (a row or an id)."""
    return tutor_key(NAME, tutor)


ATTEMPT_WINDOW = datetime.timedelta(days=7)


def run(ctx):
    """Tutors in scope whose Zoom user id or e-mail is also another tutor's current link."""
    current = ZoomConnection.is_current()
    Dup = ZoomConnection.alias("dup")
    shared_ids = (
        Dup.select(Dup.zoom_user_id)
        .where(ZoomConnection.is_current(Dup))
        .group_by(Dup.zoom_user_id)
        .having(fn.COUNT(Dup.id) > 1)
    )
    shared_emails = (
        Dup.select(Dup.email)
        .where(ZoomConnection.is_current(Dup), Dup.email.is_null(False))
        .group_by(Dup.email)
        .having(fn.COUNT(Dup.id) > 1)
    )
    rows = list(
        ZoomConnection.select(
            ZoomConnection.tutor,
            ZoomConnection.zoom_user_id,
            ZoomConnection.email,
            ZoomConnection.connected_at,
            ZoomConnection.status,
            User.name,
            Center.home_of(User.id).alias("center_id"),
        )
        .join(User, on=(ZoomConnection.tutor == User.id))
        .where(
            current,
            ZoomConnection.zoom_user_id.in_(shared_ids) | ZoomConnection.email.in_(shared_emails),
        )
        .order_by(ZoomConnection.connected_at)
        .tuples()
    )
    groups = _link(rows)
    in_scope = ctx.within(r[0] for r in rows)
    found = []
    for members in groups:
        newest = max(members, key=lambda r: r[3])
        linked = [
            {
                "tutor_id": r[0],
                "zoom_user_id": r[1],
                "zoom_email": r[2],
                "connected_at": r[3],
                "status": r[4],
                "newest": r is newest,
            }
            for r in members
        ]
        for row in members:
            if row[0] not in in_scope:
                continue
            others = len(members) - 1
            detail = (
                f"{row[5]}'s Zoom account {row[2] or row[1]} is also connected to "
                f"{plural(others, 'other tutor account')}. Zoom honours only the newest "
                "authorization, so their Daily Sessions overwrite each other."
            )
            found.append(
                Observation(
                    NAME,
                    key(row[0]),
                    SEVERITY,
                    row[6],
                    row[0],
                    detail,
                    {"zoom_user_id": row[1], "zoom_email": row[2], "linked": linked},
                )
            )
    return found + _refused_attempts(ctx, {o.tutor_id for o in found})


def _refused_attempts(ctx, already):
    """Tutors recently refused an account that another tutor has, still without their own."""
    entries = list(
        AuditEntry.select(AuditEntry.actor, AuditEntry.after, AuditEntry.created_at)
        .where(
            AuditEntry.action == "zoom.connect_refused",
            AuditEntry.created_at > ctx.now - ATTEMPT_WINDOW,
        )
        .order_by(AuditEntry.created_at)
        .tuples()
    )
    latest = {}
    for actor, after, at in entries:
        reason = str((after or {}).get("reason") or "")
        if actor is not None and reason.startswith("already_linked:"):
            latest[actor] = (after, at, int(reason.split(":", 1)[1]))
    tutors = ctx.within(latest) - already
    if not tutors:
        return []
    names = dict(
        User.select(User.id, User.name)
        .where(User.id.in_(list(tutors | {v[2] for v in latest.values()})))
        .tuples()
    )
    connected = dict(
        ZoomConnection.select(ZoomConnection.tutor, ZoomConnection.connected_at)
        .where(ZoomConnection.is_current(), ZoomConnection.tutor.in_(list(tutors)))
        .tuples()
    )
    centers = dict(
        User.select(User.id, Center.home_of(User.id)).where(User.id.in_(list(tutors))).tuples()
    )
    found = []
    for tutor_id in sorted(tutors):
        after, at, owner_id = latest[tutor_id]
        if connected.get(tutor_id) and connected[tutor_id] > at:
            continue  # connected an account of their own since
        email = after.get("zoom_email") or after.get("zoom_user_id")
        kept = " The owner's connection kept working." if after.get("kept_for_owner") else ""
        detail = (
            f"{names.get(tutor_id, 'A tutor')} tried to connect the Zoom account {email}, "
            f"which is already connected to {names.get(owner_id, 'another tutor')}. The portal "
            f"refused it.{kept} If the account is theirs, disconnect it from the other tutor "
            "first; otherwise ask them to sign in to Zoom with their own account and press "
            "Authorize again."
        )
        evidence = {
            "attempted_at": at,
            "zoom_email": after.get("zoom_email"),
            "zoom_user_id": after.get("zoom_user_id"),
            "owner_tutor_id": owner_id,
            "kept_for_owner": bool(after.get("kept_for_owner")),
        }
        found.append(
            Observation(
                NAME,
                key(tutor_id),
                "warning",
                centers.get(tutor_id),
                tutor_id,
                detail,
                evidence,
            )
        )
    return found


def _link(rows):
    """Group connections that share a Zoom user id or an e-mail (a small union-find)."""
    parent = list(range(len(rows)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first = {}
    for index, row in enumerate(rows):
        for value in (("id", row[1]), ("email", row[2])):
            if value[1] is None:
                continue
            if value in first:
                parent[root(index)] = root(first[value])
            else:
                first[value] = index
    groups = {}
    for index, row in enumerate(rows):
        groups.setdefault(root(index), []).append(row)
    return [g for g in groups.values() if len({r[0] for r in g}) > 1]
