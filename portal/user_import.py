"""Import users from a CSV file: check every row first, then all of them or none.

Columns (a header row, any order, more columns ignored): ``email``, ``name``, ``role``,
``centers`` (center names separated by ";"). ``check`` reads the file and gives one
Row per line with its problems; ``apply`` checks the same text again on the server
and, only when every row is good, creates the new users and memberships in one
transaction, each new user with an invitation e-mail. A row whose e-mail already has
an account (same role) adds that user to the centers named.
"""

import csv
import io
from dataclasses import dataclass, field

from . import audit, people
from .auth import password_links
from .db import write_tx
from .models import ROLE_LABELS, ROLES, Center, Membership, PasswordToken, User
from .validation import ValidationError, clean_email, clean_text

MAX_BYTES = 256 * 1024
MAX_ROWS = 500
COLUMNS = ("email", "name", "role", "centers")


def _words(value):
    return " ".join((value or "").strip().lower().replace("_", " ").split())


# "center_admin", "center admin" and "Center administrator" all name one role
_ROLE_WORDS = {
    **{_words(r): r for r in ROLES},
    **{_words(label): r for r, label in ROLE_LABELS.items()},
}


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says what to do."""


@dataclass
class Row:
    line: int
    email: str
    name: str
    role: str
    centers: list = field(default_factory=list)  # Center rows
    center_text: str = ""
    errors: list = field(default_factory=list)
    existing: object = None  # the User when the e-mail already has an account

    @property
    def ok(self):
        return not self.errors

    @property
    def role_label(self):
        return ROLE_LABELS.get(self.role, self.role)


@dataclass
class Report:
    rows: list

    @property
    def ok(self):
        return bool(self.rows) and all(r.ok for r in self.rows)

    @property
    def bad(self):
        return [r for r in self.rows if not r.ok]

    @property
    def new(self):
        return [r for r in self.rows if r.ok and r.existing is None]


def decode(data):
    """The uploaded bytes as text; ImportFileError when too big, empty or not UTF-8."""
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            f"The file is larger than {MAX_BYTES // 1024} KB. Split it into smaller files."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            'The file is not UTF-8 text. Save it as "CSV UTF-8" and upload it again.'
        ) from None
    if not text.strip():
        raise ImportFileError("The file is empty. Choose a CSV file with a header row.")
    return text


def _role(value):
    return _ROLE_WORDS.get(_words(value))


def check(actor, text):
    """A Report with every row of text checked against actor's rights."""
    if len(text.encode()) > MAX_BYTES:
        raise ImportFileError(
            f"The file is larger than {MAX_BYTES // 1024} KB. Split it into smaller files."
        )
    try:
        reader = csv.reader(io.StringIO(text))
        lines = [(reader.line_num, values) for values in reader]
    except csv.Error:
        raise ImportFileError("The file is not a CSV file that can be read.") from None
    lines = [(n, v) for n, v in lines if any(cell.strip() for cell in v)]
    if not lines:
        raise ImportFileError("The file is empty. Choose a CSV file with a header row.")
    header = [h.strip().lower() for h in lines[0][1]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ImportFileError(
            "The first row must name the columns email, name, role, centers; missing: "
            + ", ".join(missing)
            + "."
        )
    body = lines[1:]
    if not body:
        raise ImportFileError("The file has a header row but no people.")
    if len(body) > MAX_ROWS:
        raise ImportFileError(
            f"The file has {len(body)} rows; import at most {MAX_ROWS} at a time."
        )
    index = {c: header.index(c) for c in COLUMNS}
    centers = {c.name.casefold(): c for c in Center.select()}
    mine = {c.id for c in people.own_centers(actor)}
    allowed = people.assignable_roles(actor)
    seen = {}
    rows = []
    for line, values in body:

        def cell(column, values=values):
            i = index[column]
            return values[i] if i < len(values) else ""

        row = Row(line, cell("email").strip(), cell("name").strip(), cell("role").strip())
        row.center_text = cell("centers").strip()
        try:
            row.email = clean_email(row.email)
        except ValidationError as exc:
            row.errors.append(str(exc) if row.email else "The e-mail address is missing.")
        else:
            if row.email in seen:
                row.errors.append(f"This e-mail is also on line {seen[row.email]} of the file.")
            else:
                seen[row.email] = line
        try:
            row.name = clean_text(row.name, "name", "Name")
        except ValidationError as exc:
            row.errors.append(str(exc))
        role = _role(row.role)
        if role is None:
            row.errors.append(
                f"Unknown role {row.role!r}: use student, tutor, center_admin or account_admin."
                if row.role
                else "The role is missing: use student, tutor, center_admin or account_admin."
            )
        else:
            row.role = role
            if role not in allowed:
                row.errors.append(
                    f"You cannot give the role {ROLE_LABELS[role]}; "
                    "you can give: " + ", ".join(f"{ROLE_LABELS[r]} ({r})" for r in allowed) + "."
                )
        for name in [n.strip() for n in row.center_text.split(";") if n.strip()]:
            center = centers.get(name.casefold())
            if center is None:
                row.errors.append(f"No center is named {name!r}.")
            elif center.id not in mine:
                row.errors.append(f"{center.name} is not one of your centers.")
            elif center not in row.centers:
                row.centers.append(center)
        if role and role != User.ACCOUNT_ADMIN and not row.center_text:
            row.errors.append('Name at least one center (separate several with ";").')
        if role == User.ACCOUNT_ADMIN and row.center_text:
            row.errors.append("Account administrators see every center: leave centers empty.")
        if not row.errors:
            existing = User.by_email(row.email)
            if existing is not None:
                if existing.role != row.role:
                    row.errors.append(
                        f"{existing.email} already has an account as "
                        f"{ROLE_LABELS[existing.role]}; change the role on their page."
                    )
                elif actor.role != User.ACCOUNT_ADMIN and existing.role == User.ACCOUNT_ADMIN:
                    row.errors.append("Only an account administrator can change this user.")
                elif existing.role == User.CENTER_ADMIN and not people.manages_all_centers(
                    actor, existing
                ):
                    row.errors.append(
                        f"{existing.email} is a center administrator of another center, so you "
                        "cannot add them to yours. An account administrator can do it."
                    )
                else:
                    row.existing = existing
        rows.append(row)
    return Report(rows)


def apply(actor, text, config):
    """Check text again and import every row in one transaction; (Report, counts).

    Nothing is written unless every row is good. New users get an invitation e-mail
    (queued in the same transaction; wake the outbox after).
    """
    report = check(actor, text)
    if not report.ok:
        return report, None
    counts = {"created": 0, "added": 0}
    with write_tx():
        for row in report.rows:
            if row.existing is not None:
                have = {
                    m.center_id
                    for m in Membership.select().where(Membership.user == row.existing.id)
                }
                for center in row.centers:
                    if center.id not in have:
                        Membership.create(user=row.existing.id, center=center.id)
                        counts["added"] += 1
                continue
            if User.select().where(User.email == row.email).exists():
                raise ValidationError(
                    f"{row.email} got an account while you were importing. Upload the file again.",
                    "file",
                )
            user = User.create(
                email=row.email,
                name=row.name,
                role=row.role,
                password_hash=password_links.UNUSABLE_PASSWORD,
            )
            for center in row.centers:
                Membership.create(user=user, center=center)
            password_links.issue(
                config,
                user,
                PasswordToken.INVITE,
                actor=actor,
                center=row.centers[0] if row.centers else None,
            )
            counts["created"] += 1
        audit.record(
            actor,
            "user.import",
            center=report.rows[0].centers[0] if report.rows[0].centers else None,
            after={
                "created": counts["created"],
                "added": counts["added"],
                "emails": [r.email for r in report.rows][:50],
            },
        )
    return report, counts
