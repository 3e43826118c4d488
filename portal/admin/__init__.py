"""Center administrators' pages: centers, the Virtual Meetings switch, users, Connect Links."""

from flask import Blueprint

from ..auth.access import ADMIN_ROLES, require_roles

bp = Blueprint("admin", __name__)
bp.before_request(require_roles(*ADMIN_ROLES))

from . import health, joins, views  # noqa: E402,F401
