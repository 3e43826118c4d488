"""The student's side: online appointments, virtual walk-ins, and the Join routes.

Two blueprints, both for students only (gated once, so every fragment inherits
the check): ``student`` (pages, mounted at /student) and ``join`` (the Join
redirects, mounted at /join: ``/join/appointment/<id>`` and the stable
``/join/<tutor id>`` link of DESIGN §6a).
"""

from flask import Blueprint, request

from ..auth.access import require_roles

bp = Blueprint("student", __name__)
bp.before_request(require_roles("student"))

join_bp = Blueprint("join", __name__)
students_only = require_roles("student")
# The Join hot path checks "an active student, this session's version" inside its own
# one query instead of a separate user lookup, and calls students_only itself when
# that query finds nothing. Every other endpoint here goes through the gate.
CHECKS_ITS_OWN_STUDENT = {"join.appointment"}


@join_bp.before_request
def _gate():
    if request.endpoint in CHECKS_ITS_OWN_STUDENT:
        return None
    return students_only()


from . import join_views, views  # noqa: E402,F401
