"""One user's page (edit, deactivate, reactivate) and importing users from a CSV file.

Who may do what is ``portal.people``: a user the admin may not see is a 404, one they
see but may not change (an account administrator, for a center admin) a 403 with the
reason, and every refused change leaves the database as it was.
"""

import base64
import binascii
import hashlib
import hmac
import re

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from .. import people, user_import
from ..auth.access import visible_centers
from ..inputs import id_field
from ..models import ROLE_LABELS, Center, User
from ..notifications import outbox
from ..rendering import render
from ..validation import ValidationError
from .views import bp

DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")  # what _digest writes; anything else is refused


def _user_or_404(user_id):
    user = User.get_or_none(User.id == user_id)
    if user is None or not people.visible(current_user, user):
        abort(404)
    return user


def _back_center(user):
    """The center whose Users page the admin came from (``?center=``), if they see it."""
    center_id = id_field(request.values.get("center", ""))
    if center_id is not None:
        center = visible_centers(current_user).where(Center.id == center_id).first()
        if center is not None:
            return center
    mine, _other = people.split_centers(current_user, user)
    return mine[0] if mine else None


def _edit_context(user, form=None, **extra):
    mine, other = people.split_centers(current_user, user)
    roles = people.assignable_roles(current_user)
    if user.role not in roles:
        roles = (user.role, *roles)  # shown as it is; changing to it again is refused
    form = form or {
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "centers": {c.id for c in mine},
    }
    may_manage = True
    try:
        people.check_may_manage(current_user, user)
    except people.NotAllowed:
        may_manage = False
    return {
        "user": user,
        "form": form,
        "roles": roles,
        "choices": people.own_centers(current_user),
        "other_centers": other,
        "back": _back_center(user),
        "may_manage": may_manage,
        "is_self": user.id == current_user.id,
        **extra,
    }


@bp.route("/admin/users/<int:user_id>")
def edit_user(user_id):
    """A user's page: name, e-mail, role and centers, and Deactivate or Reactivate."""
    user = _user_or_404(user_id)
    return render("admin/user_edit.html", **_edit_context(user))


@bp.route("/admin/users/<int:user_id>", methods=["POST"])
def save_user(user_id):
    """Save a user's name, e-mail, role and centers (within the admin's rights)."""
    user = _user_or_404(user_id)
    form = {
        "name": request.form.get("name", ""),
        "email": request.form.get("email", ""),
        "role": request.form.get("role", ""),
        "centers": request.form.getlist("centers"),
    }
    try:
        changed = people.update_user(
            current_user,
            user,
            name=form["name"],
            email=form["email"],
            role=form["role"],
            center_ids=form["centers"],
            config=current_app.config,
        )
    except (people.NotAllowed, ValidationError) as exc:
        status = 403 if isinstance(exc, people.NotAllowed) else 400
        form["centers"] = {id_field(c) for c in form["centers"]}
        user = User.get_by_id(user.id)
        return render(
            "admin/user_edit.html", status=status, **_edit_context(user, form, error=str(exc))
        )
    user = User.get_by_id(user.id)
    if not changed:
        flash(f"Nothing changed for {user.name}.", "success")
    else:
        message = f"Saved {user.name}."
        if "role" in changed or "email" in changed:
            message += " They were logged out and log in again with the new details."
        if "email" in changed:
            message += " Password links sent to the old address no longer work."
        if "invited" in changed:
            outbox.wake()
            message += f" A new invitation to choose a password is on its way to {user.email}."
        flash(message, "success")
    return _to_user(user)


def _to_user(user):
    back = _back_center(user)
    args = {"center": back.id} if back is not None else {}
    return redirect(url_for("admin.edit_user", user_id=user.id, **args), 303)


def _set_active(user_id, active):
    user = _user_or_404(user_id)
    try:
        people.set_active(current_user, user, active)
    except people.NotAllowed as exc:
        return render("admin/user_edit.html", status=403, **_edit_context(user, error=str(exc)))
    if active:
        flash(f"{user.name} is active again and can log in.", "success")
    else:
        flash(f"{user.name} is deactivated and was logged out everywhere.", "success")
    return _to_user(user)


@bp.route("/admin/users/<int:user_id>/deactivate", methods=["POST"])
def deactivate_user(user_id):
    """Deactivate: the user is logged out at once and cannot log in or reset a password."""
    return _set_active(user_id, False)


@bp.route("/admin/users/<int:user_id>/reactivate", methods=["POST"])
def reactivate_user(user_id):
    """Reactivate a deactivated user."""
    return _set_active(user_id, True)


# --- import ---------------------------------------------------------------------------


def _import_page(status=200, **context):
    context.setdefault("max_rows", user_import.MAX_ROWS)
    context.setdefault("max_kb", user_import.MAX_BYTES // 1024)
    context.setdefault("roles", people.assignable_roles(current_user))
    context.setdefault("centers", people.own_centers(current_user))
    return render("admin/users_import.html", status=status, **context)


def _digest(text):
    """Binds the previewed text to this admin (a changed hidden field is noticed)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = f"user-import:{current_user.id}:".encode() + text.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _pack(text):
    """The previewed text for a hidden field (base64: browsers rewrite line breaks)."""
    return base64.b64encode(text.encode()).decode()


def _unpack(value):
    try:
        return base64.b64decode(value.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


@bp.route("/admin/users/import")
def import_users():
    """The upload form for a CSV of users."""
    return _import_page()


@bp.route("/admin/users/import", methods=["POST"])
def preview_import():
    """Check an uploaded CSV and show every row, with what is wrong with each bad one."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(400, error="Choose a CSV file to upload.")
    data = upload.stream.read(user_import.MAX_BYTES + 1)
    try:
        text = user_import.decode(data)
        report = user_import.check(current_user, text)
    except user_import.ImportFileError as exc:
        return _import_page(400, error=str(exc))
    return render(
        "admin/users_import_preview.html",
        status=200 if report.ok else 400,
        report=report,
        text=_pack(text) if report.ok else "",
        digest=_digest(text) if report.ok else "",
        labels=ROLE_LABELS,
    )


@bp.route("/admin/users/import/confirm", methods=["POST"])
def confirm_import():
    """Import the previewed file: checked again here, then every row or none."""
    text = _unpack(request.form.get("text", ""))
    digest = request.form.get("digest", "")
    if not DIGEST_PATTERN.fullmatch(digest) or not hmac.compare_digest(
        digest.encode("ascii"), _digest(text).encode("ascii")
    ):
        return _import_page(
            400,
            error="The file to import changed after its preview, so nothing was imported. "
            "Upload it again.",
        )
    try:
        report, counts = user_import.apply(current_user, text, current_app.config)
    except (user_import.ImportFileError, ValidationError) as exc:
        return _import_page(400, error=str(exc))
    if counts is None:
        return render(
            "admin/users_import_preview.html",
            status=400,
            report=report,
            text="",
            digest="",
            labels=ROLE_LABELS,
            error="The file changed or is no longer valid, so nothing was imported. "
            "Fix the rows below and upload it again.",
        )
    outbox.wake()
    parts = [f"{counts['created']} new user(s) imported; each gets an invitation e-mail."]
    if counts["added"]:
        parts.append(f"{counts['added']} center membership(s) added for existing users.")
    flash(" ".join(parts), "success")
    return redirect(url_for("admin.import_users"), 303)
