"""Center administrators' pages: centers, users, Connect Links, health, joins, the live board, mail.

One blueprint, ``admin``, gated once: pages under /admin/ and the live board at /live/.
"""

from . import availability, health, joins, live, mail, users
from .views import bp

__all__ = ["availability", "bp", "health", "joins", "live", "mail", "users"]
