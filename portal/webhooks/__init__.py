"""Zoom webhooks: ``POST /webhooks/zoom``, MAC-authenticated, the only CSRF-exempt view.

The live board and the tutor's live line built from these events are the
``admin`` and ``tutor`` blueprints' pages; the domain logic is ``portal.live``.

Effects of a recorded delivery run right after the answer: as the huey task
``process_webhooks`` (``WEBHOOK_PROCESSING="huey"``, the default), or in this
process once the response is sent (``"after_response"``, the default when the
app runs in debug mode, so ``make run`` works without ``make worker``), or only
when a caller runs ``effects.process_pending()`` (``"manual"``).
"""

from ..config import ConfigError
from .views import PROCESSING_MODES, bp, zoom_webhook


def register(app, csrf):
    """Mount the webhook endpoint, CSRF-exempt, after checking WEBHOOK_PROCESSING."""
    app.config.setdefault("WEBHOOK_PROCESSING", "after_response" if app.debug else "huey")
    if app.config["WEBHOOK_PROCESSING"] not in PROCESSING_MODES:
        raise ConfigError(f"WEBHOOK_PROCESSING must be one of {', '.join(PROCESSING_MODES)}.")
    app.register_blueprint(bp, url_prefix="/webhooks")
    csrf.exempt(zoom_webhook)
