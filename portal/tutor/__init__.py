"""The tutor's side: Preferences → Virtual Meetings, the Zoom connection, Start, Meetings, Today.

One blueprint, ``tutor``, gated once: pages under /tutor/ and the Zoom OAuth
round trip under /zoom/ (the redirect URI /zoom/callback is a contract).
"""

from . import availability, connect, live
from .views import bp

__all__ = ["availability", "bp", "connect", "live"]
