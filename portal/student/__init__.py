"""The student's side: online appointments, virtual walk-ins, and the Join routes.

Two blueprints, both for students only (gated once, so every fragment inherits
the check): ``student`` (pages, mounted at /student) and ``join`` (the Join
redirects, mounted at /join: ``/join/appointment/<id>`` and the stable
``/join/<tutor id>`` link of DESIGN §6a).
"""

from flask import Blueprint

from ..auth.access import require_roles

bp = Blueprint("student", __name__)
bp.before_request(require_roles("student"))

join_bp = Blueprint("join", __name__)
join_bp.before_request(require_roles("student"))


from . import join_views, views  # noqa: E402,F401
