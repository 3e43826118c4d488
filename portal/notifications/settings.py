"""The e-mail settings of one app, checked when it starts (DESIGN §8).

``MAIL_URL`` empty means: in development and tests, messages go to the outbox page
(``OutboxTransport``); in production they wait in the outbox table until mail is set
up (``portal doctor`` says so). With ``MAIL_URL`` set, ``MAIL_FROM`` and
``PUBLIC_BASE_URL`` are required, and a malformed value stops the start with one line.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import ConfigError
from ..mail import MailConfigError, parse_mail_url, parse_sender

DELIVERY_MODES = ("huey", "after_response", "manual")
DEVELOPMENT_BASE_URL = "http://127.0.0.1:5000"
DEVELOPMENT_SENDER = "Virtual Meetings Portal <portal@localhost.localdomain>"
DEFAULTS = {"REMINDER_MINUTES_BEFORE": 60, "SHIFT_CHECK_MINUTES_BEFORE": 30}


@dataclass(frozen=True)
class MailSettings:
    url: object  # MailURL, or None
    sender: object  # email.headerregistry.Address
    base_url: str  # no trailing slash; "" when unknown (production without it)
    reminder_minutes: int
    shift_minutes: int
    delivery: str
    development: bool

    @property
    def can_send(self):
        """True when a delivery run has somewhere to put messages."""
        return self.url is not None or self.development


def development(app):
    """The rule used everywhere here: debug or testing is development."""
    return bool(app.debug or app.config.get("TESTING"))


def _minutes(config, name):
    value = config.get(name)
    value = DEFAULTS[name] if value in (None, "") else value
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number of minutes.") from None
    if not 1 <= value <= 24 * 60:
        raise ConfigError(f"{name} must be between 1 and 1440 minutes.")
    return value


def _base_url(value, dev):
    value = (value or "").strip().rstrip("/")
    if not value:
        return DEVELOPMENT_BASE_URL if dev else ""
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        raise ConfigError(
            "PUBLIC_BASE_URL must be the portal's address, like https://portal.example.edu."
        )
    return value


def load(app):
    """Read and check the settings; ConfigError names the one that is wrong."""
    config = app.config
    dev = development(app)
    raw_url = (config.get("MAIL_URL") or "").strip()
    try:
        url = parse_mail_url(raw_url) if raw_url else None
        sender_text = (config.get("MAIL_FROM") or "").strip()
        if url is not None and not sender_text:
            raise ConfigError("MAIL_FROM is missing: it is needed when MAIL_URL is set.")
        sender = parse_sender(sender_text or DEVELOPMENT_SENDER)
    except MailConfigError as exc:
        raise ConfigError(str(exc)) from None
    base_url = _base_url(config.get("PUBLIC_BASE_URL"), dev)
    if url is not None and not base_url:
        raise ConfigError(
            "PUBLIC_BASE_URL is missing: e-mails need the portal's address for their links."
        )
    delivery = config.get("MAIL_DELIVERY") or (
        "after_response" if app.debug else ("manual" if config.get("TESTING") else "huey")
    )
    if delivery not in DELIVERY_MODES:
        raise ConfigError(f"MAIL_DELIVERY must be one of {', '.join(DELIVERY_MODES)}.")
    return MailSettings(
        url=url,
        sender=sender,
        base_url=base_url,
        reminder_minutes=_minutes(config, "REMINDER_MINUTES_BEFORE"),
        shift_minutes=_minutes(config, "SHIFT_CHECK_MINUTES_BEFORE"),
        delivery=delivery,
        development=dev,
    )


def mail_settings(app):
    """The app's checked settings (read once at start, by ``register``)."""
    settings = app.extensions.get("mail_settings")
    if settings is None:
        settings = app.extensions["mail_settings"] = load(app)
    return settings
