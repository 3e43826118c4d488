"""The Zoom client's settings: one frozen value passed explicitly to every call.

Nothing in ``portal.zoom`` reads ``current_app``; the view or job builds a
``ZoomSettings`` once (``ZoomSettings.from_config(app.config)``) and hands it in.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import ZoomConfigError

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def is_zoom_host(host):
    """True for zoom.us and its subdomains (the real Zoom's hosts)."""
    host = (host or "").lower()
    return host == "zoom.us" or host.endswith(".zoom.us")


def _split_keys(value):
    if value is None:
        return ()
    if isinstance(value, str | bytes):
        value = value.decode() if isinstance(value, bytes) else value
        value = value.split(",")
    keys = []
    for key in value:
        key = key.decode() if isinstance(key, bytes) else str(key)
        key = key.strip()
        if key:
            keys.append(key)
    return tuple(keys)


@dataclass(frozen=True)
class ZoomSettings:
    """Credentials, endpoints and timeouts of the Zoom OAuth app (secrets stay out of repr)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    oauth_base_url: str
    api_base_url: str
    encryption_keys: tuple = field(repr=False)
    timeout: tuple = (3.05, 10)

    def __post_init__(self):
        object.__setattr__(self, "oauth_base_url", (self.oauth_base_url or "").rstrip("/"))
        object.__setattr__(self, "api_base_url", (self.api_base_url or "").rstrip("/"))
        object.__setattr__(self, "encryption_keys", _split_keys(self.encryption_keys))
        object.__setattr__(self, "timeout", tuple(self.timeout))

    @classmethod
    def from_config(cls, config):
        """Build settings from a Flask config (or any mapping) using the ZOOM_* names."""
        return cls(
            client_id=config.get("ZOOM_CLIENT_ID") or "",
            client_secret=config.get("ZOOM_CLIENT_SECRET") or "",
            redirect_uri=config.get("ZOOM_REDIRECT_URI") or "",
            oauth_base_url=config.get("ZOOM_OAUTH_BASE_URL") or "https://zoom.us",
            api_base_url=config.get("ZOOM_API_BASE_URL") or "https://api.zoom.us/v2",
            encryption_keys=config.get("TOKEN_ENCRYPTION_KEYS") or "",
        )

    @property
    def authorize_url(self):
        return self.oauth_base_url + "/oauth/authorize"

    @property
    def token_url(self):
        return self.oauth_base_url + "/oauth/token"

    @property
    def revoke_url(self):
        return self.oauth_base_url + "/oauth/revoke"

    @property
    def oauth_is_loopback_http(self):
        """True only for a plain-http OAuth server on this machine (the simulator)."""
        parts = urlsplit(self.oauth_base_url)
        return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS

    def require_client(self):
        """Raise ZoomConfigError naming the first missing OAuth setting."""
        for name, value in (
            ("ZOOM_CLIENT_ID", self.client_id),
            ("ZOOM_CLIENT_SECRET", self.client_secret),
            ("ZOOM_REDIRECT_URI", self.redirect_uri),
            ("ZOOM_OAUTH_BASE_URL", self.oauth_base_url),
        ):
            if not value:
                raise ZoomConfigError(f"{name} is not set.")
        scheme = urlsplit(self.oauth_base_url).scheme
        if scheme != "https" and not self.oauth_is_loopback_http:
            raise ZoomConfigError(
                "ZOOM_OAUTH_BASE_URL must use https (plain http only on loopback)."
            )
