"""Center settings, the Virtual Meetings switch, user list and Connect Link editing.

Every view loads its center through ``center_or_404`` (scoped to the admin's
centers) and its user through ``member_or_404``: another center's object is a 404.
"""

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from peewee import fn

from .. import accounts, appointments, audit, people
from ..auth.access import ADMIN_ROLES, center_or_404, member_or_404, require_roles, visible_centers
from ..models import ROLE_LABELS, Center, Membership, User
from ..notifications import outbox
from ..rendering import render, wants_partial
from ..validation import ValidationError

bp = Blueprint("admin", __name__)
bp.before_request(require_roles(*ADMIN_ROLES))

ASSIGNABLE_ROLES = people.ASSIGNABLE_ROLES


def _checkbox(name):
    return request.form.get(name) in {"1", "on", "true", "yes"}


@bp.route("/admin/centers")
def centers():
    """The centers this admin manages, with their Virtual Meetings state."""
    tutor_counts = dict(
        Membership.select(Membership.center, fn.COUNT(User.id))
        .join(User)
        .where(User.is_active_tutor())
        .group_by(Membership.center)
        .tuples()
    )
    rows = [(c, tutor_counts.get(c.id, 0)) for c in visible_centers(current_user)]
    return render("admin/centers.html", rows=rows)


@bp.route("/admin/centers/new", methods=["GET", "POST"])
def new_center():
    """Create a center (account administrators only)."""
    if current_user.role != User.ACCOUNT_ADMIN:
        abort(403)
    form = {"name": "", "timezone": "America/New_York"}
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in form}
        try:
            center = accounts.create_center(form["name"], form["timezone"], actor=current_user)
        except ValidationError as exc:
            return render("admin/center_new.html", form=form, error=str(exc), status=400)
        flash(f"Center {center.name} created.", "success")
        return redirect(url_for("admin.center_settings", center_id=center.id), 303)
    return render("admin/center_new.html", form=form)


def _settings_context(center, **extra):
    return {
        "center": center,
        "history": audit.history(center),
        "slot_choices": accounts.SLOT_CHOICES,
        **extra,
    }


@bp.route("/admin/centers/<int:center_id>")
def center_settings(center_id):
    """The settings page: Virtual Meetings switch, waiting room, hours, history."""
    center = center_or_404(center_id)
    return render("admin/center_settings.html", **_settings_context(center))


@bp.route("/admin/centers/<int:center_id>/virtual-meetings", methods=["POST"])
def toggle_virtual_meetings(center_id):
    """Switch Virtual Meetings on or off (htmx toggle or plain form)."""
    center = center_or_404(center_id)
    value = request.form.get("enabled")
    if value not in {"0", "1"}:
        return render(
            "admin/center_settings.html",
            "admin/partials/vm_switch.html",
            status=400,
            **_settings_context(center, switch_error="Choose on or off."),
        )
    if value == "0" and center.virtual_meetings_enabled and request.form.get("confirm") != "1":
        # Switching off strands booked online appointments: say how many, ask first.
        today, ahead, walk_ins = appointments.online_still_ahead(center)
        impact = {"today": today, "ahead": ahead, "walk_ins": walk_ins}
        return render(
            "admin/center_settings.html",
            "admin/partials/vm_switch.html",
            **_settings_context(center, confirm_off=impact),
        )
    changed = accounts.update_center_settings(
        center, current_user, virtual_meetings_enabled=value == "1"
    )
    state = "on" if center.virtual_meetings_enabled else "off"
    if wants_partial():
        response = render(
            "admin/partials/vm_switch.html",
            center=center,
            history=audit.history(center),
            switched=state,
        )
        if changed:
            response.headers["HX-Trigger"] = "settings-changed"
        return response
    flash(f"Virtual Meetings is {state} for {center.name}.", "success")
    return redirect(url_for("admin.center_settings", center_id=center.id), 303)


@bp.route("/admin/centers/<int:center_id>/virtual-meetings")
def center_vm_switch(center_id):
    """The Virtual Meetings switch alone ("Keep it on" puts it back after a confirmation)."""
    center = center_or_404(center_id)
    return render(
        "admin/center_settings.html", "admin/partials/vm_switch.html", **_settings_context(center)
    )


@bp.route("/admin/centers/<int:center_id>/settings", methods=["POST"])
def save_settings(center_id):
    """Save the waiting-room default, Connect Link policy and opening hours."""
    center = center_or_404(center_id)
    changes = {
        "waiting_room_default": _checkbox("waiting_room_default"),
        "allow_connect_links": _checkbox("allow_connect_links"),
        "opens_at": request.form.get("opens_at", ""),
        "closes_at": request.form.get("closes_at", ""),
        "waiting_room_limit_minutes": request.form.get("waiting_room_limit_minutes", ""),
    }
    for key in ("slot_minutes", "timezone"):
        if key in request.form:
            changes[key] = request.form.get(key, "")
    try:
        accounts.update_center_settings(center, current_user, **changes)
    except ValidationError as exc:
        center = Center.get_by_id(center.id)  # show the stored values, unchanged
        return render(
            "admin/center_settings.html",
            "admin/partials/center_settings_form.html",
            status=400,
            **_settings_context(center, form_error=str(exc), form_values=changes),
        )
    if wants_partial():
        response = render(
            "admin/partials/center_settings_form.html", saved=True, **_settings_context(center)
        )
        response.headers["HX-Trigger"] = "settings-changed"
        return response
    flash("Settings saved.", "success")
    return redirect(url_for("admin.center_settings", center_id=center.id), 303)


@bp.route("/admin/centers/<int:center_id>/history")
def center_history(center_id):
    """The audit history list (refreshed by htmx after each change)."""
    center = center_or_404(center_id)
    return render(
        "admin/center_settings.html",
        "admin/partials/audit_history.html",
        **_settings_context(center),
    )


@bp.route("/admin/centers/<int:center_id>/users")
def center_users(center_id):
    """Everyone in the center, with each tutor's Connect Link."""
    center = center_or_404(center_id)
    return render(
        "admin/center_users.html",
        center=center,
        users=center.members(),
        roles=ASSIGNABLE_ROLES[current_user.role],
        form={},
    )


@bp.route("/admin/centers/<int:center_id>/users", methods=["POST"])
def add_user(center_id):
    """Add a user to this center: a new one (first password or invitation), or one who exists.

    An e-mail that already has an account adds that person to this center (within the
    admin's rights); the name and role typed are then not used.
    """
    center = center_or_404(center_id)
    form = {k: request.form.get(k, "") for k in ("email", "name", "role", "password")}
    allowed = ASSIGNABLE_ROLES[current_user.role]
    status = 400
    try:
        existing = people.add_existing(current_user, center, form["email"])
        if existing is not None:
            flash(
                f"{existing.name} ({existing.email}) already had an account: "
                f"added to {center.name} as {ROLE_LABELS[existing.role]}.",
                "success",
            )
            return redirect(url_for("admin.center_users", center_id=center.id), 303)
        if form["role"] not in allowed:
            raise ValidationError(f"Role must be one of: {', '.join(allowed)}.", "role")
        user = accounts.create_user(
            form["email"],
            form["name"],
            form["role"],
            form["password"],
            centers=[center],
            actor=current_user,
            invite=current_app.config,
        )
    except people.NotAllowed as exc:
        form["error"], status = str(exc), 403
    except ValidationError as exc:
        form["error"] = str(exc)
    else:
        if form["password"]:
            flash(
                f"{user.name} added to {center.name}. They can log in with the password you chose.",
                "success",
            )
        else:
            outbox.wake()
            flash(
                f"{user.name} added to {center.name}. An invitation to choose a password "
                f"is on its way to {user.email}.",
                "success",
            )
        return redirect(url_for("admin.center_users", center_id=center.id), 303)
    error = form.pop("error")
    form["password"] = ""
    return render(
        "admin/center_users.html",
        status=status,
        center=center,
        users=center.members(),
        roles=allowed,
        form=form,
        add_error=error,
    )


def _link_context(center, tutor, **extra):
    return {"center": center, "tutor": tutor, **extra}


@bp.route("/admin/centers/<int:center_id>/users/<int:user_id>/connect-link")
def edit_connect_link(center_id, user_id):
    """The Connect Link editor for one tutor (inline with htmx, a page without)."""
    center = center_or_404(center_id)
    tutor = member_or_404(center, user_id)
    if tutor.role != User.TUTOR:
        abort(404)
    partial = "admin/partials/connect_link_form.html"
    if request.args.get("cancel"):
        partial = "admin/partials/connect_link_cell.html"
    return render("admin/connect_link.html", partial, **_link_context(center, tutor))


@bp.route("/admin/centers/<int:center_id>/users/<int:user_id>/connect-link", methods=["POST"])
def save_connect_link(center_id, user_id):
    """Save or clear a tutor's Connect Link (http/https only, length-capped)."""
    center = center_or_404(center_id)
    tutor = member_or_404(center, user_id)
    if tutor.role != User.TUTOR:
        abort(404)
    value = request.form.get("connect_link", "")
    try:
        accounts.set_connect_link(tutor, value, actor=current_user, center=center)
    except ValidationError as exc:
        return render(
            "admin/connect_link.html",
            "admin/partials/connect_link_form.html",
            status=400,
            **_link_context(center, tutor, error=str(exc), value=value[:600]),
        )
    if wants_partial():
        return render(
            "admin/partials/connect_link_cell.html", **_link_context(center, tutor, saved=True)
        )
    flash(f"Connect Link for {tutor.name} saved.", "success")
    return redirect(url_for("admin.center_users", center_id=center.id), 303)
