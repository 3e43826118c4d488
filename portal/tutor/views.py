"""Preferences and the Virtual Meetings panel."""

from flask import request
from flask_login import current_user

from ..models import Center, Membership
from ..rendering import render
from . import bp

CHOICES = {"": None, "connect": "Connect to Zoom Account"}


def vm_centers(tutor):
    """The tutor's centers that have Virtual Meetings switched on."""
    return (
        Center.select()
        .join(Membership)
        .where(Membership.user == tutor, Center.virtual_meetings_enabled == True)  # noqa: E712
        .order_by(Center.name)
    )


def panel_context(tutor, choice=""):
    """What the Virtual Meetings panel needs to render."""
    centers = list(vm_centers(tutor))
    return {
        "vm_centers": centers,
        "vm_enabled": bool(centers),
        "choice": choice if choice in CHOICES else "",
    }


@bp.route("/preferences")
def preferences():
    """Preferences, with Virtual Meetings only where an administrator enabled it."""
    choice = request.args.get("choice", "")
    return render("tutor/preferences.html", **panel_context(current_user, choice))


@bp.route("/virtual-meetings")
def vm_panel():
    """The Virtual Meetings panel alone (htmx swaps it when Select meeting changes)."""
    choice = request.args.get("choice", "")
    return render(
        "tutor/preferences.html", "partials/vm_panel.html", **panel_context(current_user, choice)
    )
