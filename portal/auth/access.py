"""Role gates and center scoping: every query a view runs goes through these."""

from functools import wraps

from flask import abort, current_app
from flask_login import current_user

from ..models import Center, Membership, User

ADMIN_ROLES = ("center_admin", "account_admin")


def require_roles(*roles):
    """A before_request hook for a blueprint: log in first, then only these roles."""

    def hook():
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if current_user.role not in roles:
            abort(403)
        return None

    return hook


def roles_required(*roles):
    """Decorate one view with the same gate as require_roles."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            response = require_roles(*roles)()
            if response is not None:
                return response
            return view(*args, **kwargs)

        return wrapped

    return decorator


def visible_centers(user):
    """Centers the user may see: all for an account admin, their own otherwise."""
    return user.centers()


def center_or_404(center_id, user=None):
    """The center if the user may see it; 404 otherwise (never reveal it exists)."""
    user = user or current_user
    query = visible_centers(user).where(Center.id == center_id)
    center = query.first()
    if center is None:
        abort(404)
    return center


def member_or_404(center, user_id):
    """A user who belongs to center, or 404."""
    member = center.members().where(User.id == user_id).first()
    if member is None:
        abort(404)
    return member


def shares_center(user, other):
    """True if user (an admin) may manage other: a common center, or account admin."""
    if user.role == "account_admin":
        return True
    mine = Membership.select(Membership.center).where(Membership.user == user)
    return Membership.select().where(Membership.user == other, Membership.center.in_(mine)).exists()
