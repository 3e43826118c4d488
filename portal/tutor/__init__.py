"""The tutor's side: Preferences → Virtual Meetings."""

from flask import Blueprint

from ..auth.access import require_roles

bp = Blueprint("tutor", __name__)
bp.before_request(require_roles("tutor"))

from . import views  # noqa: E402,F401
