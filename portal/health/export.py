"""CSV exports: findings (DESIGN §8's exact columns) and the audit log (Joins: join/export.py).

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or
carriage return) as a formula, so such cells get a leading apostrophe (OWASP's
"CSV injection" advice); the csv module quotes commas, quotes and newlines.
Rows are streamed in batches, never built as one list.
"""

import csv
import io
import json

from peewee import JOIN

from ..audit import action_label
from ..models import Appointment, AuditEntry, Center, Finding, OutboxMessage, User, ZoomConnection

FINDING_COLUMNS = (
    "check",
    "severity",
    "center",
    "tutor_email",
    "detail",
    "first_seen",
    "last_seen",
)
AUDIT_COLUMNS = ("time", "actor", "action", "center", "target", "before", "after")
AUDIT_NAME_COLUMNS = ("actor_name", "target_name")
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """One CSV cell: text, formula-proofed."""
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat() + ("Z" if getattr(value, "tzinfo", 1) is None else "")
    text = str(value)
    if text.startswith(DANGEROUS):
        return "'" + text
    return text


def stream_csv(header, rows):
    """CSV text chunks: the header, then formula-proofed rows, 500 at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow([cell(v) for v in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _rows(query, columns, *, user, user_field, center_field, created):
    """``columns`` of ``query`` with a user alias and the center LEFT JOINed, oldest first."""
    model = query.model
    return (
        query.select(*columns)
        .join(Center, JOIN.LEFT_OUTER, on=(center_field == Center.id))
        .switch(model)
        .join(user, JOIN.LEFT_OUTER, on=(user_field == user.id))
        .order_by(created, model.id)
        .tuples()
        .iterator()
    )


def findings_rows(query):
    """(check, severity, center, tutor_email, detail, first_seen, last_seen) per finding."""
    Tutor = User.alias("tutor")
    columns = (
        Finding.check,
        Finding.severity,
        Center.name,
        Tutor.email,
        Finding.detail,
        Finding.first_seen,
        Finding.last_seen,
    )
    return _rows(
        query,
        columns,
        user=Tutor,
        user_field=Finding.tutor,
        center_field=Finding.center,
        created=Finding.first_seen,
    )


def findings_csv(query):
    """Stream the findings of ``query`` (a Finding select) as CSV text chunks."""
    return stream_csv(FINDING_COLUMNS, findings_rows(query))


def audit_csv(query):
    """Stream audit entries (an AuditEntry select) as CSV text chunks.

    The first seven columns are the stable ones; ``actor_name`` and ``target_name`` (the
    person or center the entry is about, by name) come last.
    """
    Actor = User.alias("actor")
    columns = (
        AuditEntry.created_at,
        Actor.email,
        AuditEntry.action,
        Center.name,
        AuditEntry.target_type,
        AuditEntry.target_id,
        AuditEntry.before,
        AuditEntry.after,
        Actor.name,
    )
    rows = _rows(
        query,
        columns,
        user=Actor,
        user_field=AuditEntry.actor,
        center_field=AuditEntry.center,
        created=AuditEntry.created_at,
    )

    def shaped():
        for batch in _batches(rows, 500):
            names = target_names({(row[4], row[5]) for row in batch if row[4]})
            for when, actor, action, center, kind, target_id, before, after, name in batch:
                yield (
                    when,
                    actor or "command line",
                    f"{action} ({action_label(action)})",
                    center,
                    f"{kind} {target_id}" if kind else "",
                    _json(before),
                    _json(after),
                    name or ("Command line" if actor is None else ""),
                    names.get((kind, target_id), ""),
                )

    return stream_csv(AUDIT_COLUMNS + AUDIT_NAME_COLUMNS, shaped())


def _batches(rows, size):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def target_names(targets):
    """{(target_type, target_id): words} for audit targets: a person's or a center's name;
    an appointment is its student's, a Zoom connection or outbox message its person's."""
    ids = {}
    for kind, target_id in targets:
        ids.setdefault(kind, set()).add(target_id)
    person = {
        "User": (User, User.id),
        "Appointment": (Appointment, Appointment.student),
        "ZoomConnection": (ZoomConnection, ZoomConnection.tutor),
        "OutboxMessage": (OutboxMessage, OutboxMessage.recipient),
    }
    names = {}
    for kind, wanted in ids.items():
        if kind == "Center":
            query = Center.select(Center.id, Center.name).where(Center.id.in_(list(wanted)))
        elif kind in person:
            model, user_field = person[kind]
            query = (
                model.select(model.id, User.name)
                .join(User, on=(user_field == User.id))
                .where(model.id.in_(list(wanted)))
            )
            if model is User:
                query = User.select(User.id, User.name).where(User.id.in_(list(wanted)))
        else:
            continue
        names.update({(kind, row_id): name for row_id, name in query.tuples()})
    return names


def _json(value):
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)
