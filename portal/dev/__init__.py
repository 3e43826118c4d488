"""Development only: the outbox of e-mail that would have been sent (``dev``, /dev/outbox).

Registered only when mail is in development mode, never in production.
"""

from .views import bp

__all__ = ["bp"]
