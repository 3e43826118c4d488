"""Zoom webhooks and the live board built from them.

Three blueprints, each gated once:
- ``bp`` (``webhooks``): ``POST /webhooks/zoom``, MAC-authenticated, the only CSRF-exempt view.
- ``board_bp`` (``live``): ``GET /live/`` for center and account administrators.
- ``tutor_bp`` (``tutor_live``): ``GET /tutor/live/`` — the tutor's own waiting-room line.

Effects of a recorded delivery run right after the answer: as the huey task
``process_webhooks`` (``WEBHOOK_PROCESSING="huey"``, the default), or in this
process once the response is sent (``"after_response"``, the default when the
app runs in debug mode, so ``make run`` works without ``make worker``), or only
when a caller runs ``effects.process_pending()`` (``"manual"``).
"""

import logging

from flask import Blueprint

from ..auth.access import ADMIN_ROLES, require_roles

log = logging.getLogger("portal.webhooks")

bp = Blueprint("webhooks", __name__)
board_bp = Blueprint("live", __name__)
board_bp.before_request(require_roles(*ADMIN_ROLES))
tutor_bp = Blueprint("tutor_live", __name__)
tutor_bp.before_request(require_roles("tutor"))

PROCESSING_MODES = ("huey", "after_response", "manual")


def register(app, csrf):
    """Mount the webhook endpoint (CSRF-exempt) and the live board."""
    from . import views  # noqa: F401 - attaches the views to the blueprints

    app.config.setdefault("WEBHOOK_PROCESSING", "after_response" if app.debug else "huey")
    if app.config["WEBHOOK_PROCESSING"] not in PROCESSING_MODES:
        from ..config import ConfigError

        raise ConfigError(f"WEBHOOK_PROCESSING must be one of {', '.join(PROCESSING_MODES)}.")
    app.register_blueprint(bp, url_prefix="/webhooks")
    app.register_blueprint(board_bp, url_prefix="/live")
    app.register_blueprint(tutor_bp, url_prefix="/tutor/live")
    csrf.exempt(views.zoom_webhook)
    app.add_template_global(views.tutor_live_status, "tutor_live_status")
