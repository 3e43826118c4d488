"""The student's side: online appointments, virtual walk-ins, and the Join routes.

One blueprint, ``student``, for students only (gated once, so every fragment
inherits the check): pages under /student/ and the Join redirects under /join/
(``/join/appointment/<id>`` and the stable ``/join/<tutor id>`` link of DESIGN §6a).
"""

from . import join_views
from .views import bp

__all__ = ["bp", "join_views"]
